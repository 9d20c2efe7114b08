"""Operators edit or delete their own replies and notes, within a window.

Rules (one place for them):
- Only the author may change a message, and only an ``outgoing`` reply or a ``note``
  (never a visitor's message or an activity line): anyone else gets 403 ``not_author``.
- Only within ``EDIT_WINDOW`` (15 minutes, like Chatwoot) of sending: 409 ``edit_window_closed``.
- A deleted message stays deleted: 409 ``message_deleted``.
- Optimistic version: ``content_attributes.edits`` counts the edits; a client that sends
  ``version`` (the count it saw) different from the stored one gets 409 ``stale_version``
  with the current message as ``current`` (two tabs editing the same reply, an edit racing a delete).
- The row is updated in place (``edited_at`` / ``deleted_at``), so the messages trigger
  writes one ``message.updated`` event: visitors get it for replies (never for notes),
  with ``content`` empty and ``deleted`` true once deleted. The conversation's preview
  follows when the changed message is its latest reply.
- The previous text is kept in the audit log (operators' accountability), never in the
  message payload a visitor receives.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from messenger.db import transaction
from messenger.errors import Conflict
from messenger.errors import Forbidden
from messenger.errors import NotFound
from messenger.extensions import db
from messenger.models import Attachment
from messenger.models import Conversation
from messenger.models import Message
from messenger.models import User
from messenger.services import audit
from messenger.services import conversations as conv_service
from messenger.services import messages as msg_service

EDIT_WINDOW = timedelta(minutes=15)
EDITABLE_TYPES = ("outgoing", "note")


def revision(msg: Message) -> int:
    """How many times the message was edited (its optimistic version)."""
    value = (msg.content_attributes or {}).get("edits", 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _message_json(msg: Message) -> dict[str, Any]:
    atts = msg_service.attachments_by_message([msg.id]).get(msg.id, ())
    return msg_service.message_to_dict(msg, "operator", atts)


def _lock_own_message(user: User, conversation_id: int, message_id: object,
                      expected_version: int | None) -> tuple[Conversation, Message]:
    """The conversation (visible to ``user``) and its message, locked, after every check."""
    conv = conv_service.get_for_operator(user, conversation_id, lock=True)
    if not conv_service.valid_id(message_id):
        raise NotFound("No such message.")
    msg = db.session.scalar(sa.select(Message).where(Message.id == message_id, Message.conversation_id == conv.id)
                            .with_for_update())
    if msg is None:
        raise NotFound("No such message.")
    if msg.type not in EDITABLE_TYPES or msg.sender_user_id != user.id:
        raise Forbidden("You can only change your own replies and notes.", code="not_author")
    if msg.deleted_at is not None:
        raise Conflict("This message was deleted.", code="message_deleted", current=_message_json(msg))
    if expected_version is not None and expected_version != revision(msg):
        raise Conflict("This message changed a moment ago (another tab?).", code="stale_version",
                       current=_message_json(msg))
    if msg.created_at is not None and conv_service.now() - msg.created_at > EDIT_WINDOW:
        minutes = int(EDIT_WINDOW.total_seconds() // 60)
        raise Conflict(f"Messages can be changed for {minutes} minutes after sending.", code="edit_window_closed",
                       window_s=int(EDIT_WINDOW.total_seconds()))
    return conv, msg


def _refresh_preview(conv: Conversation, msg: Message) -> None:
    """Keep the list card's preview true when the changed message is the latest reply."""
    if msg.type != "outgoing":
        return
    later = db.session.scalar(sa.select(sa.exists().where(
        Message.conversation_id == conv.id, Message.id > msg.id, Message.type.in_(("incoming", "outgoing")))))
    if later:
        return
    if msg.deleted_at is not None:
        conv.last_message_preview = "Message deleted"
    else:
        count = db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)
                                  .where(Attachment.message_id == msg.id)) or 0
        conv.last_message_preview = msg_service._preview(msg.content, count)
    conv_service.bump(conv)


def edit_message(user: User, conversation_id: int, message_id: object, content: object, *,
                 expected_version: int | None = None, ip: str | None = None) -> Message:
    """Replace the text of the operator's own reply or note (attachments stay)."""
    with transaction():
        conv, msg = _lock_own_message(user, conversation_id, message_id, expected_version)
        has_files = db.session.scalar(sa.select(sa.exists().where(Attachment.message_id == msg.id)))
        text = msg_service.clean_content(content, allow_empty=bool(has_files))
        if text == msg.content:
            return msg
        audit.record(user.id, "message.edited", "message", msg.id, ip=ip, conversation_id=conv.id,
                     previous=msg.content)
        msg.content = text
        msg.edited_at = conv_service.now()
        msg.content_attributes = dict(msg.content_attributes or {}, edits=revision(msg) + 1)
        _refresh_preview(conv, msg)
    return msg


def delete_message(user: User, conversation_id: int, message_id: object, *,
                   expected_version: int | None = None, ip: str | None = None) -> Message:
    """Delete the operator's own reply or note: everyone then sees "message deleted"."""
    with transaction():
        conv, msg = _lock_own_message(user, conversation_id, message_id, expected_version)
        audit.record(user.id, "message.deleted", "message", msg.id, ip=ip, conversation_id=conv.id,
                     previous=msg.content)
        msg.deleted_at = conv_service.now()
        msg.deleted_by_id = user.id
        _refresh_preview(conv, msg)
    return msg

