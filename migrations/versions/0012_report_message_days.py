"""Reports: messages per day read from a narrow index (time, type) instead of the wide messages rows.

Revision ID: 0012
Revises: 0011
"""
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_messages_created_type", "messages", ["created_at", "type"])


def downgrade():
    op.drop_index("ix_messages_created_type", "messages")
