"""Offline and deactivated operators, and the periodic repair for lost jobs.

An operator who goes offline (presence) or is deactivated gets their waiting
(``waiting_since`` set) conversations put back in the queue when the inbox has
``requeue_on_offline`` (always when deactivated). An operator removed from an inbox gets
every open or pending conversation of theirs in that inbox put back. ``sweep`` runs every minute and does
whatever a lost job (Redis down, worker killed) left undone: requeue, drain, escalate.
"""
from __future__ import annotations

import logging

import sqlalchemy as sa

from messenger.db import transaction
from messenger.extensions import db
from messenger.models import Conversation
from messenger.models import Inbox
from messenger.models import InboxMember
from messenger.models import User
from messenger.services import conversations as conv_service
from messenger.services import routing
from messenger.services.assignment.claims import DrainIncomplete
from messenger.services.assignment.claims import drain
from messenger.services.assignment.escalation import escalate
from messenger.services.assignment.queue import WAITING
from messenger.services.assignment.queue import lock_conversation
from messenger.services.assignment.queue import to_queue

logger = logging.getLogger(__name__)

ESCALATION_GRACE_S = 30  # the sweeper escalates what the scheduler missed by this much
OVERDUE_BATCH = 500


def requeue_operator(user_id: int) -> int:
    """Return an offline or deactivated operator's waiting conversations to the queue; how many."""
    user = db.session.get(User, user_id, populate_existing=True)
    if user is None or (user.active and user.availability != "offline"):
        return 0
    query = (sa.select(Conversation.id).join(Inbox, Inbox.id == Conversation.inbox_id)
             .where(Conversation.assignee_id == user_id, Conversation.status.in_(WAITING),
                    Conversation.waiting_since.is_not(None))
             .order_by(Conversation.waiting_since, Conversation.id))
    if user.active:
        query = query.where(Inbox.requeue_on_offline)
    reason = "deactivated" if not user.active else "offline"
    moved = sum(_requeue_one(conversation_id, user, reason) for conversation_id in list(db.session.scalars(query)))
    if moved:
        logger.info("requeued %s conversations of operator %s (%s)", moved, user_id, reason)
    return moved


def requeue_removed_member(user_id: int, inbox_id: int) -> int:
    """An operator was removed from an inbox: their open and pending conversations there go back
    to the queue (answered or not: they no longer serve it); how many. Nothing if they are a
    member again by now."""
    user = db.session.get(User, user_id, populate_existing=True)
    if user is None or db.session.get(InboxMember, (inbox_id, user_id), populate_existing=True) is not None:
        return 0
    ids = list(db.session.scalars(
        sa.select(Conversation.id).where(Conversation.assignee_id == user_id, Conversation.inbox_id == inbox_id,
                                         Conversation.status.in_(WAITING))
        .order_by(Conversation.waiting_since.nulls_last(), Conversation.id)))
    moved = sum(_requeue_one(conversation_id, user, "removed_from_inbox") for conversation_id in ids)
    if moved:
        logger.info("requeued %s conversations of operator %s removed from inbox %s", moved, user_id, inbox_id)
    return moved


_REQUEUE_TEXT = {"offline": "went offline", "deactivated": "was deactivated",
                 "removed_from_inbox": "was removed from the inbox"}


def _requeue_one(conversation_id: int, user: User, reason: str) -> bool:
    """Requeue one conversation still held by ``user``; ``offline``/``deactivated`` only while it
    waits for an answer, ``removed_from_inbox`` while open or pending (and still not a member)."""
    with transaction():
        conv = lock_conversation(conversation_id)
        if conv is None or conv.assignee_id != user.id or conv.status not in WAITING:
            return False
        if reason == "removed_from_inbox":
            if db.session.get(InboxMember, (conv.inbox_id, user.id)) is not None:
                return False
        elif not conv.waiting_since:
            return False
        inbox = db.session.get(Inbox, conv.inbox_id)
        if inbox is None:
            return False
        to_queue(conv, inbox)
        conv_service.add_activity(conv, f"{user.name} {_REQUEUE_TEXT[reason]}: the conversation is back in the queue",
                                  event="requeue", previous_assignee_id=user.id, reason=reason)
        conv_service.bump(conv)
    return True


def _agents_outside_their_inboxes() -> list[tuple[int, int]]:
    """(agent, inbox) pairs where an active agent holds open or pending conversations of an inbox
    they are no longer a member of (the removal's requeue job was lost). Admins may be assigned
    anywhere, so they are left alone."""
    member = sa.exists().where(InboxMember.inbox_id == Conversation.inbox_id,
                               InboxMember.user_id == Conversation.assignee_id)
    return [(u, i) for u, i in db.session.execute(
        sa.select(Conversation.assignee_id, Conversation.inbox_id).distinct()
        .join(User, User.id == Conversation.assignee_id)
        .where(Conversation.status.in_(WAITING), User.active, User.role == "agent", ~member)).all() if u is not None]


def sweep() -> dict[str, int]:
    """Periodic repair for lost jobs (Redis down, worker killed): requeue, drain, escalate overdue."""
    stranded = db.session.scalars(
        sa.select(Conversation.assignee_id).distinct().join(User, User.id == Conversation.assignee_id)
        .join(Inbox, Inbox.id == Conversation.inbox_id)
        .where(Conversation.status.in_(WAITING), Conversation.waiting_since.is_not(None),
               sa.or_(~User.active, sa.and_(User.availability == "offline", Inbox.requeue_on_offline))))
    requeued = sum(requeue_operator(uid) for uid in list(stranded) if uid is not None)
    requeued += sum(requeue_removed_member(uid, inbox_id) for uid, inbox_id in _agents_outside_their_inboxes())
    inbox_ids = list(db.session.scalars(
        sa.select(Conversation.inbox_id).distinct().join(Inbox, Inbox.id == Conversation.inbox_id)
        .where(Inbox.auto_assignment, Conversation.assignee_id.is_(None), Conversation.status.in_(WAITING),
               Conversation.waiting_since.is_not(None))))
    assigned = incomplete = 0
    for inbox_id in inbox_ids:
        try:
            assigned += len(drain(inbox_id))
        except DrainIncomplete:
            incomplete += 1  # the next sweep (or the retried drain job) finishes it
    overdue = db.session.execute(
        sa.select(Conversation.id, Conversation.assignee_id, Conversation.assigned_at)
        .join(Inbox, Inbox.id == Conversation.inbox_id)
        .where(Inbox.first_reply_timeout_s.is_not(None), Conversation.assignee_id.is_not(None),
               Conversation.first_reply_at.is_(None), Conversation.status.in_(WAITING),
               Conversation.assigned_at < sa.func.now() - sa.func.make_interval(
                   0, 0, 0, 0, 0, 0, Inbox.first_reply_timeout_s + ESCALATION_GRACE_S))
        .order_by(Conversation.assigned_at).limit(OVERDUE_BATCH)).all()
    escalated = 0
    for cid, uid, at in overdue:
        token = routing.escalation_token(uid, at)
        escalated += token is not None and escalate(cid, token)
    return {"requeued": requeued, "assigned": assigned, "escalated": escalated, "incomplete": incomplete}
