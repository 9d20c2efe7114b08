"""The event log's sequencer: user transactions append to ``events_pending``, one sequencer numbers them.

Before, every trigger inserted into ``events`` at COMMIT under ``pg_advisory_xact_lock``
(held through the WAL flush) and called ``pg_notify`` (PostgreSQL serialises notifying
commits): writes with events could not share a WAL flush, so the commit rate was about one
per fsync. Now ``messenger_emit`` only inserts into ``events_pending`` (no lock, no NOTIFY),
so user transactions group-commit again. ``messenger_sequence_events(batch)`` is the one
place that numbers events: in its own short transaction it takes the advisory lock, moves
committed pending rows into ``events`` in ``events_pending.id`` order (``events_position``
still draws each id under that lock) and NOTIFYs ``messenger`` once if it moved any. The
lock is released after the move is visible, so positions still become visible in
increasing order (docs/event-log.md, "Gap-safe positions"). Every web process, the worker
loop and any reader of the log run it (``messenger/realtime/sequencer.py``).

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op
from replaceable import ReplaceableObject
from sqlalchemy.dialects import postgresql

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

EMIT = ReplaceableObject(
    "messenger_emit(kind text, inbox_id integer, conversation_id integer, contact_id integer, user_id integer, "
    "private boolean, payload jsonb)", """
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- No lock and no NOTIFY in the user's transaction: messenger_sequence_events numbers the row
    -- once it is committed, and rings the doorbell.
    INSERT INTO events_pending (kind, inbox_id, conversation_id, contact_id, user_id, private, payload)
    VALUES ($1, $2, $3, $4, $5, $6, $7);
END $$""")

SEQUENCE_EVENTS = ReplaceableObject("messenger_sequence_events(batch integer)", """
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    moved integer;
BEGIN
    -- One sequencer at a time; the next one starts only after this move is visible (the
    -- transaction lock is released after COMMIT), so positions appear in increasing order.
    PERFORM pg_advisory_xact_lock(727001);
    WITH batch_rows AS (
        DELETE FROM events_pending
        WHERE id IN (SELECT id FROM events_pending ORDER BY id LIMIT batch)
        RETURNING *)
    INSERT INTO events (kind, inbox_id, conversation_id, contact_id, user_id, private, payload, created_at)
    SELECT kind, inbox_id, conversation_id, contact_id, user_id, private, payload, created_at
    FROM batch_rows ORDER BY id;
    GET DIAGNOSTICS moved = ROW_COUNT;
    IF moved > 0 THEN
        PERFORM pg_notify('messenger', '');
    END IF;
    RETURN moved;
END $$""")


def upgrade() -> None:
    op.create_table(
        "events_pending",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("inbox_id", sa.Integer(), nullable=True),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("private", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"),
                  nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("clock_timestamp()"),
                  nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events_pending")),
    )
    op.create_function(SEQUENCE_EVENTS)
    op.replace_function(EMIT, replaces="0010.EMIT")


def downgrade() -> None:
    op.replace_function(EMIT, replace_with="0010.EMIT")
    # Events still waiting for a number are numbered the old way (at their insert, under the lock).
    op.execute("SELECT messenger_sequence_events(2147483647)")
    op.drop_function(SEQUENCE_EVENTS)
    op.drop_table("events_pending")
