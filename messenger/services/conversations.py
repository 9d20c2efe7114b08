"""Conversations: creation, access, status changes with optimistic versions, read state.

Access rule (cases 9, 13, 16 in docs/security.md): an id the client sends is looked up *through* the caller;
another inbox's or another visitor's conversation is NotFound, never Forbidden.
"""
from __future__ import annotations

import logging
from datetime import datetime
from datetime import timezone
from typing import Any
from typing import TypeGuard

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from messenger.db import transaction
from messenger.errors import Conflict
from messenger.errors import NotFound
from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.models import CONVERSATION_STATUSES
from messenger.models import PRIORITIES
from messenger.models import Conversation
from messenger.models import Inbox
from messenger.models import Message
from messenger.models import User
from messenger.services import capacity
from messenger.services import routing
from messenger.services.activity import visitor_marker
from messenger.services.inboxes import can_see_inbox
from messenger.services.visitors import Visitor

logger = logging.getLogger(__name__)


def now() -> datetime:
    return datetime.now(timezone.utc)


MAX_ID = 2**31 - 1


def valid_id(value: object) -> TypeGuard[int]:
    """A client-sent integer id that can exist: no bools, no negatives, nothing past int4."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def get_for_operator(user: User, conversation_id: object, *, lock: bool = False) -> Conversation:
    """The conversation if ``user`` may see its inbox; NotFound otherwise."""
    if not valid_id(conversation_id):
        raise NotFound("No such conversation.")
    conv = db.session.get(Conversation, conversation_id, with_for_update=lock or None, populate_existing=lock)
    if conv is None or not can_see_inbox(user, conv.inbox_id):
        raise NotFound("No such conversation.")
    return conv


def get_for_visitor(visitor: Visitor, conversation_id: object, *, lock: bool = False) -> Conversation:
    """The conversation if it belongs to this visitor's contact in this inbox; NotFound otherwise."""
    if not valid_id(conversation_id):
        raise NotFound("No such conversation.")
    conv = db.session.get(Conversation, conversation_id, with_for_update=lock or None, populate_existing=lock)
    if conv is None or conv.contact_id != visitor.contact_id or conv.inbox_id != visitor.inbox_id:
        raise NotFound("No such conversation.")
    return conv


def get_active_for_contact(inbox_id: int, contact_id: int) -> Conversation | None:
    """The contact's conversation in progress in this inbox (at most one, by a unique index)."""
    return db.session.scalar(sa.select(Conversation).where(
        Conversation.inbox_id == inbox_id, Conversation.contact_id == contact_id,
        Conversation.status != "resolved"))


def create_conversation(visitor: Visitor, *, custom_attributes: dict[str, Any] | None = None,
                        status: str = "open") -> tuple[Conversation, bool]:
    """Start the visitor's conversation, or return the one already in progress (idempotent)."""
    with transaction():
        existing = get_active_for_contact(visitor.inbox_id, visitor.contact_id)
        if existing is not None:
            return existing, False
        conv = Conversation(inbox_id=visitor.inbox_id, contact_id=visitor.contact_id, status=status,
                            waiting_since=now(), custom_attributes=custom_attributes or {})
        try:
            with db.session.begin_nested():
                db.session.add(conv)
                db.session.flush()
        except IntegrityError:
            # Another tab won the race for "one conversation in progress per contact".
            existing = get_active_for_contact(visitor.inbox_id, visitor.contact_id)
            if existing is None:
                raise
            return existing, False
        routing.request_assignment(conv)
        logger.info("conversation %s created in inbox %s", conv.id, conv.inbox_id)
    return conv, True


def bump(conv: Conversation) -> None:
    """Mark a change the clients must see: new version, fresh updated_at."""
    conv.version = (conv.version or 0) + 1
    conv.updated_at = now()


