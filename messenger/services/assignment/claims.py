"""Claims: a conversation gets an assignee in one transaction that re-counts capacity.

Locks, always taken in this order, so there is no deadlock: the inbox queue advisory lock
(drains only, keeps claims FIFO), a conversation row ``FOR UPDATE``, then per-operator
advisory locks in ascending user id. The drain takes the operator locks before it looks
for a conversation, and then only with ``SKIP LOCKED``, so it never waits on a row while
holding them.
"""
from __future__ import annotations

import logging
import time
from datetime import timedelta

import sqlalchemy as sa

from messenger.db import after_commit
from messenger.db import transaction
from messenger.errors import Conflict
from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.models import Conversation
from messenger.models import Inbox
from messenger.models import InboxMember
from messenger.models import TeamMember
from messenger.models import User
from messenger.services import capacity
from messenger.services import conversations as conv_service
from messenger.services import routing
from messenger.services.assignment import policy
from messenger.services.assignment.queue import is_queued
from messenger.services.assignment.queue import lock_conversation
from messenger.services.assignment.queue import lock_queue
from messenger.services.assignment.queue import mark_queued
from messenger.services.assignment.queue import now
from messenger.services.assignment.queue import queue_filter

logger = logging.getLogger(__name__)

CANDIDATES = 20  # queue head scanned per claim
DRAIN_LOCK_RETRIES = 5  # short waits (0.05 s, 0.1 s, …) for a locked candidate before the drain gives up
SKIPPED = -1  # claim_next: a candidate was locked, nothing proven


def assign(conversation_id: int) -> int | None:
    """Place one conversation (idempotent): drain its inbox oldest first; its assignee or None (queued)."""
    conv = db.session.get(Conversation, conversation_id, populate_existing=True)
    if conv is None:
        return None
    if conv.assignee_id is not None or not is_queued(conv):
        return conv.assignee_id
    drain(conv.inbox_id)
    conv = db.session.get(Conversation, conversation_id, populate_existing=True)
    return None if conv is None else conv.assignee_id


class DrainIncomplete(Exception):
    """A waiting conversation stayed locked by a concurrent change (a message being sent) while a seat
    was free: the drain did not finish and must run again (the job is retried; the sweep repeats it)."""


def drain(inbox_id: int) -> list[int]:
    """Assign waiting conversations oldest first while someone is free; the ids assigned, in order.

    Raises ``DrainIncomplete`` when a candidate stayed locked through a few short retries: a
    drain that skipped a row never reports success.
    """
    assigned: list[int] = []
    busy_rounds = 0
    while True:
        conversation_id = claim_next(inbox_id)
        if conversation_id == SKIPPED:
            busy_rounds += 1
            if busy_rounds > DRAIN_LOCK_RETRIES:
                mark_queued(inbox_id)
                raise DrainIncomplete(f"inbox {inbox_id}: a waiting conversation stayed locked; drain again")
            time.sleep(0.05 * busy_rounds)  # the sender's transaction is short
            continue
        if conversation_id is None:
            break
        assigned.append(conversation_id)
    mark_queued(inbox_id)
    if assigned:
        logger.info("inbox %s: assigned %s from the queue", inbox_id, assigned)
    return assigned


def claim_next(inbox_id: int) -> int | None:
    """One claim transaction: the oldest waiting conversation that has a free operator.

    Returns its id, None when nothing can be assigned, or ``SKIPPED`` when a candidate was
    locked by another transaction (so "nothing to do" is not proven).
    """
    skipped = False
    with transaction():
        lock_queue(inbox_id)
        inbox = db.session.get(Inbox, inbox_id, populate_existing=True)
        if inbox is None or not inbox.auto_assignment:
            return None
        if not db.session.scalar(sa.select(sa.exists().where(queue_filter(inbox_id)))):
            return None  # nothing waits: no operator lock taken
        all_seats = capacity.free_seats(inbox)
        if not all_seats:
            return None
        for conversation_id, team_id, seats in _candidates(inbox_id, all_seats):
            conv = lock_conversation(conversation_id, skip_locked=True)
            if conv is None:
                skipped = True  # locked by a concurrent change: it may still be waiting
                continue
            if not is_queued(conv) or conv.team_id != team_id:
                continue
            _auto_assign(conv, inbox, seats)
            return conv.id
    return SKIPPED if skipped else None


