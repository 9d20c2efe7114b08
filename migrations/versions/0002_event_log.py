"""Event log triggers: gap-safe positions, domain events, NOTIFY wake-ups; display ids.

How the position stays gap-safe: every domain trigger is a DEFERRABLE INITIALLY DEFERRED
constraint trigger, so it runs at COMMIT. It inserts into ``events``; the BEFORE INSERT
trigger there takes a transaction advisory lock and only then draws the id. The lock is
released after the commit is visible, so the next transaction draws a higher id only
after ours can be read: ids become visible in increasing order and ``id > P`` never skips
(docs/architecture.md, "Why a position never skips an event"). Notifying commits are serialised by PostgreSQL
anyway (async.c PreCommit_Notify), so the lock adds no new bottleneck.

Revision ID: 0002
Revises: 0001
"""
from alembic import op
from replaceable import functions_in

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

EVENT_LOCK_KEY = 727_001  # pg_advisory_xact_lock key of the event log

UPGRADE = f"""
CREATE SEQUENCE events_id_seq OWNED BY events.id;

CREATE FUNCTION messenger_event_position() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({EVENT_LOCK_KEY});
    NEW.id := nextval('events_id_seq');
    RETURN NEW;
END $$;

CREATE TRIGGER events_position BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION messenger_event_position();

-- Per-inbox display numbers: the inbox row lock makes them unique and gap-free.
CREATE FUNCTION messenger_conversation_display_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.display_id IS NULL THEN
        UPDATE inboxes SET next_display_id = next_display_id + 1 WHERE id = NEW.inbox_id
            RETURNING next_display_id - 1 INTO NEW.display_id;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER conversations_display_id BEFORE INSERT ON conversations
    FOR EACH ROW EXECUTE FUNCTION messenger_conversation_display_id();

CREATE FUNCTION messenger_message_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    conv record;
BEGIN
    SELECT inbox_id, contact_id INTO conv FROM conversations WHERE id = NEW.conversation_id;
    INSERT INTO events (kind, inbox_id, conversation_id, contact_id, user_id, private, payload)
    VALUES (
        CASE WHEN TG_OP = 'INSERT' THEN 'message.created' ELSE 'message.updated' END,
        conv.inbox_id, NEW.conversation_id, conv.contact_id, NEW.sender_user_id, NEW.type = 'note',
        jsonb_build_object(
            'id', NEW.id, 'conversation_id', NEW.conversation_id, 'type', NEW.type,
            'content', CASE WHEN NEW.deleted_at IS NULL THEN NEW.content ELSE '' END,
            'content_attributes', NEW.content_attributes,
            'sender_user_id', NEW.sender_user_id, 'sender_contact_id', NEW.sender_contact_id,
            'client_id', NEW.client_id, 'status', NEW.status,
            'created_at', NEW.created_at, 'edited_at', NEW.edited_at,
            'deleted', NEW.deleted_at IS NOT NULL));
    PERFORM pg_notify('messenger', '');
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER messages_events AFTER INSERT OR UPDATE ON messages
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION messenger_message_event();

CREATE FUNCTION messenger_conversation_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed text[] := ARRAY[]::text[];
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.status IS DISTINCT FROM OLD.status THEN changed := array_append(changed, 'status'); END IF;
        IF NEW.assignee_id IS DISTINCT FROM OLD.assignee_id THEN changed := array_append(changed, 'assignee_id'); END IF;
        IF NEW.team_id IS DISTINCT FROM OLD.team_id THEN changed := array_append(changed, 'team_id'); END IF;
        IF NEW.priority IS DISTINCT FROM OLD.priority THEN changed := array_append(changed, 'priority'); END IF;
        IF NEW.last_activity_at IS DISTINCT FROM OLD.last_activity_at THEN
            changed := array_append(changed, 'last_activity_at'); END IF;
        IF NEW.unread_count IS DISTINCT FROM OLD.unread_count
           OR NEW.visitor_unread_count IS DISTINCT FROM OLD.visitor_unread_count THEN
            changed := array_append(changed, 'unread'); END IF;
        IF NEW.contact_last_seen_at IS DISTINCT FROM OLD.contact_last_seen_at
           OR NEW.agent_last_seen_at IS DISTINCT FROM OLD.agent_last_seen_at THEN
            changed := array_append(changed, 'seen'); END IF;
    END IF;
    INSERT INTO events (kind, inbox_id, conversation_id, contact_id, user_id, private, payload)
    VALUES (
        CASE WHEN TG_OP = 'INSERT' THEN 'conversation.created' ELSE 'conversation.updated' END,
        NEW.inbox_id, NEW.id, NEW.contact_id, NEW.assignee_id, false,
        jsonb_build_object(
            'id', NEW.id, 'uuid', NEW.uuid, 'display_id', NEW.display_id, 'inbox_id', NEW.inbox_id,
            'contact_id', NEW.contact_id, 'status', NEW.status, 'priority', NEW.priority,
            'assignee_id', NEW.assignee_id, 'team_id', NEW.team_id,
            'previous_assignee_id', CASE WHEN TG_OP = 'UPDATE' THEN OLD.assignee_id END,
            'previous_status', CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END,
            'snoozed_until', NEW.snoozed_until, 'created_at', NEW.created_at,
            'last_activity_at', NEW.last_activity_at, 'waiting_since', NEW.waiting_since,
            'first_reply_at', NEW.first_reply_at, 'resolved_at', NEW.resolved_at,
            'unread_count', NEW.unread_count, 'visitor_unread_count', NEW.visitor_unread_count,
            'contact_last_seen_at', NEW.contact_last_seen_at, 'agent_last_seen_at', NEW.agent_last_seen_at,
            'last_message_preview', NEW.last_message_preview, 'last_message_type', NEW.last_message_type,
            'version', NEW.version, 'changed', to_jsonb(changed),
            'labels', (SELECT coalesce(jsonb_agg(label_id ORDER BY label_id), '[]'::jsonb)
                       FROM conversation_labels WHERE conversation_id = NEW.id)));
    PERFORM pg_notify('messenger', '');
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER conversations_events AFTER INSERT OR UPDATE ON conversations
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION messenger_conversation_event();

CREATE FUNCTION messenger_attachment_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    conv record;
BEGIN
    SELECT inbox_id, contact_id INTO conv FROM conversations WHERE id = NEW.conversation_id;
    INSERT INTO events (kind, inbox_id, conversation_id, contact_id, user_id, private, payload)
    VALUES ('attachment.updated', conv.inbox_id, NEW.conversation_id, conv.contact_id, NEW.uploader_user_id,
        EXISTS (SELECT 1 FROM messages WHERE id = NEW.message_id AND type = 'note'),
        jsonb_build_object('id', NEW.key, 'message_id', NEW.message_id, 'conversation_id', NEW.conversation_id,
            'status', NEW.status, 'filename', NEW.filename, 'content_type', NEW.content_type,
            'size', NEW.size, 'width', NEW.width, 'height', NEW.height,
            'has_thumbnail', NEW.thumb_key IS NOT NULL));
    PERFORM pg_notify('messenger', '');
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER attachments_events AFTER UPDATE OF status, message_id ON attachments
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION messenger_attachment_event();

CREATE FUNCTION messenger_contact_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (kind, inbox_id, conversation_id, contact_id, user_id, private, payload)
    SELECT 'contact.updated', c.inbox_id, NULL, NEW.id, NULL, true,
        jsonb_build_object('id', NEW.id, 'name', NEW.name, 'email', NEW.email, 'phone', NEW.phone,
            'identifier', NEW.identifier, 'custom_attributes', NEW.custom_attributes,
            'blocked', NEW.blocked)
    FROM (SELECT DISTINCT inbox_id FROM conversations WHERE contact_id = NEW.id) c;
    PERFORM pg_notify('messenger', '');
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER contacts_events AFTER UPDATE ON contacts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION messenger_contact_event();

CREATE FUNCTION messenger_contact_session_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (kind, inbox_id, conversation_id, contact_id, user_id, private, payload)
    VALUES ('contact.session', NEW.inbox_id, NULL, NEW.contact_id, NULL, true,
        jsonb_build_object('contact_id', NEW.contact_id, 'session_id', NEW.id, 'online', NEW.online,
            'current_url', NEW.current_url, 'current_title', NEW.current_title,
            'browser', NEW.browser, 'os', NEW.os, 'last_seen_at', NEW.last_seen_at));
    PERFORM pg_notify('messenger', '');
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER contact_sessions_events AFTER INSERT OR UPDATE OF online, current_url, current_title
    ON contact_sessions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION messenger_contact_session_event();

CREATE FUNCTION messenger_user_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO events (kind, inbox_id, conversation_id, contact_id, user_id, private, payload)
    VALUES ('presence.updated', NULL, NULL, NULL, NEW.id, true,
        jsonb_build_object('user_id', NEW.id, 'name', NEW.name, 'availability', NEW.availability,
            'active', NEW.active));
    PERFORM pg_notify('messenger', '');
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER users_events AFTER UPDATE OF availability, active ON users
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION messenger_user_event();

CREATE FUNCTION messenger_csat_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    conv record;
BEGIN
    SELECT inbox_id, contact_id INTO conv FROM conversations WHERE id = NEW.conversation_id;
    INSERT INTO events (kind, inbox_id, conversation_id, contact_id, user_id, private, payload)
    VALUES ('csat.created', conv.inbox_id, NEW.conversation_id, conv.contact_id, NEW.assignee_id, true,
        jsonb_build_object('conversation_id', NEW.conversation_id, 'rating', NEW.rating, 'comment', NEW.comment));
    PERFORM pg_notify('messenger', '');
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER csat_events AFTER INSERT ON csat_responses
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION messenger_csat_event();
"""

