"""Reports: counts per UTC hour × inbox × assignee × team kept by triggers, so a report's cost no
longer grows with the number of messages; covering indexes for the response and resolution times.

``report_counts`` holds one row per (hour, inbox, assignee, team): visitor (``incoming``)
and operator (``outgoing``) messages sent, conversations ``opened`` (created) and
``resolved`` (by their ``resolved_at``) in that hour, each split by quarter hour (minute
0–14, 15–29, 30–44, 45–59) so that a report in a zone whose offset is not a whole hour
(India +5:30, Nepal +5:45) still starts its days at local midnight. Notes, activity lines
and deleted messages are not counted. Everything is attributed to the conversation's
*current* inbox, assignee and team, like every other figure of the reports page.

Triggers write the change, in the transaction that makes it, as rows appended to
``report_count_deltas`` (signed counts, same columns):

- ``messages`` insert / delete (statement level: one grouped insert per statement), and an
  update that changes what counts (type, time, deletion, conversation);
- ``conversations`` insert, delete (before the cascade removes the messages) and an
  update of inbox, assignee, team, ``created_at`` or ``resolved_at``: the old contribution
  is subtracted and the new one added; on a key change the conversation's messages move.

Appending never waits for another writer: counters updated in place would make every
send of an inbox's hour queue on one row (and deadlock with the inbox row locks of
assignment). A report reads ``report_counts`` plus the deltas, so it is exact at any
moment; ``messenger_report_counts_compact()`` (the worker's integration loop, every
minute) folds the deltas into ``report_counts``. The message triggers hold the counted
messages' conversations ``FOR SHARE`` so a concurrent reassignment cannot slip between
reading a key and counting. ``report_counts_recount`` is the same figures computed from
scratch; ``messenger_report_counts_rebuild()`` replaces both tables with it (the backfill
below, ``flask messenger report-counts --rebuild``, and the bench seed, which writes with
triggers off).

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op
from replaceable import ReplaceableObject

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

KEY = ("hour", "inbox_id", "assignee_id", "team_id")
KINDS = ("incoming", "outgoing", "opened", "resolved")
COUNTS = tuple(f"{kind}_{minute:02d}" for kind in KINDS for minute in (0, 15, 30, 45))
IN_KINDS = ", ".join(f"'{kind}'" for kind in KINDS)


def _grouped(source: str) -> str:
    """Rows of ``source`` (at, kind, deleted_at, inbox_id, assignee_id, team_id, sign) summed per key."""
    sums = ", ".join(
        f"coalesce(sum(s.sign) FILTER (WHERE s.kind = '{col[:-3]}' AND s.quarter = {int(col[-2:]) // 15}), 0)::int"
        f" AS {col}" for col in COUNTS)
    return f"""SELECT date_trunc('hour', s.at, 'UTC') AS hour, s.inbox_id, s.assignee_id, s.team_id, {sums}
        FROM (SELECT r.*, extract(minute FROM r.at AT TIME ZONE 'UTC')::int / 15 AS quarter
              FROM ({source}) r(at, kind, deleted_at, inbox_id, assignee_id, team_id, sign)
              WHERE r.at IS NOT NULL AND r.kind IN ({IN_KINDS}) AND r.deleted_at IS NULL) s
        GROUP BY 1, 2, 3, 4"""


def _add(source: str) -> str:
    """Append the grouped rows of ``source`` to ``report_count_deltas`` (all-zero groups skipped)."""
    nonzero = " OR ".join(f"g.{col} <> 0" for col in COUNTS)
    return f"""INSERT INTO report_count_deltas ({", ".join(KEY + COUNTS)})
        SELECT * FROM ({_grouped(source)}) g WHERE {nonzero}"""


def _messages(rows: str, sign: str) -> str:
    """Messages of ``rows`` (aliased ``m``) with their conversation's key (a deleted conversation's drop out)."""
    return f"""SELECT m.created_at, m.type, m.deleted_at, c.inbox_id, c.assignee_id, c.team_id, {sign}
               FROM {rows} JOIN conversations c ON c.id = m.conversation_id"""


def _conversations(rows: str, sign: str) -> str:
    """What conversations ``rows`` (aliased ``c``) count for themselves: opened, and resolved if they are."""
    return f"""SELECT c.created_at, 'opened', NULL::timestamptz, c.inbox_id, c.assignee_id, c.team_id, {sign}
               FROM {rows}
               UNION ALL
               SELECT c.resolved_at, 'resolved', NULL::timestamptz, c.inbox_id, c.assignee_id, c.team_id, {sign}
               FROM {rows}"""


def _record(name: str) -> str:
    """``OLD`` or ``NEW`` of a conversations row trigger as a one-row table ``c``."""
    return (f"(VALUES ({name}.created_at, {name}.resolved_at, {name}.inbox_id, {name}.assignee_id, {name}.team_id))"
            " AS c(created_at, resolved_at, inbox_id, assignee_id, team_id)")


def _own_messages(keys: str) -> str:
    """The messages of the conversation a row trigger fires for, once per key in ``keys``
    (``VALUES`` rows of inbox_id, assignee_id, team_id, sign)."""
    return f"""SELECT m.created_at, m.type, m.deleted_at, k.inbox_id, k.assignee_id, k.team_id, k.sign
               FROM messages m CROSS JOIN (VALUES {keys}) AS k(inbox_id, assignee_id, team_id, sign)
               WHERE m.conversation_id = OLD.id"""


def _lock(rows: str) -> str:
    """Hold the conversations of the counted rows: their key cannot change before this transaction ends.
    (The message service already holds them ``FOR UPDATE``, so this takes no new lock there.)"""
    return f"""PERFORM 1 FROM conversations WHERE id IN (
        SELECT conversation_id FROM {rows} WHERE type IN ('incoming', 'outgoing') AND deleted_at IS NULL)
        ORDER BY id FOR SHARE"""


def _function(name: str, body: str, result: str = "NULL") -> ReplaceableObject:
    return ReplaceableObject(f"{name}()", f"""
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {body};
    RETURN {result};
