"""The inbox queue: which conversations wait, in what order, and the locks a claim takes.

A conversation is queued when it has no assignee, is ``open``/``pending`` and has
``waiting_since``; the queue is ordered by ``(waiting_since, id)``.
"""
from __future__ import annotations

from datetime import datetime
from datetime import timezone

import sqlalchemy as sa

from messenger.db import after_commit
from messenger.db import transaction
from messenger.extensions import db
from messenger.models import Conversation
from messenger.models import Inbox
from messenger.services import routing

# Advisory lock class of the inbox queue (two-int form; capacity.LOCK_OPERATOR is the operators').
LOCK_QUEUE = 72_710
WAITING = ("open", "pending")  # statuses that sit in the queue when unassigned


def now() -> datetime:
    return datetime.now(timezone.utc)


def queue_filter(inbox_id: int) -> sa.ColumnElement[bool]:
    return sa.and_(Conversation.inbox_id == inbox_id, Conversation.assignee_id.is_(None),
                   Conversation.status.in_(WAITING), Conversation.waiting_since.is_not(None))


def is_queued(conv: Conversation) -> bool:
    return conv.assignee_id is None and conv.status in WAITING and conv.waiting_since is not None


def queue_position(conversation_id: int) -> int | None:
    """1-based place of a waiting conversation in its inbox queue; None when it is not queued."""
    conv = db.session.get(Conversation, conversation_id)
    if conv is None or not is_queued(conv):
        return None
    inbox = db.session.get(Inbox, conv.inbox_id)
    if inbox is None or not inbox.auto_assignment:
        return None
    ahead = db.session.scalar(
        sa.select(sa.func.count()).select_from(Conversation).where(
            queue_filter(conv.inbox_id),
            sa.tuple_(Conversation.waiting_since, Conversation.id) < sa.tuple_(
                sa.literal(conv.waiting_since, Conversation.waiting_since.type), sa.literal(conv.id))))
    return int(ahead or 0) + 1


def lock_queue(inbox_id: int) -> None:
    """The inbox queue's advisory lock (drains only: keeps claims FIFO)."""
    db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:c, :k)"), {"c": LOCK_QUEUE, "k": inbox_id})


def lock_conversation(conversation_id: int, *, skip_locked: bool = False) -> Conversation | None:
    query = sa.select(Conversation).where(Conversation.id == conversation_id).execution_options(
        populate_existing=True)
    return db.session.scalar(query.with_for_update(skip_locked=skip_locked))


def to_queue(conv: Conversation, inbox: Inbox) -> None:
    """Take the conversation from its assignee back to the inbox queue (drained after commit)."""
    old_token = routing.escalation_token(conv.assignee_id, conv.assigned_at)
    conv.previous_assignee_id = conv.assignee_id
    conv.assignee_id = None
    conv.assigned_at = None
    if conv.status in WAITING:
        conv.status = "pending" if inbox.auto_assignment else conv.status
        if conv.waiting_since is None:
            conv.waiting_since = now()
    conversation_id = conv.id
    if old_token is not None:
        after_commit(lambda: routing.cancel_escalation(old_token, conversation_id))
    if inbox.auto_assignment:
        routing.capacity_freed(inbox.id)


def mark_queued(inbox_id: int) -> None:
    """Waiting conversations nobody could take become ``pending`` (the queue state the visitor sees)."""
    with transaction():
        inbox = db.session.get(Inbox, inbox_id)
        if inbox is None or not inbox.auto_assignment:
            return
        db.session.execute(
            sa.update(Conversation).where(queue_filter(inbox_id), Conversation.status == "open")
            .values(status="pending", version=Conversation.version + 1, updated_at=sa.func.now())
            .execution_options(synchronize_session=False))
