"""Integrations: webhook cursors, retries and attempt log; token prefixes; e-mail replies; contact.created.

- ``webhooks.cursor`` is the event-log position up to which a webhook's deliveries were
  created (the pump reads ``events.id > cursor``), so nothing is sent for a rolled-back
  change and nothing is lost while Redis is down: the deliveries wait in PostgreSQL.
- ``webhook_attempts`` logs every HTTP attempt of a delivery.
- ``emailed_messages`` remembers which operator replies went out by e-mail.
- ``contact.created`` events (private, no inbox: only integrations read them).

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op
from replaceable import functions_in

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

CONTACT_CREATED = """
CREATE FUNCTION messenger_contact_created_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (kind, inbox_id, conversation_id, contact_id, user_id, private, payload)
    VALUES ('contact.created', NULL, NULL, NEW.id, NULL, true,
        jsonb_build_object('id', NEW.id, 'name', NEW.name, 'email', NEW.email, 'phone', NEW.phone,
            'identifier', NEW.identifier, 'custom_attributes', NEW.custom_attributes,
            'created_at', NEW.created_at));
    PERFORM pg_notify('messenger', '');
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER contacts_created_events AFTER INSERT ON contacts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION messenger_contact_created_event();
"""


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as b:
        b.add_column(sa.Column("name", sa.String(length=120), server_default="", nullable=False))
        b.add_column(sa.Column("include_private", sa.Boolean(), server_default=sa.text("false"), nullable=False))
        b.add_column(sa.Column("cursor", sa.BigInteger(), server_default=sa.text("0"), nullable=False))
        b.add_column(sa.Column("created_by_id", sa.Integer(), nullable=True))
        b.add_column(sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
        b.add_column(sa.Column("secret_rotated_at", sa.DateTime(timezone=True), nullable=True))
        b.create_foreign_key(op.f("fk_webhooks_created_by_id_users"), "users", ["created_by_id"], ["id"],
                             ondelete="SET NULL")
        b.create_check_constraint(op.f("ck_webhooks_url_scheme"), "url ~ '^https?://'")

    with op.batch_alter_table("webhook_deliveries") as b:
        b.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        b.add_column(sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True))
        b.add_column(sa.Column("duration_ms", sa.Integer(), nullable=True))
        b.add_column(sa.Column("response_body", sa.String(length=2048), nullable=True))
        b.create_index("ix_webhook_deliveries_due", ["next_attempt_at"], unique=False,
                       postgresql_where=sa.text("status = 'pending'"))

    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("delivery_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("response_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=512), nullable=True),
        sa.Column("response_body", sa.String(length=2048), nullable=True),
        sa.ForeignKeyConstraint(["delivery_id"], ["webhook_deliveries.id"],
                                name=op.f("fk_webhook_attempts_delivery_id_webhook_deliveries"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    op.create_index("ix_webhook_attempts_delivery", "webhook_attempts", ["delivery_id", "id"], unique=False)

    with op.batch_alter_table("api_tokens") as b:
        b.add_column(sa.Column("prefix", sa.String(length=16), server_default="", nullable=False))
        b.create_index("ix_api_tokens_user", ["user_id"], unique=False)

    with op.batch_alter_table("inboxes") as b:
        b.add_column(sa.Column("email_replies", sa.Boolean(), server_default=sa.text("true"), nullable=False))
        b.add_column(sa.Column("email_offline_minutes", sa.Integer(), server_default=sa.text("5"), nullable=False))
        b.create_check_constraint(op.f("ck_inboxes_email_offline_minutes"),
                                  "email_offline_minutes BETWEEN 0 AND 10080")

    op.create_table(
        "emailed_messages",
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"],
                                name=op.f("fk_emailed_messages_message_id_messages"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name=op.f("fk_emailed_messages_conversation_id_conversations"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_emailed_messages")),
    )
    op.create_index("ix_emailed_messages_conversation", "emailed_messages", ["conversation_id"], unique=False)
    op.execute(CONTACT_CREATED)


def downgrade() -> None:
    op.execute("DROP TRIGGER contacts_created_events ON contacts; DROP FUNCTION messenger_contact_created_event();")
    op.drop_index("ix_emailed_messages_conversation", table_name="emailed_messages")
    op.drop_table("emailed_messages")
    with op.batch_alter_table("inboxes") as b:
        b.drop_constraint(op.f("ck_inboxes_email_offline_minutes"), type_="check")
        b.drop_column("email_offline_minutes")
        b.drop_column("email_replies")
    with op.batch_alter_table("api_tokens") as b:
        b.drop_index("ix_api_tokens_user")
        b.drop_column("prefix")
    op.drop_index("ix_webhook_attempts_delivery", table_name="webhook_attempts")
    op.drop_table("webhook_attempts")
    with op.batch_alter_table("webhook_deliveries") as b:
        b.drop_index("ix_webhook_deliveries_due", postgresql_where=sa.text("status = 'pending'"))
        for column in ("response_body", "duration_ms", "last_attempt_at", "next_attempt_at"):
            b.drop_column(column)
    with op.batch_alter_table("webhooks") as b:
        b.drop_constraint(op.f("ck_webhooks_url_scheme"), type_="check")
        b.drop_constraint(op.f("fk_webhooks_created_by_id_users"), type_="foreignkey")
        for column in ("secret_rotated_at", "disabled_at", "created_by_id", "cursor", "include_private", "name"):
            b.drop_column(column)


# The trigger function as a replaceable object (migrations/replaceable.py).
CONTACT_CREATED_EVENT = functions_in(CONTACT_CREATED)["messenger_contact_created_event"]
