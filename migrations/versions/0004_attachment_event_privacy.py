"""Attachment events: an operator's upload that is not sent yet is private.

``attachment.updated`` fires when the scan settles, often before the message is sent.
Until then the file is the operator's draft (it may have been picked by mistake and
removed), so its name and size must not reach the visitor's stream. A visitor's own
unsent upload stays visible to that visitor (the widget shows it for review); notes'
attachments stay private as before.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
from replaceable import functions_in

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION messenger_attachment_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    conv record;
BEGIN
    SELECT inbox_id, contact_id INTO conv FROM conversations WHERE id = NEW.conversation_id;
    INSERT INTO events (kind, inbox_id, conversation_id, contact_id, user_id, private, payload)
    VALUES ('attachment.updated', conv.inbox_id, NEW.conversation_id, conv.contact_id, NEW.uploader_user_id,
        {private},
        jsonb_build_object('id', NEW.key, 'message_id', NEW.message_id, 'conversation_id', NEW.conversation_id,
            'status', NEW.status, 'filename', NEW.filename, 'content_type', NEW.content_type,
            'size', NEW.size, 'width', NEW.width, 'height', NEW.height,
            'has_thumbnail', NEW.thumb_key IS NOT NULL));
    PERFORM pg_notify('messenger', '');
    RETURN NULL;
END $$;
"""

NOTE = "EXISTS (SELECT 1 FROM messages WHERE id = NEW.message_id AND type = 'note')"
OPERATOR_DRAFT = "(NEW.message_id IS NULL AND NEW.uploader_user_id IS NOT NULL)"


def upgrade() -> None:
    op.execute(FUNCTION.replace("{private}", f"{OPERATOR_DRAFT} OR {NOTE}"))


def downgrade() -> None:
    op.execute(FUNCTION.replace("{private}", NOTE))


# The trigger function this revision leaves, as a replaceable object (migrations/replaceable.py).
ATTACHMENT_EVENT = functions_in(FUNCTION.replace("{private}", f"{OPERATOR_DRAFT} OR {NOTE}"))["messenger_attachment_event"]
