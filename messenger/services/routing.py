"""Routing entry points: how the rest of the app asks the router to act.

Conversations, messages, presence, users and the admin call these; each enqueues an
assignment job once the caller's transaction has committed (``after_commit``; at once
outside a transaction), so the job sees the change. The rule itself (who gets what) lives
in ``services.assignment``, the jobs in ``jobs.assignment``; this module imports neither,
so the dependencies point one way: views/jobs → assignment → conversations/messages →
routing, capacity → models.

A Redis outage never fails the caller: ``JobRef.delay`` logs, and the periodic sweep
(``assignment.sweep``) repairs whatever a lost job left behind.
"""
from __future__ import annotations

import logging
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa

from messenger.db import after_commit
from messenger.extensions import db
from messenger.jobs import cancel
from messenger.jobs import catalog
from messenger.jobs import enqueue_coalesced
from messenger.jobs import forget_request
from messenger.models import Conversation
from messenger.models import Inbox
from messenger.models import InboxMember

logger = logging.getLogger(__name__)

DRAIN_PENDING_TTL_S = 30


def request_assignment(conv: Conversation) -> None:
    """After commit, ask the router to place this conversation (when its inbox auto-assigns)."""
    inbox = db.session.get(Inbox, conv.inbox_id)
    if inbox is None or not inbox.auto_assignment:
        return
    conversation_id = conv.id
    after_commit(lambda: _enqueue_assignment(conversation_id))


def capacity_freed(inbox_id: int) -> None:
    """After commit, let the router drain the inbox queue (a seat became free)."""
    after_commit(lambda: request_queue_drain(inbox_id))


def request_queue_drain(inbox_id: int) -> None:
    """Enqueue a drain of the inbox queue now (coalesced while one is still queued)."""
    enqueue_coalesced(catalog.DRAIN_QUEUE, _drain_key(inbox_id), inbox_id, ttl_s=DRAIN_PENDING_TTL_S)
    ensure_sweeper()


def forget_drain_request(inbox_id: int) -> None:
    """A drain job starts: later requests must enqueue a new one (they may not be covered)."""
    forget_request(_drain_key(inbox_id))


def on_first_reply(conv: Conversation) -> None:
    """An operator first replied: after commit, cancel the pending escalation of this assignment."""
    token, conversation_id = escalation_token(conv.assignee_id, conv.assigned_at), conv.id
    if token is not None:
        after_commit(lambda: cancel_escalation(token, conversation_id))


def on_operator_offline(user_id: int) -> None:
    """An operator went offline or was deactivated: after commit, requeue their waiting chats."""
    after_commit(lambda: catalog.REQUEUE_OPERATOR.delay(user_id))


def on_members_removed(inbox_id: int, user_ids: list[int]) -> None:
    """Operators were removed from an inbox: after commit, requeue their conversations there."""
    removed = list(user_ids)

    def enqueue_all() -> None:
        for user_id in removed:
            catalog.REQUEUE_REMOVED_MEMBER.delay(user_id, inbox_id)

    after_commit(enqueue_all)


def on_operator_online(user_id: int) -> None:
    """An operator came online (or got more capacity): after commit, drain their inboxes."""
    inbox_ids = list(db.session.scalars(sa.select(InboxMember.inbox_id).where(InboxMember.user_id == user_id)))

    def drain_all() -> None:
        for inbox_id in inbox_ids:
            request_queue_drain(inbox_id)

    after_commit(drain_all)


def on_capacity_changed(*, user_id: int | None = None, inbox_id: int | None = None) -> None:
    """An operator's or an inbox's capacity changed: after commit, drain what may now fit."""
    if user_id is not None:
        on_operator_online(user_id)
    if inbox_id is not None:
        capacity_freed(inbox_id)


def escalation_token(user_id: int | None, assigned_at: datetime | None) -> str | None:
    """Identity of one assignment (assignee + when): an escalation job for another one is moot."""
    if user_id is None or assigned_at is None:
        return None
    return f"{user_id}-{int(assigned_at.timestamp() * 1_000_000)}"


def schedule_escalation(conversation_id: int, token: str, delay: timedelta) -> None:
    """Arm the first-reply timer of one assignment (call after commit)."""
    catalog.ESCALATE.delay(conversation_id, token, delay=delay,
                           job_id=catalog.escalation_job_id(conversation_id, token))


def cancel_escalation(token: str | None, conversation_id: int) -> None:
    """Disarm it (call after commit); the job re-checks its token anyway, so a missed cancel is harmless."""
    if token is not None:
        cancel(catalog.escalation_job_id(conversation_id, token))


def ensure_sweeper() -> None:
    """Start the periodic assignment sweep unless one is scheduled."""
    catalog.SWEEP_ASSIGNMENTS.ensure_periodic(catalog.SWEEP_ASSIGNMENTS_NAME, catalog.SWEEP_ASSIGNMENTS_INTERVAL_S)


def schedule_sweep() -> None:
    """Schedule the next periodic sweep (the sweep job calls this first, so a crash cannot stop the chain)."""
    catalog.SWEEP_ASSIGNMENTS.schedule_periodic(catalog.SWEEP_ASSIGNMENTS_NAME,
                                                catalog.SWEEP_ASSIGNMENTS_INTERVAL_S)


def _enqueue_assignment(conversation_id: int) -> None:
    catalog.ASSIGN.delay(conversation_id)
    ensure_sweeper()


def _drain_key(inbox_id: int) -> str:
    return f"messenger:assignment:drain:{inbox_id}"
