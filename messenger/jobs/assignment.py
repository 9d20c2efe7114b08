"""Assignment jobs (queue ``assignment``): thin wrappers over ``services.assignment``.

Each job is idempotent (running it twice changes nothing the second time: every claim
re-checks the conversation under its row lock) and ends any read transaction it left
open, so a non-forking worker never holds a connection or stale rows between jobs.
Queues, retries and job ids: ``messenger.jobs.catalog``.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from typing import TypeVar

from messenger.extensions import db
from messenger.jobs import catalog
from messenger.jobs import job
from messenger.services import assignment
from messenger.services import routing

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _run(fn: Callable[..., T], *args: Any) -> T:
    try:
        return fn(*args)
    finally:
        db.session.rollback()


@job(catalog.ASSIGN)
def assign_conversation(conversation_id: int) -> int | None:
    """Place a new or reopened conversation; returns its assignee id (None: queued)."""
    return _run(assignment.assign, conversation_id)


@job(catalog.DRAIN_QUEUE)
def drain_queue(inbox_id: int) -> int:
    """A seat was freed in the inbox: assign waiting conversations oldest first; how many."""
    routing.forget_drain_request(inbox_id)
    return len(_run(assignment.drain, inbox_id))


@job(catalog.ESCALATE)
def escalate(conversation_id: int, token: str) -> bool:
    """The first-reply timer fired for one assignment (``token``); True when it escalated."""
    return _run(assignment.escalate, conversation_id, token)


@job(catalog.REQUEUE_OPERATOR)
def requeue_operator(user_id: int) -> int:
    """An operator went offline or was deactivated: their waiting conversations back to the queue."""
    return _run(assignment.requeue_operator, user_id)


@job(catalog.REQUEUE_REMOVED_MEMBER)
def requeue_removed_member(user_id: int, inbox_id: int) -> int:
    """An operator was removed from an inbox: their open conversations there back to the queue."""
    return _run(assignment.requeue_removed_member, user_id, inbox_id)


@job(catalog.SWEEP_ASSIGNMENTS)
def sweep_assignments() -> dict[str, int]:
    """Periodic repair (lost jobs, missed timers); schedules its next run first, so a crash cannot stop it."""
    routing.schedule_sweep()
    result = _run(assignment.sweep)
    if any(result.values()):
        logger.info("assignment sweep: %s", result)
    return result
