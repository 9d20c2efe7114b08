"""RQ worker entry: ``python worker.py`` runs the queues with the scheduler.

Job modules are imported before the fork loop so work horses don't import per job, the
mappers are configured once, and each forked horse drops the parent's pooled
connections (docs/realtime.md). Each job logs under the request id of the request that
enqueued it.
"""
from __future__ import annotations

import importlib
import logging
import os
import sys
import time
from typing import Any

import sqlalchemy.orm as so
from redis.exceptions import RedisError
from rq import Worker

from messenger import create_app
from messenger.config import configure_logging
from messenger.config import settings_from_env
from messenger.extensions import db
from messenger.jobs import JOB_MODULES
from messenger.jobs import QUEUES
from messenger.logs import bind_request_id

logger = logging.getLogger("messenger.worker")


class MessengerWorker(Worker):
    """An RQ worker whose jobs log with the request id they were enqueued under."""

    def perform_job(self, job: Any, queue: Any, *args: Any, **kwargs: Any) -> bool:
        bind_request_id((job.meta or {}).get("request_id"))
        logger.info("running job %s (%s)", job.func_name, job.id, extra={"job_id": job.id, "queue": queue.name})
        return super().perform_job(job, queue, *args, **kwargs)


RESTART_DELAY_S = 2


def main(argv: list[str]) -> int:
    settings = settings_from_env()
    configure_logging(settings)
    app = create_app(settings)
    ctx = app.app_context()
    ctx.push()
    for module in JOB_MODULES:
        importlib.import_module(module)
    so.configure_mappers()
    engine = db.engine
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
    queues = argv or list(QUEUES)
    from messenger.jobs import loop

    # A child process: event log -> webhook deliveries, and the repairs that read PostgreSQL, not
    # Redis (assignment, pruning, lost deliveries), at start and on a timer.
    loop.start(app)
    while True:
        worker = MessengerWorker(queues, connection=app.extensions["redis"])
        try:
            worker.work(with_scheduler=True, logging_level=settings["LOG_LEVEL"])
        except RedisError:
            logger.exception("the worker lost Redis")
        if worker._shutdown_requested_date is not None:  # SIGTERM / SIGINT: a real stop
            return 0
        # RQ quits when Redis vanishes under a running job: start again once it is back
        # (the database still holds the work; the sweepers re-enqueue it).
        logger.warning("worker stopped without a shutdown request; restarting in %s s", RESTART_DELAY_S)
        time.sleep(RESTART_DELAY_S)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
