"""Message events carry the operator's display name, so the widget can show who replied.

Revision ID: 0005
Revises: 0004
"""
from alembic import op
from replaceable import functions_in

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION messenger_message_event() RETURNS trigger LANGUAGE plpgsql AS $$
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
            {sender_name}
            'client_id', NEW.client_id, 'status', NEW.status,
            'created_at', NEW.created_at, 'edited_at', NEW.edited_at,
            'deleted', NEW.deleted_at IS NOT NULL));
    PERFORM pg_notify('messenger', '');
    RETURN NULL;
END $$;
"""

SENDER_NAME = "'sender_name', (SELECT name FROM users WHERE id = NEW.sender_user_id),"


def upgrade():
    op.execute(FUNCTION.replace("{sender_name}", SENDER_NAME))


def downgrade():
    op.execute(FUNCTION.replace("{sender_name}", ""))


# The trigger function this revision leaves, as a replaceable object (migrations/replaceable.py).
MESSAGE_EVENT = functions_in(FUNCTION.replace("{sender_name}", SENDER_NAME))["messenger_message_event"]
