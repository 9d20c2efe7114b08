"""Search in the inbox's language: each message keeps its inbox and the inbox's locale, and its tsvector is
built with the ``english`` or ``russian`` configuration (stemming), instead of ``simple``.

A BEFORE INSERT trigger copies ``inbox_id`` and ``locale`` from the conversation's inbox; should
a conversation move to another inbox, its messages' ``inbox_id`` follows. The search column is dropped and added again, so PostgreSQL
rewrites the table once; how long that took on the 1,000,000-message bench dataset is in
docs/deploy.md.

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op
from replaceable import ReplaceableObject
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# 'en' stems with english; 'ru' and an unset locale with russian, which stems Cyrillic words with the
# Russian stemmer and ASCII words with the English one (a mixed audience is the likely case).
SEARCH_VECTOR = ("to_tsvector(CASE WHEN locale = 'en' THEN 'english'::regconfig ELSE 'russian'::regconfig END, "
                 "coalesce(content, ''))")

MESSAGE_INBOX = ReplaceableObject("messenger_message_inbox()", """
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT c.inbox_id, i.locale INTO NEW.inbox_id, NEW.locale
    FROM conversations c JOIN inboxes i ON i.id = c.inbox_id WHERE c.id = NEW.conversation_id;
    RETURN NEW;
END $$""")

# Who may see a message follows its conversation's inbox, should a conversation ever move.
CONVERSATION_MOVED = ReplaceableObject("messenger_conversation_moved()", """
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE messages SET inbox_id = NEW.inbox_id WHERE conversation_id = NEW.id;
    RETURN NULL;
END $$""")


def upgrade():
    op.add_column("messages", sa.Column("inbox_id", sa.Integer(), nullable=True))
    op.add_column("messages", sa.Column("locale", sa.String(length=8), nullable=True))
    # The backfill is not news: the event-log triggers stay quiet (ALTER TABLE holds the table's lock until
    # the commit, so no other write can slip past them meanwhile).
    op.execute("ALTER TABLE messages DISABLE TRIGGER USER")
    op.execute("""
        UPDATE messages m SET inbox_id = c.inbox_id, locale = i.locale
        FROM conversations c JOIN inboxes i ON i.id = c.inbox_id WHERE c.id = m.conversation_id""")
    op.execute("ALTER TABLE messages ENABLE TRIGGER USER")
    op.alter_column("messages", "inbox_id", nullable=False)
    op.drop_index("ix_messages_search", table_name="messages", postgresql_using="gin")
    op.drop_column("messages", "search")
    # Adding a stored generated column rewrites the table: only live rows, so the UPDATE leaves no bloat.
    op.add_column("messages", sa.Column("search", postgresql.TSVECTOR(),
                                        sa.Computed(SEARCH_VECTOR, persisted=True), nullable=False))
    op.create_index("ix_messages_search", "messages", ["search"], postgresql_using="gin")
    op.create_function(MESSAGE_INBOX)
    op.execute("CREATE TRIGGER messages_inbox BEFORE INSERT ON messages "
               "FOR EACH ROW EXECUTE FUNCTION messenger_message_inbox()")
    op.create_function(CONVERSATION_MOVED)
    op.execute("CREATE TRIGGER conversations_moved AFTER UPDATE OF inbox_id ON conversations FOR EACH ROW "
               "WHEN (OLD.inbox_id IS DISTINCT FROM NEW.inbox_id) EXECUTE FUNCTION messenger_conversation_moved()")


def downgrade():
    op.execute("DROP TRIGGER conversations_moved ON conversations")
    op.drop_function(CONVERSATION_MOVED)
    op.execute("DROP TRIGGER messages_inbox ON messages")
    op.drop_function(MESSAGE_INBOX)
    op.drop_index("ix_messages_search", table_name="messages", postgresql_using="gin")
    op.drop_column("messages", "search")
    op.drop_column("messages", "locale")
    op.drop_column("messages", "inbox_id")
    op.add_column("messages", sa.Column("search", postgresql.TSVECTOR(),
                                        sa.Computed("to_tsvector('simple', coalesce(content, ''))", persisted=True),
                                        nullable=False))
    op.create_index("ix_messages_search", "messages", ["search"], postgresql_using="gin")