def add_activity(conv: Conversation, text: str, **data: Any) -> Message:
    """Append a system line ("Anna resolved the conversation") inside the caller's transaction.

    Operators see every line; a visitor sees only those ``services.activity`` marks for them.
    """
    marker = visitor_marker(data)
    if marker is not None:
        data = {**data, "visitor": marker}
    msg = Message(conversation_id=conv.id, type="activity", content=text[:2000], content_attributes=data)
    db.session.add(msg)
    return msg


def check_version(conv: Conversation, expected_version: int | None) -> None:
    """Optimistic concurrency: a stale version is a 409 carrying the current state."""
    if expected_version is not None and expected_version != conv.version:
        raise Conflict("Someone changed this conversation a moment ago.", code="stale_version",
                       conversation=conversation_to_dict(conv, "operator"))


def change_status(user: User, conversation_id: int, status: str, *, expected_version: int | None = None,
                  snoozed_until: datetime | None = None) -> Conversation:
    """Resolve, reopen, snooze or set pending. A stale ``expected_version`` is a 409 with the current state."""
    if status not in CONVERSATION_STATUSES:
        raise ValidationError("Unknown status.", field="status")
    if status == "snoozed" and (snoozed_until is None or snoozed_until <= now()):
        raise ValidationError("Snooze needs a time in the future.", field="snoozed_until")
    with transaction():
        conv = get_for_operator(user, conversation_id, lock=True)
        check_version(conv, expected_version)
        if conv.status == status and status != "snoozed":
            return conv
        previous = conv.status
        if status in ("open", "pending") and previous in REOPENABLE:
            reopen(conv, by=user, status=status)
        else:
            _set_status(conv, user, status, snoozed_until)
        bump(conv)
    return conv


def _set_status(conv: Conversation, user: User, status: str, snoozed_until: datetime | None) -> None:
    """Any change but a reopen: resolve, snooze, open ⇄ pending (a resolved one may be snoozed)."""
    previous = conv.status
    if previous == "resolved":
        _leave_resolved(conv)
    conv.status = status
    conv.snoozed_until = snoozed_until if status == "snoozed" else None
    if status == "resolved":
        conv.resolved_at = now()
        conv.waiting_since = None
    verb = {"resolved": "resolved the conversation", "open": "reopened the conversation",
            "pending": "marked the conversation as pending",
            "snoozed": f"snoozed the conversation until {snoozed_until.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC"
            if snoozed_until else "snoozed the conversation"}[status]
    extra = {"until": snoozed_until.isoformat()} if status == "snoozed" and snoozed_until else {}
    add_activity(conv, f"{user.name} {verb}", event="status", status=status, by=user.id, **extra)
    if status in ("resolved", "snoozed") and conv.assignee_id is not None and previous in ("open", "pending"):
        routing.capacity_freed(conv.inbox_id)


REOPENABLE = ("resolved", "snoozed")


def reopen(conv: Conversation, *, by: User | None, status: str = "open") -> None:
    """The one reopen rule: a resolved or snoozed conversation (row locked by the caller) comes back.

    Used by an operator's status change, an operator's "reopen and send", and a visitor's
    message. A resolved one cannot come back while the contact has another conversation in
    progress (409 ``other_conversation_active``). The assignee keeps it only when they may
    take it now (``capacity.may_keep``: never over capacity, never to an offline operator;
    an assignee reopening it themselves counts as present); otherwise, or when it had
    nobody, it re-enters the inbox queue (waiting since now unless it already waits) and
    the router places it after commit. ``by`` is the operator reopening it, None for the
    visitor. The caller bumps the version.
    """
    previous = conv.status
    if previous == "resolved":
        _leave_resolved(conv)
    inbox = db.session.get(Inbox, conv.inbox_id)
    keeps = conv.assignee_id is not None and inbox is not None and capacity.may_keep(
        inbox, conv.assignee_id, acting=by is not None and by.id == conv.assignee_id)
    conv.status = status
    conv.snoozed_until = None
    if by is None:
        add_activity(conv, "Conversation reopened by the visitor", event="status", status=status, previous=previous)
    else:
        verb = "reopened the conversation" if status == "open" else "marked the conversation as pending"
        add_activity(conv, f"{by.name} {verb}", event="status", status=status, by=by.id, previous=previous)
    if keeps:
        return
    if conv.assignee_id is not None:
        conv.previous_assignee_id = conv.assignee_id
        conv.assignee_id = None
        conv.assigned_at = None
    if conv.waiting_since is None:
        conv.waiting_since = now()
    routing.request_assignment(conv)


