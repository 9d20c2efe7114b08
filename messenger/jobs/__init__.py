"""RQ entry points. Jobs take ids, open a transaction through a service, and stay thin.

``enqueue`` is what services call (always from ``after_commit``): a Redis outage must not
fail the use case that already committed, so it logs and returns None; the periodic
sweepers pick up whatever was not enqueued.
"""
from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from flask import current_app
from rq import Queue
from rq.job import Job

from messenger.logs import current_request_id

logger = logging.getLogger(__name__)

QUEUES = ("assignment", "scanning", "webhooks", "default")

# Modules holding job functions; the worker imports them before forking.
JOB_MODULES: list[str] = [
    "messenger.jobs.assignment",
    "messenger.jobs.scanning",
    "messenger.jobs.webhooks",
    "messenger.jobs.mail",
]


def get_queue(name: str) -> Queue:
    """The RQ queue ``name`` on the app's Redis."""
    redis = current_app.extensions.get("redis")
    if redis is None:
        raise RuntimeError("REDIS_URL is not configured")
    return Queue(name, connection=redis)


def enqueue(queue: str, func: str, *args: Any, delay: timedelta | None = None, **options: Any) -> Job | None:
    """Enqueue ``func`` (dotted path) on ``queue``; never raises (logs instead)."""
    request_id = current_request_id()
    if request_id and "meta" not in options:
        options["meta"] = {"request_id": request_id}  # the worker logs this job under the same id
    try:
        q = get_queue(queue)
        if delay is not None:
            return q.enqueue_in(delay, func, *args, **options)
        return q.enqueue(func, *args, **options)
    except Exception:
        logger.exception("could not enqueue %s%r on %s", func, args, queue)
        return None


def schedule_periodic(queue: str, func: str, name: str, interval_s: int) -> None:
    """Schedule the next run of periodic job ``name`` (one job id per time slot) and mark it alive in Redis."""
    slot = int(time.time() + interval_s) // interval_s
    enqueue(queue, func, delay=timedelta(seconds=interval_s), job_id=f"{name}-{slot}", result_ttl=0)
    redis = current_app.extensions.get("redis")
    try:
        if redis is not None:
            redis.set(f"messenger:periodic:{name}", "1", ex=interval_s * 3)
    except Exception:
        logger.exception("could not mark the periodic job %s as scheduled", name)


def ensure_periodic(queue: str, func: str, name: str, interval_s: int) -> None:
    """Start the chain of ``schedule_periodic`` unless its Redis marker says one is scheduled."""
    redis = current_app.extensions.get("redis")
    try:
        if redis is None or not redis.set(f"messenger:periodic:{name}", "1", nx=True, ex=interval_s * 3):
            return
    except Exception:
        logger.exception("could not check the periodic job %s", name)
        return
    schedule_periodic(queue, func, name, interval_s)
