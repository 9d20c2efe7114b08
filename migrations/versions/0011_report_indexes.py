"""Reports: each conversation's first visitor message and first operator reply after it (filled for
existing conversations), indexes for resolutions and ratings in a date range.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The same definition as services/reports.recompute_first_response (notes and activity lines never count).
BACKFILL = """
UPDATE conversations c SET first_visitor_message_at = f.first_in, first_response_at = f.first_out
FROM (SELECT c2.id, fi.at AS first_in,
             (SELECT min(m.created_at) FROM messages m
              WHERE m.conversation_id = c2.id AND m.type = 'outgoing' AND m.created_at >= fi.at) AS first_out
      FROM conversations c2
      CROSS JOIN LATERAL (SELECT min(m.created_at) AS at FROM messages m
                          WHERE m.conversation_id = c2.id AND m.type = 'incoming') fi
      WHERE fi.at IS NOT NULL) f
WHERE c.id = f.id
"""


def upgrade():
    op.add_column("conversations", sa.Column("first_visitor_message_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("conversations", sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True))
    # A backfill is not news: no conversation.updated event per row.
    op.execute("ALTER TABLE conversations DISABLE TRIGGER conversations_events")
    op.execute(BACKFILL)
    op.execute("ALTER TABLE conversations ENABLE TRIGGER conversations_events")
    op.create_index("ix_conversations_resolved", "conversations", ["resolved_at"],
                    postgresql_where="resolved_at IS NOT NULL")
    op.create_index("ix_csat_responses_created", "csat_responses", ["created_at"])


def downgrade():
    op.drop_index("ix_csat_responses_created", "csat_responses")
    op.drop_index("ix_conversations_resolved", "conversations")
    op.drop_column("conversations", "first_response_at")
    op.drop_column("conversations", "first_visitor_message_at")
