"""An agent's lists and tab counts stay fast: statistics on (inbox_id, assignee_id, status) together, and an index to count by.

An agent's "Waiting" or "Unassigned" list filters on its inboxes, no assignee and an open
status. PostgreSQL estimates those conditions as independent: with many unassigned
conversations in other inboxes it expects thousands of matches in the agent's inboxes, walks
the whole ``last_activity_at`` index for the first page and, when the agent's inboxes hold
none, reads every conversation (111 ms on 100,000 conversations, growing with the table).
A multivariate MCV statistic tells it how the three columns combine; it then reads the
agent's inboxes through the queue index (0.04 ms). ``ANALYZE`` (autovacuum, or here) fills it.

The agent's tab counts (mine / unassigned / all over its inboxes) then count from
``ix_conversations_inbox_status_assignee`` with an index-only scan (3 ms where a
sequential scan of the table took 28 ms on the bench dataset).

Revision ID: 0018
Revises: 0017
"""
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_conversations_inbox_status_assignee", "conversations", ["inbox_id", "status", "assignee_id"])
    op.execute("CREATE STATISTICS IF NOT EXISTS st_conversations_queue (mcv) "
               "ON inbox_id, assignee_id, status FROM conversations")
    op.execute("ANALYZE conversations")


def downgrade() -> None:
    op.execute("DROP STATISTICS IF EXISTS st_conversations_queue")
    op.drop_index("ix_conversations_inbox_status_assignee", table_name="conversations")
