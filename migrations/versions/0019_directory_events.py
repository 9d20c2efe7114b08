"""Open panels follow the admin's setup: a ``directory.changed`` event when a picker's list changes.

The panel loads its pickers (inboxes, operators, teams, labels) and the canned responses
once, at start. An admin who adds a label, renames an inbox, changes a pre-chat form, a
team or an operator's role now reaches every open panel at once: a row trigger on each of
those tables emits ``directory.changed`` (payload ``{"what": <table>}``, no other data) and
the panel fetches the list again.

One event per table and transaction, however many rows change (a transaction-local setting
remembers it), and only when a column the panel shows changed: the routing's own updates
(``inboxes.rr_last_user_id``, ``users.availability`` / ``last_seen_at``) emit nothing.
Operators receive it whatever their inboxes (like ``presence.updated``); visitors and
webhooks never.

Revision ID: 0019
Revises: 0018
"""
from alembic import op
from replaceable import ReplaceableObject

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

DIRECTORY_EVENT = ReplaceableObject("messenger_directory_event()", """
RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    seen text := 'messenger.directory_' || TG_TABLE_NAME;
BEGIN
    IF coalesce(current_setting(seen, true), '') <> '1' THEN
        PERFORM set_config(seen, '1', true);  -- until the end of this transaction
        PERFORM messenger_emit('directory.changed', NULL, NULL, NULL, NULL, true,
            jsonb_build_object('what', TG_TABLE_NAME));
    END IF;
    RETURN NULL;
END $$""")

# table: the columns the panel shows (an update of another column emits nothing)
SHOWN = {
    "labels": ("name", "color"),
    "teams": ("name",),
    "team_members": (),
    "inboxes": ("name", "color", "prechat_fields"),
    "inbox_members": (),
    "users": ("name", "email", "role", "active"),
    "canned_responses": ("short_code", "content"),
}
_FUNCTION = "FOR EACH ROW EXECUTE FUNCTION messenger_directory_event()"


def upgrade() -> None:
    op.create_function(DIRECTORY_EVENT)
    for table, columns in SHOWN.items():
        op.execute(f"CREATE TRIGGER {table}_directory AFTER INSERT OR DELETE ON {table} {_FUNCTION}")
        if columns:
            old = ", ".join(f"OLD.{c}" for c in columns)
            new = ", ".join(f"NEW.{c}" for c in columns)
            op.execute(f"CREATE TRIGGER {table}_directory_update AFTER UPDATE OF {', '.join(columns)} ON {table} "
                       f"FOR EACH ROW WHEN (ROW({old}) IS DISTINCT FROM ROW({new})) "
                       "EXECUTE FUNCTION messenger_directory_event()")


def downgrade() -> None:
    for table in SHOWN:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_directory ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_directory_update ON {table}")
    op.drop_function(DIRECTORY_EVENT)