DOWNGRADE = """
DROP TRIGGER IF EXISTS csat_events ON csat_responses;
DROP TRIGGER IF EXISTS users_events ON users;
DROP TRIGGER IF EXISTS contact_sessions_events ON contact_sessions;
DROP TRIGGER IF EXISTS contacts_events ON contacts;
DROP TRIGGER IF EXISTS attachments_events ON attachments;
DROP TRIGGER IF EXISTS conversations_events ON conversations;
DROP TRIGGER IF EXISTS messages_events ON messages;
DROP TRIGGER IF EXISTS conversations_display_id ON conversations;
DROP TRIGGER IF EXISTS events_position ON events;
DROP FUNCTION IF EXISTS messenger_csat_event();
DROP FUNCTION IF EXISTS messenger_user_event();
DROP FUNCTION IF EXISTS messenger_contact_session_event();
DROP FUNCTION IF EXISTS messenger_contact_event();
DROP FUNCTION IF EXISTS messenger_attachment_event();
DROP FUNCTION IF EXISTS messenger_conversation_event();
DROP FUNCTION IF EXISTS messenger_message_event();
DROP FUNCTION IF EXISTS messenger_conversation_display_id();
DROP FUNCTION IF EXISTS messenger_event_position();
DROP SEQUENCE IF EXISTS events_id_seq;
"""


def upgrade():
    op.execute(UPGRADE)


def downgrade():
    op.execute(DOWNGRADE)


# The trigger functions as replaceable objects, for migrations that replace one (migrations/replaceable.py).
_DEFINED = functions_in(UPGRADE)
MESSAGE_EVENT = _DEFINED["messenger_message_event"]
CONVERSATION_EVENT = _DEFINED["messenger_conversation_event"]
ATTACHMENT_EVENT = _DEFINED["messenger_attachment_event"]
CONTACT_EVENT = _DEFINED["messenger_contact_event"]
CONTACT_SESSION_EVENT = _DEFINED["messenger_contact_session_event"]
USER_EVENT = _DEFINED["messenger_user_event"]
CSAT_EVENT = _DEFINED["messenger_csat_event"]
