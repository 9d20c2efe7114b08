"""RQ entry points and plumbing. Jobs take ids, open a transaction through a service, and stay thin.

``enqueue`` is what services call (always from ``after_commit``): a Redis outage must not
fail the use case that already committed, so it logs and returns None; the periodic
sweepers pick up whatever was not enqueued.

Dependencies point one way: a job module imports the service it calls, so services never
import job modules. They enqueue a job by its address instead, a ``JobRef`` declared in
``messenger.jobs.catalog`` with its queue and RQ options (retries, TTLs); the ``@job(ref)``
decorator on the job function checks that the address is true when the module loads
(Redash's ``@job`` decorator is the model).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import timedelta
from typing import Any
from typing import TypeVar

from flask import current_app
from rq import Queue
from rq import Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job

from messenger.logs import current_request_id

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

QUEUES = ("assignment", "scanning", "webhooks", "default")

# Modules holding job functions; the worker imports them before forking.
JOB_MODULES: list[str] = [
    "messenger.jobs.assignment",
    "messenger.jobs.scanning",
    "messenger.jobs.webhooks",
    "messenger.jobs.mail",
    "messenger.jobs.data",
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


def cancel(job_id: str) -> None:
    """Delete a queued or scheduled job by id; a missing job or a Redis outage is logged, never raised."""
    redis = current_app.extensions.get("redis")
    if redis is None:
        return
    try:
        Job.fetch(job_id, connection=redis).delete()
    except NoSuchJobError:
        return
    except Exception:
        logger.exception("could not cancel job %s", job_id)


@dataclass(frozen=True)
class JobRef:
    """A job's address (dotted path of its function), its queue and how RQ runs it.

    ``retry`` lists the waits (seconds) between attempts after a failure; ``result_ttl`` 0
    stores no result; ``failure_ttl`` keeps a failed job for inspection.
    """

    path: str
    queue: str
    result_ttl: int | None = None
    failure_ttl: int | None = None
    retry: tuple[int, ...] = field(default=())

    def options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {}
        if self.result_ttl is not None:
            opts["result_ttl"] = self.result_ttl
        if self.failure_ttl is not None:
            opts["failure_ttl"] = self.failure_ttl
        if self.retry:
            opts["retry"] = Retry(max=len(self.retry), interval=list(self.retry))
        return opts

    def delay(self, *args: Any, delay: timedelta | None = None, job_id: str | None = None) -> Job | None:
        """Enqueue the job (after ``delay`` when given); never raises (see ``enqueue``)."""
        extra = {"job_id": job_id} if job_id is not None else {}
        return enqueue(self.queue, self.path, *args, delay=delay, **extra, **self.options())

    def schedule_periodic(self, name: str, interval_s: int) -> None:
        schedule_periodic(self.queue, self.path, name, interval_s)

    def ensure_periodic(self, name: str, interval_s: int) -> None:
        ensure_periodic(self.queue, self.path, name, interval_s)


def enqueue_coalesced(ref: JobRef, key: str, *args: Any, ttl_s: int) -> None:
    """Enqueue ``ref`` unless Redis key ``key`` says one is queued and not started yet (it will see our commit).

    The job calls ``forget_request(key)`` as it starts, so anything committed later asks again.
    Without Redis the job is enqueued anyway; if enqueueing fails the key is dropped so the
    sweepers (which read PostgreSQL) can ask again.
    """
    redis = current_app.extensions.get("redis")
    try:
        if redis is not None and not redis.set(key, "1", nx=True, ex=ttl_s):
            return
    except Exception:
        logger.exception("job coalescing unavailable for %s", key)
    if ref.delay(*args) is None and redis is not None:
        forget_request(key)


def forget_request(key: str) -> None:
    """A coalesced job starts: later requests must enqueue a new one (they may not be covered)."""
    redis = current_app.extensions.get("redis")
    try:
        if redis is not None:
            redis.delete(key)
    except Exception:
        logger.exception("could not clear the job request %s", key)


def job(ref: JobRef) -> Callable[[F], F]:
    """Mark ``fn`` as the job ``ref`` names; fails at import when the address is not this function."""
    def register(fn: F) -> F:
        where = f"{fn.__module__}.{fn.__qualname__}"
        if where != ref.path:
            raise RuntimeError(f"job {where} is declared as {ref.path}")
        fn.job_ref = ref  # type: ignore[attr-defined]
        return fn
    return register
