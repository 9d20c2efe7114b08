"""The worker's integration loop: committed events become work, found from PostgreSQL alone.

A child process of ``worker.py`` (when it serves the ``webhooks`` queue; a process, not a
thread, because the RQ worker forks a work horse per job and a fork must never copy a
lock another thread holds) LISTENs on the event
log's wake-up channel with its own connection. On each wake-up (bursts coalesced) and at
least every ``INTEGRATIONS_POLL_S`` seconds it runs the webhook pump (log -> delivery
rows -> jobs); every poll it also runs the sweepers that re-enqueue what Redis lost
(due webhook deliveries, pending e-mail replies), every minute the reports' count
compaction and, hourly, the retention job. Several
workers may run it at once: the pump skips webhooks another worker holds, deliveries are
unique per event, and jobs claim their rows before acting.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess

import psycopg
from flask import Flask
from flask import current_app

from messenger.config import libpq_url
from messenger.extensions import db

logger = logging.getLogger(__name__)

COALESCE_S = 0.2
PRUNE_INTERVAL_S = 3600
REPORT_COUNTS_INTERVAL_S = 60


class IntegrationLoop:
    """Run ``pump`` on every event-log wake-up and ``sweep`` every poll interval."""

    def __init__(self, app: Flask, parent_pid: int | None = None) -> None:
        self.app = app
        self.parent_pid = parent_pid
        self.stop_event = threading.Event()
        self.poll_s = max(1, int(app.config["INTEGRATIONS_POLL_S"]))
        self._last_sweep = 0.0

    def stop(self) -> None:
        self.stop_event.set()

    def run(self) -> None:
        backoff = 1.0
        while not self.stop_event.is_set():
            try:
                self._listen()
                backoff = 1.0
            except Exception:
                logger.exception("integration loop failed; retrying in %.0f s", backoff)
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def _listen(self) -> None:
        url = libpq_url(str(self.app.config["SQLALCHEMY_DATABASE_URI"]))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("LISTEN messenger")
            while not self.stop_event.is_set():
                if self.parent_pid is not None and os.getppid() != self.parent_pid:
                    self.stop()  # the worker is gone: so are we
                    return
                self.tick()
                woke = any(True for _ in conn.notifies(timeout=self.poll_s, stop_after=1))
                if woke:
                    time.sleep(COALESCE_S)  # one pump for a burst of commits
                    for _ in conn.notifies(timeout=0.01):
                        pass

    def tick(self) -> None:
        """One round: pump always, sweepers once per poll interval."""
        from messenger.realtime import sequencer
        from messenger.services import webhooks

        # Number what was committed without a wake-up (psql, a crashed process) before pumping the log.
        self._guarded(lambda: sequencer.sequence_pending(db.engine))
        self._guarded(webhooks.pump_all)
        if time.monotonic() - self._last_sweep >= self.poll_s:
            self._last_sweep = time.monotonic()
            for sweeper in sweepers():
                self._guarded(sweeper)

    def _guarded(self, fn: Callable[[], object]) -> None:
        with self.app.app_context():
            try:
                fn()
            except Exception:
                logger.exception("integration loop: %s failed", getattr(fn, "__name__", fn))
            finally:
                db.session.remove()


def sweepers() -> list[Callable[[], object]]:
    """The periodic repairs the loop runs (each reads PostgreSQL, enqueues what is due)."""
    from messenger.services import data_requests
    from messenger.services import email_replies
    from messenger.services import webhooks

    return [webhooks.sweep, email_replies.sweep, data_requests.sweep, repair_assignments, prune_event_log,
            compact_report_counts]


_last_run: dict[str, float] = {}


def _due(name: str, interval_s: float) -> bool:
    """True once per ``interval_s`` in this process (and on the first call: at worker start)."""
    now = time.monotonic()
    last = _last_run.get(name)
    if last is not None and now - last < interval_s:
        return False
    _last_run[name] = now
    return True


def repair_assignments() -> dict[str, int] | None:
    """The database is the memory of work to do: unassigned open conversations with a free seat get
    assigned, stranded ones requeued, overdue escalations run, every ``REPAIR_INTERVAL_S`` and at
    worker start, whatever Redis lost."""
    if not _due("assignment", float(current_app.config["REPAIR_INTERVAL_S"])):
        return None
    from messenger.services import assignment

    result = assignment.sweep()
    if any(result.values()):
        logger.info("assignment repair: %s", result)
    return result


def prune_event_log() -> int | None:
    """Hourly: delete event-log rows older than ``EVENT_RETENTION_HOURS`` (0 keeps them forever);
    a client whose position was pruned gets ``resync`` (docs/event-log.md)."""
    hours = int(current_app.config["EVENT_RETENTION_HOURS"])
    if hours <= 0 or not _due("prune", PRUNE_INTERVAL_S):
        return None
    from messenger.realtime.log import prune_events

    deleted = prune_events(hours)
    if deleted:
        logger.info("event log: pruned %s events older than %s h", deleted, hours)
    return deleted


def _run_child(app: Flask, parent_pid: int) -> None:
    db.engine.dispose(close=False)  # never share the parent's pooled connections
    IntegrationLoop(app, parent_pid).run()


def start(app: Flask) -> BaseProcess:
    """Start the loop in a child process of this worker (call before any thread starts)."""
    process = multiprocessing.get_context("fork").Process(
        target=_run_child, args=(app, os.getpid()), name="integration-loop", daemon=True)
    process.start()
    return process


def compact_report_counts() -> int | None:
    """Every minute: fold the reports' count deltas into ``report_counts`` (reports read both, so
    this only keeps them fast; services/reports.py)."""
    if not _due("report_counts", REPORT_COUNTS_INTERVAL_S):
        return None
    from messenger.services import reports

    return reports.compact_report_counts()
