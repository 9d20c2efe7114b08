"""The event log's sequencer: numbers committed events, outside the user's transaction.

Triggers append events to ``events_pending`` without a lock or a NOTIFY (migration 0017),
so user transactions group-commit. ``messenger_sequence_events`` (SQL) moves committed
pending rows into ``events`` under the event-log advisory lock, in its own short
transaction, and NOTIFYs ``messenger`` once per batch (docs/event-log.md). Who runs it:

- **After every commit** of this process (an engine ``commit`` marks the connection, its
  return to the pool wakes the sequencer). In a gevent process (gunicorn) the wake-up is an
  in-process event for this process's sequencer greenlet, so the request never waits for
  it; elsewhere (an RQ work horse, the CLI, tests) the pass runs at once, so whatever the
  caller committed is numbered when it goes on (and before a work horse exits).
- **On a timer** (``SEQUENCER_POLL_MS``, 500 ms): the greenlet of each web process (its
  hub starts it) and the worker's integration loop (``INTEGRATIONS_POLL_S``) pick up
  writes made elsewhere (psql, a process that crashed between its commit and its wake-up).
- **Before every read of the log** by position (``realtime/log.py``): a reader sees every
  event committed before it asked.

Any number of sequencers may run: the advisory lock makes them take turns, one that finds
nothing pending does not take the lock, and one killed mid-batch rolls back, leaving its
rows pending for the next. The sequencer has its own autocommit psycopg connection (one
per process, outside the SQLAlchemy pool, so no request's statement budget pays for it).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import psycopg
import sqlalchemy as sa
from flask import Flask

from messenger.config import libpq_url

logger = logging.getLogger(__name__)

BATCH = 5000  # events numbered per sequencer transaction
_MARK = "messenger_events_maybe_pending"
_SEQUENCERS: dict[tuple[int, str], Sequencer] = {}
_POLL_S: dict[str, float] = {}  # SEQUENCER_POLL_MS by database, set by install() (before a fork, too)
_REGISTRY_LOCK = threading.Lock()


def _cooperative() -> bool:
    """True in a gevent-patched process (gunicorn's gevent workers): wake a greenlet, don't block."""
    from gevent import monkey

    return bool(monkey.is_module_patched("socket"))


class Sequencer:
    """One per process and database: its connection, its background thread, its counters."""

    def __init__(self, dsn: str, poll_s: float) -> None:
        self.dsn = dsn
        self.poll_s = poll_s
        self.pid = os.getpid()
        self.passes = 0
        self.moved = 0
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.Lock()
        self._wakeup = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Number every committed pending event now (batch after batch); return how many moved."""
        with self._lock:
            try:
                return self._run_locked()
            except (psycopg.Error, OSError):
                self._close()
                raise

    def _run_locked(self) -> int:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5,
                                         application_name="messenger-sequencer")
        conn = self._conn
        # Nothing committed and pending (the common case once another sequencer ran): no lock taken.
        row = conn.execute("SELECT EXISTS (SELECT 1 FROM events_pending)").fetchone()
        if not row or not row[0]:
            return 0
        total = 0
        while True:
            row = conn.execute("SELECT messenger_sequence_events(%s)", (BATCH,)).fetchone()
            moved = int(row[0]) if row else 0
            self.passes += 1
            total += moved
            if moved < BATCH:
                self.moved += total
                return total

    def run_quietly(self) -> int:
        """``run_once``, logging instead of raising: the timer, the next commit or a reader retries."""
        try:
            return self.run_once()
        except Exception as exc:  # the database restarting, a timeout: nothing is lost, rows stay pending
            logger.warning("event sequencer pass failed (%s); the next pass retries", type(exc).__name__)
            return 0

    def wake(self) -> None:
        """Something was committed: number it (the greenlet's job under gevent, at once otherwise)."""
        if _cooperative():
            self.start()
            self._wakeup.set()
        else:
            self.run_quietly()

    def start(self) -> None:
        """Start the timer thread (a greenlet: gevent-patched processes only start it); idempotent."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="event-sequencer", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            self._wakeup.wait(self.poll_s)
            self._wakeup.clear()
            if self.run_quietly() == 0 and self._conn is None:
                time.sleep(self.poll_s)  # the database is away: don't spin on wake-ups

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        close_quietly(conn)


def _dsn(engine: sa.Engine) -> str:
    return libpq_url(engine.url.render_as_string(hide_password=False))


def for_engine(engine: sa.Engine) -> Sequencer:
    """This process's sequencer for the engine's database (a forked child gets its own)."""
    dsn = _dsn(engine)
    key = (os.getpid(), dsn)
    found = _SEQUENCERS.get(key)
    if found is None:
        with _REGISTRY_LOCK:
            found = _SEQUENCERS.get(key)
            if found is None:
                found = _SEQUENCERS[key] = Sequencer(dsn, _POLL_S.get(dsn, 0.5))
    return found


def start_timer(engine: sa.Engine) -> None:
    """In a gevent process, start its sequencer greenlet now (the hub does, so psql writes reach its streams)."""
    if _cooperative():
        for_engine(engine).start()


def sequence_pending(engine: sa.Engine) -> int:
    """Number what is committed and pending now (readers of the log call this first)."""
    return for_engine(engine).run_quietly()


def install(app: Flask, engine: sa.Engine) -> None:
    """Wake the sequencer after each commit made through ``engine``; set its timer from the config."""
    _POLL_S[_dsn(engine)] = max(0.05, int(app.config["SEQUENCER_POLL_MS"]) / 1000)
    if sa.event.contains(engine, "commit", _mark):
        return
    sa.event.listen(engine, "commit", _mark)
    sa.event.listen(engine, "checkin", _after_checkin)  # a pool event; follows the pool through dispose()


def _mark(conn: sa.Connection) -> None:
    # Fired before the DBAPI commit: only remember it. The wake-up waits for the connection's
    # return to the pool, which is after the commit (Session.commit returns it at once).
    conn.info[_MARK] = conn.engine


def _after_checkin(dbapi_connection: Any, record: Any) -> None:
    engine = record.info.pop(_MARK, None) if record is not None else None
    if engine is not None:
        for_engine(engine).wake()


def close_quietly(conn: psycopg.Connection[Any] | None) -> None:
    """Close a connection of our own that may already be broken (a restart, a cut socket)."""
    if conn is not None:
        try:
            conn.close()
        except Exception:  # already broken
            pass
