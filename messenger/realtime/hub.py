"""The per-process hub: one LISTEN connection, one greenlet, fan-out to this process's streams.

Shape (docs/architecture.md "The event log"; docs/realtime.md):

- Started lazily by the first stream of a worker process, after fork; ``os.getpid()``
  guards against a hub inherited through a fork. Never at import.
- Its own autocommit psycopg connection, outside the SQLAlchemy pool, used by its own
  greenlet only. It LISTENs on ``messenger`` (wake-ups for the log) and
  ``messenger_ephemeral`` (typing).
- After every (re)connect, after every wake-up and at least every ``HUB_POLL_S`` seconds it
  leaves ``notifies()`` and reads the log past its position on the same connection
  (never inside the generator, which holds the connection lock). The periodic read is
  also its health probe; a hung read is cut by a timeout and the connection rebuilt.
- Reconnects with capped exponential backoff and catches up, so a database restart loses
  nothing: the log, not the notification, is the truth.
- Every ``SSE_HEARTBEAT_S`` it re-checks the principals of its open streams (a revoked
  session or a lost inbox membership takes effect within one heartbeat, case 21 in docs/security.md),
  refreshes presence heartbeats and runs the presence sweep.
- Keeps the most recent events in a ring so reconnecting clients replay from memory.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import random
import time
from collections import deque
from typing import Any

import gevent
import psycopg
from flask import Flask
from flask import current_app
from gevent.event import Event

from messenger import metrics
from messenger.config import libpq_url
from messenger.db import EPHEMERAL_CHANNEL
from messenger.extensions import db
from messenger.realtime import access
from messenger.realtime import sequencer
from messenger.realtime.access import OperatorScope
from messenger.realtime.access import Scope
from messenger.realtime.access import Signal
from messenger.realtime.access import VisitorScope
from messenger.realtime.log import SELECT_AFTER
from messenger.realtime.log import LogEvent
from messenger.realtime.sse import frame
from messenger.realtime.subscriptions import Delivery
from messenger.realtime.subscriptions import Prepared
from messenger.realtime.subscriptions import Subscriber
from messenger.realtime.subscriptions import wake
from messenger.services import presence

logger = logging.getLogger(__name__)

CHANNEL = "messenger"
PAGE = 1000
_BACKOFF_MAX_S = 5.0
_QUERY_TIMEOUT_S = 10.0

_HUB: Hub | None = None


class Hub:
    """One per worker process: owns the LISTEN connection and this process's subscribers."""

    def __init__(self, app: Flask) -> None:
        cfg = app.config
        self.app = app
        self.pid = os.getpid()
        self.dsn = libpq_url(str(cfg["SQLALCHEMY_DATABASE_URI"]))
        self.poll_s = float(cfg["HUB_POLL_S"])
        self.tick_s = float(cfg["SSE_HEARTBEAT_S"])
        self.grace_s = int(cfg["PRESENCE_GRACE_S"])
        self.queue_size = int(cfg["SSE_QUEUE_SIZE"])
        self.ring: deque[Prepared] = deque(maxlen=int(cfg["HUB_RING_SIZE"]))
        self.floor = 0  # the ring holds every event with floor < id <= position
        self.position: int | None = None
        self.state = "starting"
        self.ready = Event()
        self.reconnects = 0
        self.last_ok = 0.0
        self.last_error = ""
        self.notify_queue_usage = 0.0
        self._operators: dict[int, Subscriber] = {}
        self._visitors: dict[int, dict[int, Subscriber]] = {}
        self._conn: psycopg.Connection[Any] | None = None
        self._greenlet: gevent.Greenlet | None = None
        self._sweeper: gevent.Greenlet | None = None
        self._next_tick = 0.0
        self._stopping = False
        self.draining = False
        self._to_wake: list[Subscriber] = []
        self._access_changed: set[int] = set()  # operators whose roles/inboxes changed (re-read now)
        # Revoked API tokens this process heard of: a request that authenticated just before the
        # revocation committed but subscribes after its signal is closed at subscribe.
        self._revoked_tokens: set[int] = set()

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        """Spawn the hub greenlet (idempotent)."""
        if self._greenlet is None:
            with self.app.app_context():
                sequencer.start_timer(db.engine)  # numbers writes no commit of ours woke it for
            self._greenlet = gevent.spawn(self._run)

    def drain(self) -> None:
        """Graceful stop (SIGTERM/HUP of gunicorn): every stream ends now with ``retry:`` and
        ``closed: shutdown`` so its client reconnects to a live worker; new ones are closed at once."""
        self.draining = True
        for sub in self._all_subscribers():
            sub.close("shutdown")

    def stop(self) -> None:
        """Stop the greenlet and close every subscriber (tests, shutdown)."""
        self._stopping = True
        for sub in self._all_subscribers():
            sub.close("shutdown")
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
        if self._conn is not None:
            self._conn.close()

    def wait_ready(self, timeout: float) -> bool:
        """True once the hub knows a log position (it has connected at least once)."""
        return self.ready.wait(timeout) and self.position is not None

    def status(self) -> dict[str, Any]:
        """State for /healthz: listening / disconnected / starting, position, seconds since the last good read."""
        lag = round(time.monotonic() - self.last_ok, 1) if self.last_ok else None
        return {"state": self.state, "position": self.position, "lag_s": lag, "pid": self.pid,
                "reconnects": self.reconnects, "notify_queue_usage": self.notify_queue_usage,
                "subscribers": {"operator": len(self._operators),
                                "visitor": sum(len(s) for s in self._visitors.values())},
                **({"error": self.last_error} if self.state == "disconnected" else {})}

    def _run(self) -> None:
        backoff = 0.25
        while not self._stopping:
            try:
                self._connect()
                backoff = 0.25
                self._listen_loop()
            except (psycopg.Error, OSError, gevent.Timeout) as exc:
                self.state = "disconnected"
                self.last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
                logger.warning("hub connection lost (%s); reconnecting in %.1fs", self.last_error, backoff)
            except Exception:  # a bug must not kill realtime for the whole process
                self.state = "disconnected"
                self.last_error = "internal error"
                logger.exception("hub loop failed; restarting")
            self._close_conn()
            if self._stopping:
                return
            gevent.sleep(backoff * (1 + random.random() / 4))
            backoff = min(backoff * 2, _BACKOFF_MAX_S)
            self.reconnects += 1

    def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        sequencer.close_quietly(conn)

    def _connect(self) -> None:
        conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5, application_name="messenger-hub",
                               keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3)
        self._conn = conn
        # LISTEN first (autocommit: effective now), then read: nothing can fall in between.
        conn.execute(f"LISTEN {CHANNEL}")
        conn.execute(f"LISTEN {EPHEMERAL_CHANNEL}")
        if self.position is None:
            with gevent.Timeout(_QUERY_TIMEOUT_S):
                row = conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()
            self.position = self.floor = int(row[0]) if row else 0
        self._catch_up(conn)
        self.state = "listening"
        self.ready.set()
        logger.info("hub listening at position %s (pid %s)", self.position, self.pid)

    def _listen_loop(self) -> None:
        conn = self._conn
        assert conn is not None
        while not self._stopping:
            for note in conn.notifies(timeout=self.poll_s):
                if note.channel != EPHEMERAL_CHANNEL:
                    break  # leave the generator (it holds the connection lock) before reading
                self._on_signal(note.payload)
                if self._access_changed:
                    break  # re-read those operators' access before dispatching any later event
            if self._access_changed:
                changed, self._access_changed = self._access_changed, set()
                with gevent.Timeout(_QUERY_TIMEOUT_S):
                    self._refresh_operators(conn, changed)
            self._catch_up(conn)
            if time.monotonic() >= self._next_tick:
                self._next_tick = time.monotonic() + self.tick_s
                self._maintain(conn)

    # -- the log -------------------------------------------------------------------
    def _catch_up(self, conn: psycopg.Connection[Any]) -> None:
        """Read and dispatch every committed event past our position, page by page."""
        while True:
            assert self.position is not None
            with gevent.Timeout(_QUERY_TIMEOUT_S):
                rows = conn.execute(SELECT_AFTER, {"p": self.position, "n": PAGE}).fetchall()
            self.last_ok = time.monotonic()
            if not rows:
                return
            for row in rows:
                self._publish(Prepared(LogEvent(*row)))
            self._flush_wakeups()
            _observe_dispatch(rows)
            if len(rows) < PAGE:
                return
            gevent.sleep(0)  # let streams write between big pages

    def _publish(self, prepared: Prepared) -> None:
        """Dispatch one event to matching subscribers and advance the position (no yield inside).

        Every subscriber gets the event (or is closed by overflow) before ``position`` moves
        past it: a long-poll that returns ``position`` relies on that.
        """
        event = prepared.event
        self._publish_operators(prepared)
        if event.kind in access.VISITOR_INBOX_KINDS:
            self._publish_inbox_wide(prepared)
        elif event.contact_id is not None and event.contact_id in self._visitors:
            self._publish_contact(prepared, self._visitors[event.contact_id])
        if event.kind == "presence.updated" and event.payload.get("active") is False:
            self._close_operator_streams(event.user_id)
        if len(self.ring) == self.ring.maxlen:
            self.floor = self.ring[0].id
        self.ring.append(prepared)
        self.position = event.id

    def _publish_operators(self, prepared: Prepared) -> None:
        event = prepared.event
        delivery: Delivery | None = None
        for sub in self._operators.values():
            scope = sub.scope
            assert isinstance(scope, OperatorScope)
            if not access.operator_may_see(scope, event):
                continue
            delivery = delivery or prepared.delivery(access.OPERATOR)
            if delivery is None:
                return  # operators may never see this kind
            if sub.offer(delivery):
                self._to_wake.append(sub)

    def _publish_contact(self, prepared: Prepared, group: dict[int, Subscriber]) -> None:
        """A visitor event: the streams of the event's contact."""
        delivery = prepared.delivery(access.VISITOR)
        if delivery is None:
            return
        for sub in group.values():
            scope = sub.scope
            assert isinstance(scope, VisitorScope)
            if access.visitor_may_see(scope, prepared.event) and sub.offer(delivery):
                self._to_wake.append(sub)

    def _close_operator_streams(self, user_id: int | None) -> None:
        """A deactivated operator's streams close now, not at the next heartbeat (case 21)."""
        for sub in list(self._operators.values()):
            if isinstance(sub.scope, OperatorScope) and sub.scope.user_id == user_id:
                sub.close("revoked")

    def _close_token_streams(self, token_id: int) -> None:
        """Streams opened with a revoked API token close now, and any it opens later (the heartbeat
        re-check is the safety net for a signal this process missed)."""
        self._revoked_tokens.add(token_id)
        for sub in list(self._operators.values()):
            if isinstance(sub.scope, OperatorScope) and sub.scope.token_id == token_id:
                sub.close("revoked")

    def _publish_inbox_wide(self, prepared: Prepared) -> None:
        """An inbox-wide visitor event (queue.changed): every visitor stream of that inbox."""
        delivery = prepared.delivery(access.VISITOR)
        if delivery is None:
            return
        for group in self._visitors.values():
            for sub in group.values():
                assert isinstance(sub.scope, VisitorScope)
                if access.visitor_may_see(sub.scope, prepared.event) and sub.offer(delivery):
                    self._to_wake.append(sub)

    def _on_signal(self, payload: str) -> None:
        try:
            raw = json.loads(payload)
            if raw.get("kind") == "api_token.revoked":
                self._close_token_streams(int(raw["token_id"]))
                return
            if raw.get("kind") == "operator.access_changed":
                self._access_changed.update(int(u) for u in raw["user_ids"])
                return
            signal = Signal(kind=str(raw["kind"]), inbox_id=int(raw["inbox_id"]),
                            conversation_id=int(raw["conversation_id"]), contact_id=int(raw["contact_id"]),
                            actor_type=str(raw["actor_type"]),
                            user_id=int(raw["user_id"]) if raw.get("user_id") is not None else None,
                            name=str(raw.get("name") or ""), on=bool(raw["on"]), private=bool(raw.get("private")),
                            expires_in=int(raw.get("expires_in") or 6))
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring a malformed ephemeral signal")
            return
        cache: dict[str, Delivery] = {}

        def delivery(audience: str) -> Delivery:
            if audience not in cache:
                data = access.signal_payload(audience, signal)
                cache[audience] = Delivery(None, signal.kind, data, frame(data, event=signal.kind))
            return cache[audience]

        for sub in self._operators.values():
            if access.signal_may_reach(sub.scope, signal) and sub.offer(delivery(access.OPERATOR)):
                self._to_wake.append(sub)
        for sub in self._visitors.get(signal.contact_id, {}).values():
            if access.signal_may_reach(sub.scope, signal) and sub.offer(delivery(access.VISITOR)):
                self._to_wake.append(sub)
        self._flush_wakeups()

    def _flush_wakeups(self) -> None:
        """Wake every subscriber that got something, in one loop callback."""
        if self._to_wake:
            subscribers, self._to_wake = self._to_wake, []
            wake(subscribers)

    # -- subscribers ---------------------------------------------------------------
    def subscribe(self, scope: Scope, after: int | None) -> tuple[Subscriber, list[Delivery] | None, int]:
        """Register a subscriber; return it, the backlog after ``after`` from memory, and the position covered.

        The backlog is None when the ring cannot prove it holds every event after ``after``;
        the caller then replays from the log. Registration and the ring read happen
        without a greenlet switch, so nothing falls between backlog and live events.
        """
        assert self.position is not None, "subscribe() before the hub is ready"
        sub = Subscriber(scope, self.queue_size)
        if self.draining:
            sub.close("shutdown")  # this worker is stopping: the client reconnects to another one
        elif isinstance(scope, OperatorScope) and scope.token_id in self._revoked_tokens:
            sub.close("revoked")
        if isinstance(scope, OperatorScope):
            self._operators[sub.id] = sub
        else:
            self._visitors.setdefault(scope.contact_id, {})[sub.id] = sub
        position = self.position
        if after is None:
            return sub, [], position
        if not self.floor <= after <= position:
            return sub, None, position
        backlog: list[Delivery] = []
        audience = scope.audience
        for prepared in reversed(self.ring):
            if prepared.id <= after:
                break
            if access.may_see(scope, prepared.event):
                item = prepared.delivery(audience)
                if item is not None:
                    backlog.append(item)
        backlog.reverse()
        return sub, backlog, position

    def unsubscribe(self, sub: Subscriber) -> None:
        """Forget a subscriber (called from the stream's ``finally``)."""
        sub.close(sub.closed or "gone")
        if isinstance(sub.scope, OperatorScope):
            self._operators.pop(sub.id, None)
            return
        group = self._visitors.get(sub.scope.contact_id)
        if group is not None:
            group.pop(sub.id, None)
            if not group:
                self._visitors.pop(sub.scope.contact_id, None)

    def _all_subscribers(self) -> list[Subscriber]:
        subs = list(self._operators.values())
        for group in self._visitors.values():
            subs.extend(group.values())
        return subs

    # -- heartbeat maintenance -----------------------------------------------------
    def _maintain(self, conn: psycopg.Connection[Any]) -> None:
        """Re-check principals, refresh presence heartbeats, sweep stale presence, watch the NOTIFY queue."""
        with gevent.Timeout(_QUERY_TIMEOUT_S):
            row = conn.execute("SELECT pg_notification_queue_usage()").fetchone()
            # A listener stuck in a transaction anywhere fills the queue; at 100 % NOTIFY fails (reliability case 9).
            self.notify_queue_usage = float(row[0]) if row else 0.0
            if self.notify_queue_usage > 0.5:
                logger.error("NOTIFY queue %.0f%% full: a LISTENing session is stuck in a transaction",
                             self.notify_queue_usage * 100)
            self._refresh_operators(conn)
            self._refresh_visitors(conn)
        # In its own greenlet: the router hooks it calls may wait on Redis, and dispatch must not.
        if self._sweeper is None or self._sweeper.dead:
            self._sweeper = gevent.spawn(self._sweep)

    def _refresh_operators(self, conn: psycopg.Connection[Any], only: set[int] | None = None) -> None:
        """Close revoked operator streams, follow inbox membership changes, refresh last_seen_at
        (of every operator stream, or of ``only`` these operators')."""
        subs: list[tuple[Subscriber, OperatorScope]] = [
            (s, s.scope) for s in self._operators.values()
            if isinstance(s.scope, OperatorScope) and (only is None or s.scope.user_id in only)]
        if not subs:
            return
        scopes = [scope for _, scope in subs]
        principals = _operator_principals(conn, sorted({s.user_id for s in scopes}),
                                          sorted({s.session_id for s in scopes} - {""}),
                                          sorted({s.token_id for s in scopes if s.token_id is not None}))
        live = {scope.user_id for sub, scope in subs if principals.follow(sub, scope)}
        if live:
            conn.execute("UPDATE users SET last_seen_at = now() WHERE id = ANY(%s)", (sorted(live),))

    def _refresh_visitors(self, conn: psycopg.Connection[Any]) -> None:
        by_session: dict[int, list[Subscriber]] = {}
        for group in self._visitors.values():
            for sub in group.values():
                assert isinstance(sub.scope, VisitorScope)
                by_session.setdefault(sub.scope.session_id, []).append(sub)
        if not by_session:
            return
        ids = sorted(by_session)
        for session_id in access.sessions_to_close(conn, ids):
            for sub in by_session.pop(session_id, []):
                sub.close("revoked")
        if by_session:
            conn.execute("UPDATE contact_sessions SET last_seen_at = now() WHERE id = ANY(%s)", (sorted(by_session),))

    def _sweep(self) -> None:
        try:
            with self.app.app_context():
                presence.sweep_stale(self.grace_s)
        except Exception:  # the sweep is best effort; the next heartbeat retries
            logger.exception("presence sweep failed")


