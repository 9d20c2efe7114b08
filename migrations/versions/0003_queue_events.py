"""Queue events: one ``queue.changed`` log row when a conversation joins or leaves an inbox queue.

A visitor's place in the queue changes when *another* conversation is assigned, so the
visitor cannot learn it from their own conversation's events. Instead of touching every
waiting conversation (O(queue) events per change), each join/leave appends one inbox-wide
``queue.changed`` event (payload ``{"inbox_id"}``, no personal data); waiting widgets
refetch their position (``services.assignment.queue_position``), debounced. Like every
domain trigger it is a deferred constraint trigger, so it runs at COMMIT (gap-safe ids).

Revision ID: 0003
Revises: 0002
"""
from alembic import op
from replaceable import functions_in

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE FUNCTION messenger_queue_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    queued_now boolean := NEW.assignee_id IS NULL AND NEW.status IN ('open', 'pending')
                          AND NEW.waiting_since IS NOT NULL;
    queued_before boolean := false;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        queued_before := OLD.assignee_id IS NULL AND OLD.status IN ('open', 'pending')
                         AND OLD.waiting_since IS NOT NULL;
        IF queued_before = queued_now
           AND (NOT queued_now OR NEW.waiting_since IS NOT DISTINCT FROM OLD.waiting_since) THEN
            RETURN NULL;
        END IF;
    ELSIF NOT queued_now THEN
        RETURN NULL;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM inboxes WHERE id = NEW.inbox_id AND auto_assignment) THEN
        RETURN NULL;
    END IF;
    INSERT INTO events (kind, inbox_id, conversation_id, contact_id, user_id, private, payload)
    VALUES ('queue.changed', NEW.inbox_id, NULL, NULL, NULL, false,
            jsonb_build_object('inbox_id', NEW.inbox_id));
    PERFORM pg_notify('messenger', '');
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER conversations_queue_events
    AFTER INSERT OR UPDATE OF assignee_id, status, waiting_since ON conversations
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION messenger_queue_event();
"""

DOWNGRADE = """
DROP TRIGGER IF EXISTS conversations_queue_events ON conversations;
DROP FUNCTION IF EXISTS messenger_queue_event();
"""


def upgrade():
    op.execute(UPGRADE)


def downgrade():
    op.execute(DOWNGRADE)


# The trigger function as a replaceable object (migrations/replaceable.py).
QUEUE_EVENT = functions_in(UPGRADE)["messenger_queue_event"]
