"""One event-log helper, ``messenger_emit``, and payloads shaped like the operator API's.

Every trigger function used to repeat ``INSERT INTO events … ; PERFORM pg_notify(…)``; they
now call ``messenger_emit(kind, inbox_id, conversation_id, contact_id, user_id, private,
payload)``, the one place that appends to the log and rings the doorbell. The functions are
replaceable objects (migrations/replaceable.py): the next change to one declares its new
version and replaces ``"0010.<NAME>"``.

Payloads now carry what the operator API gives for the same object (tests/test_schema.py):
message events their ``attachments`` (``[]`` once deleted); conversation events the
stored ``previous_assignee_id`` and ``custom_attributes`` as the API does (the assignee
before this change, which that key used to hold, is now ``assignee_id_before``); contact events ``blocked``, ``last_seen_at`` and
``created_at``, read as the transaction leaves the row (a new visitor is named after
the insert, so ``contact.created`` used to say ``null``); session events ``id`` and ``inbox_id``; rating events ``created_at``.
Attachments and contacts are rendered by one SQL function each, shared by the events
that carry them.

Revision ID: 0010
Revises: 0009
"""
from alembic import op
from replaceable import ReplaceableObject

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

EMIT = ReplaceableObject(
    "messenger_emit(kind text, inbox_id integer, conversation_id integer, contact_id integer, user_id integer, "
    "private boolean, payload jsonb)", """
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- The events_position trigger numbers the row at commit (gap-safe); NOTIFY is only a doorbell.
    INSERT INTO events (kind, inbox_id, conversation_id, contact_id, user_id, private, payload)
    VALUES ($1, $2, $3, $4, $5, $6, $7);
    PERFORM pg_notify('messenger', '');
END $$""")

ATTACHMENT_JSON = ReplaceableObject("messenger_attachment_json(a attachments)", """
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', a.key, 'filename', a.filename, 'content_type', a.content_type,
        'size', a.size, 'status', a.status, 'width', a.width, 'height', a.height,
        'has_thumbnail', a.thumb_key IS NOT NULL)
$$""")

CONTACT_JSON = ReplaceableObject("messenger_contact_json(c contacts)", """
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', c.id, 'name', c.name, 'email', c.email, 'phone', c.phone,
        'identifier', c.identifier, 'custom_attributes', c.custom_attributes, 'blocked', c.blocked,
        'last_seen_at', c.last_seen_at, 'created_at', c.created_at)
$$""")

HELPERS = (EMIT, ATTACHMENT_JSON, CONTACT_JSON)

MESSAGE_EVENT = ReplaceableObject("messenger_message_event()", """
RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    conv record;
BEGIN
    SELECT inbox_id, contact_id INTO conv FROM conversations WHERE id = NEW.conversation_id;
    PERFORM messenger_emit(
        CASE WHEN TG_OP = 'INSERT' THEN 'message.created' ELSE 'message.updated' END,
        conv.inbox_id, NEW.conversation_id, conv.contact_id, NEW.sender_user_id, NEW.type = 'note',
        jsonb_build_object(
            'id', NEW.id, 'conversation_id', NEW.conversation_id, 'type', NEW.type,
            'content', CASE WHEN NEW.deleted_at IS NULL THEN NEW.content ELSE '' END,
            'content_attributes', NEW.content_attributes,
            'sender_user_id', NEW.sender_user_id, 'sender_contact_id', NEW.sender_contact_id,
            'sender_name', (SELECT name FROM users WHERE id = NEW.sender_user_id),
            'client_id', NEW.client_id, 'status', NEW.status,
            'created_at', NEW.created_at, 'edited_at', NEW.edited_at,
            'deleted', NEW.deleted_at IS NOT NULL,
            'attachments', CASE WHEN NEW.deleted_at IS NULL THEN
                (SELECT coalesce(jsonb_agg(messenger_attachment_json(a) ORDER BY a.id), '[]'::jsonb)
                 FROM attachments a WHERE a.message_id = NEW.id)
                ELSE '[]'::jsonb END));
    RETURN NULL;
END $$""")

CONVERSATION_EVENT = ReplaceableObject("messenger_conversation_event()", """
RETURNS trigger LANGUAGE plpgsql AS $$
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
    PERFORM messenger_emit(
        CASE WHEN TG_OP = 'INSERT' THEN 'conversation.created' ELSE 'conversation.updated' END,
        NEW.inbox_id, NEW.id, NEW.contact_id, NEW.assignee_id, false,
        jsonb_build_object(
            'id', NEW.id, 'uuid', NEW.uuid, 'display_id', NEW.display_id, 'inbox_id', NEW.inbox_id,
            'contact_id', NEW.contact_id, 'status', NEW.status, 'priority', NEW.priority,
            'assignee_id', NEW.assignee_id, 'team_id', NEW.team_id,
            'previous_assignee_id', NEW.previous_assignee_id,
            'assignee_id_before', CASE WHEN TG_OP = 'UPDATE' THEN OLD.assignee_id END,
            'previous_status', CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END,
            'snoozed_until', NEW.snoozed_until, 'created_at', NEW.created_at,
            'last_activity_at', NEW.last_activity_at, 'waiting_since', NEW.waiting_since,
            'first_reply_at', NEW.first_reply_at, 'resolved_at', NEW.resolved_at,
            'unread_count', NEW.unread_count, 'visitor_unread_count', NEW.visitor_unread_count,
            'contact_last_seen_at', NEW.contact_last_seen_at, 'agent_last_seen_at', NEW.agent_last_seen_at,
            'last_message_preview', NEW.last_message_preview, 'last_message_type', NEW.last_message_type,
            'custom_attributes', NEW.custom_attributes,
            'version', NEW.version, 'changed', to_jsonb(changed),
            'labels', (SELECT coalesce(jsonb_agg(label_id ORDER BY label_id), '[]'::jsonb)
                       FROM conversation_labels WHERE conversation_id = NEW.id)));
    RETURN NULL;
END $$""")