@dataclasses.dataclass(frozen=True, slots=True)
class _Principals:
    """What the heartbeat re-check read: (session_version, active, role) by user, signed-out
    session ids, revoked API token ids, inbox ids by user."""

    users: dict[int, tuple[Any, ...]]
    signed_out: set[str]
    revoked_tokens: set[int]
    members: dict[int, set[int]]

    def valid(self, scope: OperatorScope) -> bool:
        """An active owner, and the stream's credential still good: its token unrevoked (a token
        outlives password changes), or its browser session signed in at the current version."""
        row = self.users.get(scope.user_id)
        if row is None or not row[1]:
            return False
        if scope.token_id is not None:
            return scope.token_id not in self.revoked_tokens
        return row[0] == scope.session_version and scope.session_id not in self.signed_out

    def follow(self, sub: Subscriber, scope: OperatorScope) -> bool:
        """Close a stream whose credential died, else give it the operator's current inboxes; True if it lives."""
        if not self.valid(scope):
            sub.close("revoked")
            return False
        inbox_ids = None if self.users[scope.user_id][2] == "admin" else frozenset(self.members.get(scope.user_id, ()))
        if inbox_ids != scope.inbox_ids:
            sub.scope = dataclasses.replace(scope, inbox_ids=inbox_ids)
        return True