END $$""")


RECOUNT = ("CREATE VIEW report_counts_recount AS "
           + _grouped(f"{_messages('messages m', '1')} UNION ALL {_conversations('conversations c', '1')}"))

LOCK_KEY = 72_730  # pg_advisory_xact_lock key: one compaction or rebuild at a time

def _compact(columns: str, select: str, group: str) -> ReplaceableObject:
    """The compaction function (also the shape migration 0016 extends with a level column)."""
    return ReplaceableObject("messenger_report_counts_compact()", f"""
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock({LOCK_KEY}) THEN
        RETURN 0;  -- another worker is at it
    END IF;
    -- Deletes only committed deltas; the ones written meanwhile wait for the next round.
    WITH moved AS (DELETE FROM report_count_deltas RETURNING *)
    INSERT INTO report_counts AS t ({columns})
    SELECT {select} FROM moved
    GROUP BY {group} ORDER BY {group}
    ON CONFLICT ON CONSTRAINT uq_report_counts_key DO UPDATE SET
        {", ".join(f"{col} = t.{col} + excluded.{col}" for col in COUNTS)};
    GET DIAGNOSTICS folded = ROW_COUNT;
    RETURN folded;
END $$""")


def _rebuild(columns: str) -> ReplaceableObject:
    return ReplaceableObject("messenger_report_counts_rebuild()", f"""
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    written bigint;
BEGIN
    PERFORM pg_advisory_xact_lock({LOCK_KEY});
    -- Writers wait (their triggers append deltas), so nothing is counted twice or missed.
    LOCK TABLE report_count_deltas IN EXCLUSIVE MODE;
    DELETE FROM report_count_deltas;
    DELETE FROM report_counts;
    INSERT INTO report_counts ({columns}) SELECT * FROM report_counts_recount;
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END $$""")


SUMS = ", ".join(f"sum({col})" for col in COUNTS)
COMPACT = _compact(", ".join(KEY + COUNTS), f"{', '.join(KEY)}, {SUMS}", "1, 2, 3, 4")
REBUILD = _rebuild(", ".join(KEY + COUNTS))

MESSAGES_INSERTED = _function("messenger_report_counts_messages_inserted",
                              f"{_lock('new_rows')};\n    {_add(_messages('new_rows m', '1'))}")
MESSAGES_DELETED = _function("messenger_report_counts_messages_deleted",
                             f"{_lock('old_rows')};\n    {_add(_messages('old_rows m', '-1'))}")
MESSAGE_UPDATED = _function("messenger_report_counts_message_updated", f"""
    PERFORM 1 FROM conversations WHERE id IN (OLD.conversation_id, NEW.conversation_id) ORDER BY id FOR SHARE;
    {_add(_messages('''(VALUES (OLD.conversation_id, OLD.created_at, OLD.type, OLD.deleted_at, -1),
                               (NEW.conversation_id, NEW.created_at, NEW.type, NEW.deleted_at, 1))
                       AS m(conversation_id, created_at, type, deleted_at, sign)''', 'm.sign'))}""")
CONVERSATIONS_INSERTED = _function("messenger_report_counts_conversations_inserted",
                                   _add(_conversations("new_rows c", "1")))
CONVERSATION_UPDATED = _function("messenger_report_counts_conversation_updated", _add(
    f"""{_conversations(_record('OLD'), '-1')} UNION ALL {_conversations(_record('NEW'), '1')}
        UNION ALL {_own_messages("(OLD.inbox_id, OLD.assignee_id, OLD.team_id, -1), "
                                 "(NEW.inbox_id, NEW.assignee_id, NEW.team_id, 1)")}
                  AND (OLD.inbox_id, OLD.assignee_id, OLD.team_id)
                      IS DISTINCT FROM (NEW.inbox_id, NEW.assignee_id, NEW.team_id)"""))
# Before the cascade removes the messages; their own delete trigger then finds no conversation.
CONVERSATION_DELETING = _function("messenger_report_counts_conversation_deleting", _add(
    f"{_conversations(_record('OLD'), '-1')} UNION ALL "
    f"{_own_messages('(OLD.inbox_id, OLD.assignee_id, OLD.team_id, -1)')}"), result="OLD")

FUNCTIONS = (COMPACT, REBUILD, MESSAGES_INSERTED, MESSAGES_DELETED, MESSAGE_UPDATED, CONVERSATIONS_INSERTED,
             CONVERSATION_UPDATED, CONVERSATION_DELETING)

TRIGGERS = {
    ("report_counts_inserted", "messages"): """AFTER INSERT ON messages REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION messenger_report_counts_messages_inserted()""",
    ("report_counts_deleted", "messages"): """AFTER DELETE ON messages REFERENCING OLD TABLE AS old_rows
        FOR EACH STATEMENT EXECUTE FUNCTION messenger_report_counts_messages_deleted()""",
    ("report_counts_updated", "messages"): """AFTER UPDATE OF type, created_at, deleted_at, conversation_id
        ON messages FOR EACH ROW
        WHEN (OLD.type IS DISTINCT FROM NEW.type OR OLD.created_at IS DISTINCT FROM NEW.created_at
              OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL) OR OLD.conversation_id <> NEW.conversation_id)
        EXECUTE FUNCTION messenger_report_counts_message_updated()""",
    ("report_counts_inserted", "conversations"): """AFTER INSERT ON conversations REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION messenger_report_counts_conversations_inserted()""",
    ("report_counts_updated", "conversations"): """AFTER UPDATE OF inbox_id, assignee_id, team_id, created_at,
        resolved_at ON conversations FOR EACH ROW
        WHEN (OLD.inbox_id <> NEW.inbox_id OR OLD.assignee_id IS DISTINCT FROM NEW.assignee_id
              OR OLD.team_id IS DISTINCT FROM NEW.team_id OR OLD.created_at IS DISTINCT FROM NEW.created_at
              OR OLD.resolved_at IS DISTINCT FROM NEW.resolved_at)
        EXECUTE FUNCTION messenger_report_counts_conversation_updated()""",
    ("report_counts_deleting", "conversations"): """BEFORE DELETE ON conversations
        FOR EACH ROW EXECUTE FUNCTION messenger_report_counts_conversation_deleting()""",
}


def _columns() -> list[sa.Column]:
    return [sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
            sa.Column("inbox_id", sa.Integer(), nullable=False),
            sa.Column("assignee_id", sa.Integer(), nullable=True),
            sa.Column("team_id", sa.Integer(), nullable=True),
            *[sa.Column(col, sa.Integer(), server_default=sa.text("0"), nullable=False) for col in COUNTS]]


def upgrade() -> None:
    op.create_table("report_counts", *_columns(),
                    sa.UniqueConstraint(*KEY, name="uq_report_counts_key", postgresql_nulls_not_distinct=True))
    op.create_table("report_count_deltas", *_columns())
    op.execute(RECOUNT)
    for function in FUNCTIONS:
        op.create_function(function)
    for (name, _table), definition in TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {definition}")
    op.execute("SELECT messenger_report_counts_rebuild()")
    # Response and resolution times read these alone (index-only scans), not the wide rows.
    op.create_index("ix_conversations_report_created", "conversations", ["created_at"],
                    postgresql_include=["inbox_id", "assignee_id", "team_id", "first_visitor_message_at",
                                        "first_response_at"])
    op.drop_index("ix_conversations_resolved", "conversations")
    op.create_index("ix_conversations_resolved", "conversations", ["resolved_at"],
                    postgresql_include=["created_at", "inbox_id", "assignee_id", "team_id"],
                    postgresql_where="resolved_at IS NOT NULL")


def downgrade() -> None:
    op.drop_index("ix_conversations_resolved", "conversations")
    op.create_index("ix_conversations_resolved", "conversations", ["resolved_at"],
                    postgresql_where="resolved_at IS NOT NULL")
    op.drop_index("ix_conversations_report_created", "conversations")
    for name, table in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}")
    for function in reversed(FUNCTIONS):
        op.drop_function(function)
    op.execute("DROP VIEW report_counts_recount")
    op.drop_table("report_count_deltas")
    op.drop_table("report_counts")