ATTACHMENT_EVENT = ReplaceableObject("messenger_attachment_event()", """
RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    conv record;
BEGIN
    SELECT inbox_id, contact_id INTO conv FROM conversations WHERE id = NEW.conversation_id;
    -- Private: an operator's upload not sent yet (a draft), or a note's file.
    PERFORM messenger_emit('attachment.updated', conv.inbox_id, NEW.conversation_id, conv.contact_id,
        NEW.uploader_user_id,
        (NEW.message_id IS NULL AND NEW.uploader_user_id IS NOT NULL)
            OR EXISTS (SELECT 1 FROM messages WHERE id = NEW.message_id AND type = 'note'),
        messenger_attachment_json(NEW)
            || jsonb_build_object('message_id', NEW.message_id, 'conversation_id', NEW.conversation_id));
    RETURN NULL;
END $$""")

CONTACT_EVENT = ReplaceableObject("messenger_contact_event()", """
RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    target integer;
    body jsonb := coalesce((SELECT messenger_contact_json(c) FROM contacts c WHERE c.id = NEW.id),
                           messenger_contact_json(NEW));  -- NEW: deleted in the same transaction
BEGIN
    -- The row as this transaction leaves it (a deferred trigger's NEW is the row as it was then).
    -- One event per inbox the contact talked in (the inbox is the stream topic).
    FOR target IN SELECT DISTINCT inbox_id FROM conversations WHERE contact_id = NEW.id LOOP
        PERFORM messenger_emit('contact.updated', target, NULL, NEW.id, NULL, true, body);
    END LOOP;
    RETURN NULL;
END $$""")

CONTACT_CREATED_EVENT = ReplaceableObject("messenger_contact_created_event()", """
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The contact as this transaction leaves it: a new visitor is named after the insert.
    PERFORM messenger_emit('contact.created', NULL, NULL, NEW.id, NULL, true,
        coalesce((SELECT messenger_contact_json(c) FROM contacts c WHERE c.id = NEW.id),
                 messenger_contact_json(NEW)));
    RETURN NULL;
END $$""")

CONTACT_SESSION_EVENT = ReplaceableObject("messenger_contact_session_event()", """
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM messenger_emit('contact.session', NEW.inbox_id, NULL, NEW.contact_id, NULL, true,
        jsonb_build_object('id', NEW.id, 'session_id', NEW.id, 'inbox_id', NEW.inbox_id,
            'contact_id', NEW.contact_id, 'online', NEW.online,
            'current_url', NEW.current_url, 'current_title', NEW.current_title,
            'browser', NEW.browser, 'os', NEW.os, 'last_seen_at', NEW.last_seen_at));
    RETURN NULL;
END $$""")

USER_EVENT = ReplaceableObject("messenger_user_event()", """
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM messenger_emit('presence.updated', NULL, NULL, NULL, NEW.id, true,
        jsonb_build_object('user_id', NEW.id, 'name', NEW.name, 'availability', NEW.availability,
            'active', NEW.active));
    RETURN NULL;
END $$""")

CSAT_EVENT = ReplaceableObject("messenger_csat_event()", """
RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    conv record;
BEGIN
    SELECT inbox_id, contact_id INTO conv FROM conversations WHERE id = NEW.conversation_id;
    PERFORM messenger_emit('csat.created', conv.inbox_id, NEW.conversation_id, conv.contact_id, NEW.assignee_id,
        true, jsonb_build_object('conversation_id', NEW.conversation_id, 'rating', NEW.rating,
            'comment', NEW.comment, 'created_at', NEW.created_at));
    RETURN NULL;
END $$""")

QUEUE_EVENT = ReplaceableObject("messenger_queue_event()", """
RETURNS trigger LANGUAGE plpgsql AS $$
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
    PERFORM messenger_emit('queue.changed', NEW.inbox_id, NULL, NULL, NULL, false,
        jsonb_build_object('inbox_id', NEW.inbox_id));
    RETURN NULL;
END $$""")

# Each new version and the revision whose version it replaces.
REPLACED = (
    (MESSAGE_EVENT, "0005.MESSAGE_EVENT"),
    (CONVERSATION_EVENT, "0002.CONVERSATION_EVENT"),
    (ATTACHMENT_EVENT, "0004.ATTACHMENT_EVENT"),
    (CONTACT_EVENT, "0002.CONTACT_EVENT"),
    (CONTACT_CREATED_EVENT, "0009.CONTACT_CREATED_EVENT"),
    (CONTACT_SESSION_EVENT, "0002.CONTACT_SESSION_EVENT"),
    (USER_EVENT, "0002.USER_EVENT"),
    (CSAT_EVENT, "0002.CSAT_EVENT"),
    (QUEUE_EVENT, "0003.QUEUE_EVENT"),
)


def upgrade() -> None:
    for helper in HELPERS:
        op.create_function(helper)
    for function, previous in REPLACED:
        op.replace_function(function, replaces=previous)


def downgrade() -> None:
    for function, previous in REPLACED:
        op.replace_function(function, replace_with=previous)
    for helper in reversed(HELPERS):
        op.drop_function(helper)
