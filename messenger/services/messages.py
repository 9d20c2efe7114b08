"""Messages: idempotent sends from both sides, notes, activity, listing with cursors.

Every client send carries a ``client_id`` (UUID). The unique key
``(conversation_id, client_id)`` plus a lookup across the contact's conversations make a
retry return the stored message instead of a duplicate (reliability case 1 in
docs/security.md).
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from messenger.db import rows_changed
from messenger.db import transaction
from messenger.errors import Conflict
from messenger.errors import NotFound
from messenger.errors import ValidationError
from messenger.errors import found
from messenger.extensions import db
from messenger.models import Attachment
from messenger.models import Conversation
from messenger.models import Inbox
from messenger.models import Message
from messenger.models import User
from messenger.services import conversations as conv_service
from messenger.services import routing
from messenger.services.activity import for_visitor
from messenger.services.visitors import Visitor
from messenger.services.visitors import require_not_blocked

logger = logging.getLogger(__name__)

MAX_CONTENT = 10_000
MAX_ATTACHMENTS = 15
PAGE_MAX = 100


@dataclass(frozen=True, slots=True)
class SendResult:
    message: Message
    created: bool
    conversation: Conversation | None = None  # the conversation as written, when the send changed it


def parse_client_id(value: object) -> uuid.UUID:
    """A client id must be a UUID string: anything else is a 422 (case 17 in docs/security.md)."""
    if not isinstance(value, str) or len(value) > 64:
        raise ValidationError("client_id must be a UUID.", field="client_id")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationError("client_id must be a UUID.", field="client_id") from None


def clean_content(content: object, *, allow_empty: bool = False) -> str:
    """Text as given (rendered as text by every client), trimmed of outer blank lines, size-capped."""
    if not isinstance(content, str):
        raise ValidationError("content must be a string.", field="content")
    text = content.replace("\r\n", "\n").replace("\x00", "").strip("\n ")
    if not text and not allow_empty:
        raise ValidationError("Write a message first.", field="content")
    if len(text) > MAX_CONTENT:
        raise ValidationError(f"Messages are limited to {MAX_CONTENT} characters.", field="content",
                              limit=MAX_CONTENT)
    return text


def _preview(text: str, attachments: int) -> str:
    one_line = " ".join(text.split())
    if not one_line and attachments:
        return "📎 Attachment"
    return one_line[:157] + "…" if len(one_line) > 158 else one_line


def _existing_for_contact(contact_id: int, client_id: uuid.UUID) -> Message | None:
    return db.session.scalar(
        sa.select(Message).join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.contact_id == contact_id, Message.client_id == client_id))


def _existing_in_conversation(conversation_id: int, client_id: uuid.UUID) -> Message | None:
    return db.session.scalar(sa.select(Message).where(
        Message.conversation_id == conversation_id, Message.client_id == client_id))


def _insert(values: dict[str, Any]) -> Message | None:
    """Insert a message unless its (conversation_id, client_id) exists; None on conflict (one statement)."""
    stmt = (pg.insert(Message).values(**values)
            .on_conflict_do_nothing(constraint="uq_messages_conversation_client").returning(Message))
    return db.session.scalars(stmt).first()


def _lock_for_send(visitor: Visitor, conversation_id: int | None,
                   cid: uuid.UUID) -> tuple[Conversation | None, int | None]:
    """One statement: the visitor's conversation locked (``conversation_id``, else the one in progress)
    and the id of a message this contact already sent under ``cid`` (a retry), if any."""
    earlier = (sa.select(Message.id).join(Conversation, Conversation.id == Message.conversation_id)
               .where(Conversation.contact_id == visitor.contact_id, Message.client_id == cid)
               .limit(1).scalar_subquery())
    which = Conversation.id == conversation_id if conversation_id is not None else Conversation.status != "resolved"
    row = db.session.execute(
        sa.select(Conversation, earlier.label("earlier"))
        .where(which, Conversation.contact_id == visitor.contact_id, Conversation.inbox_id == visitor.inbox_id)
        .with_for_update(of=Conversation).execution_options(populate_existing=True)).first()
    if row is None:
        existing = _existing_for_contact(visitor.contact_id, cid)
        return None, existing.id if existing is not None else None
    return row.Conversation, row.earlier


def _fresh_conversation(visitor: Visitor, conv: Conversation) -> Conversation:
    """Reopen a recently resolved or snoozed conversation, or start a new one after the reopen window."""
    if conv.status == "resolved":
        inbox = found(db.session.get(Inbox, conv.inbox_id), "inbox")
        window = timedelta(seconds=inbox.reopen_window_s)
        if conv.resolved_at is not None and conv_service.now() - conv.resolved_at <= window:
            conv_service.reopen(conv, by=None)
        else:
            conv, _ = conv_service.create_conversation(visitor)
            conv = conv_service.get_for_visitor(visitor, conv.id, lock=True)
    elif conv.status == "snoozed":
        conv_service.reopen(conv, by=None)
    return conv


def _stored_by_retry(conversation_id: int, client_id: uuid.UUID) -> SendResult:
    """The insert hit the unique key: a concurrent retry stored it first; return that row."""
    again = _existing_in_conversation(conversation_id, client_id)
    if again is None:
        raise Conflict("Could not store the message; retry.")
    return SendResult(again, False)


def _attach(message: Message, conversation_id: int, keys: Sequence[str], *, user_id: int | None = None,
            contact_id: int | None = None) -> int:
    """Link uploaded attachments (same conversation, same uploader, not yet sent) to the message."""
    if not keys:
        return 0
    if len(keys) > MAX_ATTACHMENTS or not all(isinstance(k, str) and len(k) <= 64 for k in keys):
        raise ValidationError(f"At most {MAX_ATTACHMENTS} attachments per message.", field="attachments")
    owner = (Attachment.uploader_user_id == user_id) if user_id is not None else \
        (Attachment.uploader_contact_id == contact_id)
    attached = rows_changed(sa.update(Attachment).where(
        Attachment.key.in_(list(keys)), Attachment.conversation_id == conversation_id,
        Attachment.message_id.is_(None), owner).values(message_id=message.id))
    if attached != len(set(keys)):
        raise ValidationError("Some attachments are unknown or already sent.", field="attachments")
    return len(keys)


def send_visitor_message(visitor: Visitor, conversation_id: int | None, content: object, client_id: object,
                         attachment_keys: Sequence[str] = ()) -> SendResult:
    """The visitor writes. Reopens a recently resolved conversation, or starts a new one after the window.

    The common case (a conversation in progress, no files) is three statements: lock the
    conversation and look for a retry, insert the message, update the conversation.
    """
    cid = parse_client_id(client_id)
    text = clean_content(content, allow_empty=bool(attachment_keys))
    with transaction(keep_loaded=True):
        require_not_blocked(visitor)
        conv, earlier = _lock_for_send(visitor, conversation_id, cid)
        if earlier is not None:
            return SendResult(found(db.session.get(Message, earlier), "message"), False)
        if conv is None:
            if conversation_id is not None:
                raise NotFound("No such conversation.")
            conv, _ = conv_service.create_conversation(visitor)
            conv = conv_service.get_for_visitor(visitor, conv.id, lock=True)
        conv = _fresh_conversation(visitor, conv)
        msg = _insert({"conversation_id": conv.id, "type": "incoming", "sender_contact_id": visitor.contact_id,
                       "content": text, "client_id": cid})
        if msg is None:
            return _stored_by_retry(conv.id, cid)
        count = _attach(msg, conv.id, attachment_keys, contact_id=visitor.contact_id)
        conv.last_activity_at = conv_service.now()
        conv.last_message_preview = _preview(text, count)
        conv.last_message_type = "incoming"
        conv.unread_count += 1
        if conv.first_visitor_message_at is None:  # reports: first response counts from here
            conv.first_visitor_message_at = msg.created_at
        if conv.waiting_since is None:
            conv.waiting_since = conv_service.now()
        conv_service.bump(conv)
    return SendResult(msg, True, conv)


def send_operator_message(user: User, conversation_id: int, content: object, client_id: object, *,
                          private: bool = False, reopen: bool = False,
                          attachment_keys: Sequence[str] = ()) -> SendResult:
    """An operator replies (or writes a private note).

    Replying to a resolved conversation is refused with 409 ``conversation_resolved``
    unless ``reopen`` is true (the panel offers "Reopen and send"); notes are always
    allowed. Replying to a conversation a colleague owns is allowed; the panel warns.
    """
    cid = parse_client_id(client_id)
    text = clean_content(content, allow_empty=bool(attachment_keys))
    with transaction(keep_loaded=True):
        conv = conv_service.get_for_operator(user, conversation_id, lock=True)
        if not private and conv.status == "resolved":
            existing = _existing_in_conversation(conv.id, cid)  # a retry of the reply that was sent before
            if existing is not None:
                return SendResult(existing, False)
            if not reopen:
                raise Conflict("This conversation was resolved. Reopen it to reply.", code="conversation_resolved",
                               conversation=conv_service.conversation_to_dict(conv, "operator"))
            conv_service.reopen(conv, by=user)
        msg = _insert({"conversation_id": conv.id, "type": "note" if private else "outgoing",
                       "sender_user_id": user.id, "content": text, "client_id": cid})
        if msg is None:
            return _stored_by_retry(conv.id, cid)
        count = _attach(msg, conv.id, attachment_keys, user_id=user.id)
        if not private:
            conv.last_activity_at = conv_service.now()
            conv.last_message_preview = _preview(text, count)
            conv.last_message_type = "outgoing"
            conv.visitor_unread_count += 1
            conv.waiting_since = None
            if conv.status == "pending":
                conv.status = "open"
            if conv.first_reply_at is None:
                conv.first_reply_at = conv_service.now()
                routing.on_first_reply(conv)
            if conv.first_visitor_message_at is not None and conv.first_response_at is None:
                conv.first_response_at = msg.created_at  # reports: the first reply to the visitor
        conv_service.bump(conv)
    return SendResult(msg, True, conv)


def list_messages(conversation: Conversation, *, audience: str, before_id: int | None = None,
                  after_id: int | None = None, limit: int = 30) -> list[Message]:
    """A page of messages, newest first before ``before_id`` (scroll up) or oldest first after ``after_id``."""
    limit = max(1, min(limit, PAGE_MAX))
    query = sa.select(Message).where(Message.conversation_id == conversation.id)
    if audience == "visitor":  # replies both ways and the activity lines meant for visitors (services.activity)
        query = query.where(sa.or_(Message.type.in_(("incoming", "outgoing")),
                                   sa.and_(Message.type == "activity", Message.content_attributes.has_key("visitor"))))
    if after_id is not None:
        rows = db.session.scalars(query.where(Message.id > after_id).order_by(Message.id).limit(limit)).all()
        return list(rows)
    if before_id is not None:
        query = query.where(Message.id < before_id)
    rows = db.session.scalars(query.order_by(Message.id.desc()).limit(limit)).all()
    return list(reversed(rows))


def attachments_by_message(message_ids: Sequence[int]) -> dict[int, list[Attachment]]:
    """Attachments of several messages in one query."""
    result: dict[int, list[Attachment]] = {}
    if not message_ids:
        return result
    for att in db.session.scalars(sa.select(Attachment).where(Attachment.message_id.in_(list(message_ids)))
                                  .order_by(Attachment.id)):
        if att.message_id is not None:  # always, by the WHERE; a check mypy and python -O both keep
            result.setdefault(att.message_id, []).append(att)
    return result


def attachment_to_dict(att: Attachment) -> dict[str, Any]:
    return {"id": att.key, "filename": att.filename, "content_type": att.content_type, "size": att.size,
            "status": att.status, "width": att.width, "height": att.height,
            "has_thumbnail": att.thumb_key is not None}


def _sender_name(user_id: int | None) -> str | None:
    """The operator's display name (the session's identity map makes a page cost one query per operator)."""
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    return user.name if user is not None else None


def message_to_dict(msg: Message, audience: str, attachments: Sequence[Attachment] = ()) -> dict[str, Any]:
    """JSON shape of a message, the same keys as the event payload."""
    data = {
        "id": msg.id, "conversation_id": msg.conversation_id, "type": msg.type,
        "content": "" if msg.deleted_at else msg.content, "content_attributes": msg.content_attributes,
        "sender_user_id": msg.sender_user_id, "sender_contact_id": msg.sender_contact_id,
        "sender_name": _sender_name(msg.sender_user_id),
        "client_id": str(msg.client_id) if msg.client_id else None, "status": msg.status,
        "created_at": msg.created_at.isoformat() if msg.created_at else None,
        "edited_at": msg.edited_at.isoformat() if msg.edited_at else None,
        "deleted": msg.deleted_at is not None,
        "attachments": [] if msg.deleted_at else [attachment_to_dict(a) for a in attachments],
    }
    if audience != "visitor":
        return data
    shown = for_visitor(data)
    if shown is None:
        raise NotFound("No such message.")
    return shown
