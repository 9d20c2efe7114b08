"""RQ entry points. Jobs take ids, open a transaction through a service, and stay thin.

``enqueue`` is what services call (always from ``after_commit``): a Redis outage must not
fail the use case that already committed, so it logs and returns None; the periodic
sweepers pick up whatever was not enqueued.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import current_app
from rq import Queue
from rq.job import Job

logger = logging.getLogger(__name__)

QUEUES = ("assignment", "scanning", "webhooks", "default")

# Modules holding job functions; the worker imports them before forking.
JOB_MODULES: list[str] = [
    "messenger.jobs.assignment",
    "messenger.jobs.scanning",
]


def get_queue(name: str) -> Queue:
    """The RQ queue ``name`` on the app's Redis."""
    redis = current_app.extensions.get("redis")
    if redis is None:
        raise RuntimeError("REDIS_URL is not configured")
    return Queue(name, connection=redis)


def enqueue(queue: str, func: str, *args: Any, delay: timedelta | None = None, **options: Any) -> Job | None:
    """Enqueue ``func`` (dotted path) on ``queue``; never raises (logs instead)."""
    try:
        q = get_queue(queue)
        if delay is not None:
            return q.enqueue_in(delay, func, *args, **options)
        return q.enqueue(func, *args, **options)
    except Exception:
        logger.exception("could not enqueue %s%r on %s", func, args, queue)
        return None