def _operator_principals(conn: psycopg.Connection[Any], user_ids: list[int], session_ids: list[str],
                         token_ids: list[int]) -> _Principals:
    users = {row[0]: tuple(row[1:]) for row in conn.execute(
        "SELECT id, session_version, active, role FROM users WHERE id = ANY(%s)", (user_ids,))}
    signed_out = {row[0] for row in conn.execute(
        "SELECT id FROM operator_sessions WHERE id = ANY(%s) AND revoked_at IS NOT NULL", (session_ids,))}
    revoked: set[int] = set()
    if token_ids:
        revoked = {row[0] for row in conn.execute(
            "SELECT id FROM api_tokens WHERE id = ANY(%s) AND revoked_at IS NOT NULL", (token_ids,))}
    members: dict[int, set[int]] = {}
    for user_id, inbox_id in conn.execute(
            "SELECT user_id, inbox_id FROM inbox_members WHERE user_id = ANY(%s)", (user_ids,)):
        members.setdefault(user_id, set()).add(inbox_id)
    return _Principals(users, signed_out, revoked, members)


def _observe_dispatch(rows: list[Any]) -> None:
    """Metrics: events dispatched, and commit-to-dispatch lag (``created_at`` is taken during COMMIT)."""
    metrics.EVENTS_DISPATCHED.inc(len(rows))
    now = time.time()
    for row in rows:
        metrics.DISPATCH_LAG.observe(max(0.0, now - row[8].timestamp()))


def get_hub() -> Hub:
    """This process's hub, started on first use (inside a request, after fork)."""
    global _HUB
    if _HUB is None or _HUB.pid != os.getpid():
        _HUB = Hub(current_app._get_current_object())  # type: ignore[attr-defined]
        _HUB.start()
    return _HUB


def drain_streams() -> None:
    """Called when this worker starts a graceful stop (gunicorn.conf.py): close its streams cleanly."""
    if _HUB is not None and _HUB.pid == os.getpid():
        _HUB.drain()


def hub_status() -> dict[str, Any]:
    """State of this process's hub: not_started until the first stream subscribes."""
    if _HUB is None or _HUB.pid != os.getpid():
        return {"state": "not_started"}
    return _HUB.status()