def _leave_resolved(conv: Conversation) -> None:
    """A resolved conversation becomes in progress again: only if the contact has no other one."""
    other = get_active_for_contact(conv.inbox_id, conv.contact_id)
    if other is not None and other.id != conv.id:
        raise Conflict("The visitor already has another conversation in progress.",
                       code="other_conversation_active", conversation_id=other.id)
    conv.resolved_at = None


def set_priority(user: User, conversation_id: int, priority: str | None, *,
                 expected_version: int | None = None) -> Conversation:
    """Set the priority (none, low, medium, high, urgent)."""
    if priority not in PRIORITIES:
        raise ValidationError("Unknown priority.", field="priority")
    with transaction():
        conv = get_for_operator(user, conversation_id, lock=True)
        check_version(conv, expected_version)
        conv.priority = PRIORITIES.index(priority)
        bump(conv)
    return conv


def mark_read_by_operator(user: User, conversation_id: int) -> Conversation:
    """The operator saw the conversation: unread count to zero, visitor's messages marked read."""
    with transaction():
        conv = get_for_operator(user, conversation_id, lock=True)
        if conv.unread_count == 0 and conv.agent_last_seen_at is not None:
            return conv
        conv.unread_count = 0
        conv.agent_last_seen_at = now()
        db.session.execute(sa.update(Message).where(
            Message.conversation_id == conv.id, Message.type == "incoming", Message.status != "read")
            .values(status="read"))
    return conv


def mark_read_by_visitor(visitor: Visitor, conversation_id: int) -> Conversation:
    """The visitor saw the conversation: operator messages marked read (ticks)."""
    with transaction(keep_loaded=True):
        conv = get_for_visitor(visitor, conversation_id, lock=True)
        if conv.visitor_unread_count == 0 and conv.contact_last_seen_at is not None:
            return conv
        conv.visitor_unread_count = 0
        conv.contact_last_seen_at = now()
        db.session.execute(sa.update(Message).where(
            Message.conversation_id == conv.id, Message.type == "outgoing", Message.status != "read")
            .values(status="read"))
    return conv


OPERATOR_ONLY_FIELDS = ("unread_count", "team_id", "priority", "previous_assignee_id", "custom_attributes",
                        "agent_last_seen_at", "version", "labels", "waiting_since", "first_reply_at")


def conversation_to_dict(conv: Conversation, audience: str) -> dict[str, Any]:
    """JSON shape of a conversation; visitors never get operator-internal fields."""
    data: dict[str, Any] = {
        "id": conv.id, "uuid": str(conv.uuid), "display_id": conv.display_id, "inbox_id": conv.inbox_id,
        "contact_id": conv.contact_id, "status": conv.status,
        "priority": conv.priority,
        "assignee_id": conv.assignee_id, "team_id": conv.team_id,
        "snoozed_until": _iso(conv.snoozed_until), "created_at": _iso(conv.created_at),
        "last_activity_at": _iso(conv.last_activity_at), "waiting_since": _iso(conv.waiting_since),
        "first_reply_at": _iso(conv.first_reply_at), "resolved_at": _iso(conv.resolved_at),
        "unread_count": conv.unread_count, "visitor_unread_count": conv.visitor_unread_count,
        "contact_last_seen_at": _iso(conv.contact_last_seen_at), "agent_last_seen_at": _iso(conv.agent_last_seen_at),
        "last_message_preview": conv.last_message_preview, "last_message_type": conv.last_message_type,
        "custom_attributes": conv.custom_attributes, "version": conv.version,
    }
    if audience == "visitor":
        for key in OPERATOR_ONLY_FIELDS:
            data.pop(key, None)
    return data


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