def _candidates(inbox_id: int, all_seats: list[capacity.Seat]) -> list[tuple[int, int | None, list[capacity.Seat]]]:
    """The queue head, oldest first, each with its team and the free seats that may take it.

    Conversations of teams with nobody free are skipped (no head-of-line blocking).
    """
    free = {seat.user_id for seat in all_seats}
    teams = set(db.session.scalars(sa.select(TeamMember.team_id).where(TeamMember.user_id.in_(free))))
    rows = db.session.execute(
        sa.select(Conversation.id, Conversation.team_id).where(
            queue_filter(inbox_id), sa.or_(Conversation.team_id.is_(None), Conversation.team_id.in_(teams)))
        .order_by(Conversation.waiting_since, Conversation.id).limit(CANDIDATES)).all()
    result = []
    for conversation_id, team_id in rows:
        seats = all_seats
        if team_id is not None:
            members = set(db.session.scalars(sa.select(TeamMember.user_id).where(
                TeamMember.team_id == team_id, TeamMember.user_id.in_(free))))
            seats = [s for s in all_seats if s.user_id in members]
        result.append((conversation_id, team_id, seats))
    return result


def _auto_assign(conv: Conversation, inbox: Inbox, seats: list[capacity.Seat]) -> None:
    seat, reason = policy.pick(inbox, conv, seats)
    set_assignee(conv, inbox, seat.user_id)
    if reason == policy.ROUND_ROBIN:
        inbox.rr_last_user_id = seat.user_id
    conv_service.add_activity(conv, f"Assigned to {seat.name} ({reason})", event="assignment",
                              assignee_id=seat.user_id, reason=reason.replace(" ", "_"))
    conv_service.bump(conv)


def claim_for(conv: Conversation, inbox: Inbox, user_id: object, *, actor_id: int) -> None:
    """Manual claim: the target must be an active member, present, and below capacity (checked under its lock)."""
    if not conv_service.valid_id(user_id):
        raise ValidationError("user_id must be an operator id or null.", field="user_id")
    capacity.lock_operators([user_id])
    user = db.session.get(User, user_id, populate_existing=True)
    member = db.session.get(InboxMember, (inbox.id, user_id)) is not None
    if user is None or not user.active or not (member or user.role == "admin"):
        raise ValidationError("That operator is not a member of this inbox.", field="user_id", code="not_member")
    if user.availability == "offline" and inbox.requeue_on_offline:
        message = ("You are offline: go online to take conversations." if user_id == actor_id
                   else f"{user.name} is offline.")
        raise ValidationError(message, field="user_id", code="operator_offline")
    row = db.session.execute(capacity.loads(inbox, [user_id])).one()
    if not capacity.below_capacity(inbox, row):
        raise Conflict(f"{user.name} is at capacity.", code="at_capacity",
                       conversation=conv_service.conversation_to_dict(conv, "operator"))
    set_assignee(conv, inbox, user_id)


def set_assignee(conv: Conversation, inbox: Inbox, user_id: int, *, cancel_timer: bool = True) -> None:
    """Point the conversation at ``user_id`` (already checked) and (re)arm the escalation timer.

    ``cancel_timer`` False when the caller *is* that timer's job (RQ deletes it when it ends).
    """
    old_token = routing.escalation_token(conv.assignee_id, conv.assigned_at) if cancel_timer else None
    if conv.assignee_id is None and conv.status == "pending":
        conv.status = "open"
    if conv.assignee_id is not None:
        conv.previous_assignee_id = conv.assignee_id
    conv.assignee_id = user_id
    conv.assigned_at = now()
    db.session.execute(sa.update(User).where(User.id == user_id).values(last_assigned_at=conv.assigned_at))
    conversation_id = conv.id
    if old_token is not None:
        after_commit(lambda: routing.cancel_escalation(old_token, conversation_id))
    if inbox.first_reply_timeout_s and conv.first_reply_at is None:
        token = routing.escalation_token(user_id, conv.assigned_at)
        delay = timedelta(seconds=inbox.first_reply_timeout_s)
        if token is not None:  # always: both parts were just set
            after_commit(lambda: routing.schedule_escalation(conversation_id, token, delay))
