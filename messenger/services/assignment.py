"""Routing and assignment rules (PRODUCT.md 4). Entry points the other services call."""
from __future__ import annotations

import logging

from messenger.jobs import enqueue

logger = logging.getLogger(__name__)


def request_assignment(conversation_id: int) -> None:
    """Called after commit when a conversation needs an assignee: enqueue the assignment job."""
    enqueue("assignment", "messenger.jobs.assignment.assign_conversation", conversation_id,
            job_id=f"assign-{conversation_id}", result_ttl=0)


def request_queue_drain(inbox_id: int) -> None:
    """Called after commit when capacity was freed in an inbox."""
    enqueue("assignment", "messenger.jobs.assignment.drain_queue", inbox_id, result_ttl=0)


def on_first_reply(conversation_id: int) -> None:
    """Called after commit when an operator first replies: the escalation timer is moot."""
    logger.debug("first reply in conversation %s", conversation_id)
