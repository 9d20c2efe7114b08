"""Stream and long-poll bodies, shared by the operator and visitor endpoints; and log replay.

The views authorise and pass plain values (a scope, a position, the engine, settings);
nothing here touches ``db.session`` or a request context. Order of work, for both:

1. subscribe to the hub (live events start queueing now);
2. replay what the client missed: from the hub's ring when it covers the position,
   otherwise from the log on a short engine connection (``event: resync`` when pruned);
3. go live, skipping queued events already sent (positions only grow, so ``id <= sent``
   is a duplicate).
Because the subscription starts before the replay read, no event falls in between.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any
from typing import NamedTuple

import sqlalchemy as sa

from messenger import metrics
from messenger.realtime import access
from messenger.realtime.access import Scope
from messenger.realtime.hub import Hub
from messenger.realtime.log import events_after
from messenger.realtime.log import head_position
from messenger.realtime.log import is_pruned
from messenger.realtime.sse import comment
from messenger.realtime.sse import frame
from messenger.realtime.sse import retry
from messenger.realtime.subscriptions import Delivery
from messenger.realtime.subscriptions import Prepared
from messenger.realtime.subscriptions import Subscriber

logger = logging.getLogger(__name__)

PAGE = 1000
LONGPOLL_MAX_EVENTS = 500
LONGPOLL_GATHER_S = 0.25  # after a live event, keep gathering while more follow within this gap
LONGPOLL_GATHER_MAX_S = 1.0  # ... for at most this long


class StreamSettings(NamedTuple):
    """Plain settings copied from the app config by the view."""

    retry_ms: int
    heartbeat_s: float
    named_heartbeat_s: float
    longpoll_wait_s: float


class Resync(Exception):
    """The client's position cannot be replayed (pruned, or not a position we ever issued)."""

    def __init__(self, position: int) -> None:
        super().__init__(position)
        self.position = position


def check_replayable(conn: sa.Connection, after: int) -> None:
    """Raise Resync when a replay from ``after`` would be partial or meaningless."""
    head = head_position(conn=conn)
    if after > head or is_pruned(after, conn=conn):
        raise Resync(head)


def replay_pages(engine: sa.Engine, scope: Scope, after: int) -> Iterator[tuple[list[Delivery], int]]:
    """Pages of (visible deliveries, last position scanned) from the log after ``after``.

    Each page uses its own short connection, so a slow client never pins one.
    """
    audience = scope.audience
    with engine.connect() as conn:
        check_replayable(conn, after)
    position = after
    while True:
        with engine.connect() as conn:
            rows = events_after(position, PAGE, conn=conn)
        if not rows:
            return
        page = []
        for event in rows:
            if access.may_see(scope, event):
                item = Prepared(event).delivery(audience)
                if item is not None:
                    page.append(item)
        position = rows[-1].id
        yield page, position
        if len(rows) < PAGE:
            return


def _ready(position: int, settings: StreamSettings) -> bytes:
    return frame({"position": position, "heartbeat": settings.named_heartbeat_s}, event="ready", id=position)


def sse_stream(hub: Hub, scope: Scope, after: int | None, engine: sa.Engine,
               settings: StreamSettings,
               admit: Callable[[Subscriber], Callable[[], None]] | None = None) -> Iterator[bytes]:
    """The body of an SSE response: retry, (resync,) ready, replay, then live events and heartbeats.

    ``admit`` (``realtime/limits.py``) registers the subscriber under its stream caps and
    returns its release; it may close older streams of the same client.
    """
    yield retry(settings.retry_ms)  # headers and first bytes leave now (proxies wait for them)
    sub, backlog, position = hub.subscribe(scope, after)
    open_streams = metrics.STREAMS.labels(scope.audience)
    open_streams.inc()
    release = admit(sub) if admit is not None else None
    try:
        sent = position if after is None else after
        if backlog is None and after is not None:
            try:
                pages = replay_pages(engine, scope, after)
                first = next(pages, None)
            except Resync as exc:
                sent = exc.position
                yield frame({"position": sent}, event="resync", id=sent)
                yield _ready(sent, settings)
            else:
                yield _ready(after, settings)
                while first is not None:
                    items, scanned = first
                    if items:
                        yield b"".join(item.frame for item in items)
                    sent = max(sent, scanned)
                    first = next(pages, None)
        else:
            yield _ready(sent, settings)
            if backlog:
                yield b"".join(item.frame for item in backlog)
                sent = max(sent, position)
        yield from _live(sub, sent, settings)
    except sa.exc.DBAPIError as exc:
        # The log is unreachable (database restarting): end the stream, the client retries.
        logger.warning("stream replay failed: %s", type(exc).__name__)
    finally:
        open_streams.dec()
        hub.unsubscribe(sub)
        if release is not None:
            release()


def _live(sub: Subscriber, sent: int, settings: StreamSettings) -> Iterator[bytes]:
    last_named = time.monotonic()
    while True:
        items = sub.wait(settings.heartbeat_s)
        if sub.closed is not None:
            # A worker shutting down tells the client to come back soon (to another worker).
            hint = retry(settings.retry_ms) if sub.closed == "shutdown" else b""
            yield hint + frame({"reason": sub.closed}, event="closed")
            return
        chunks: list[bytes] = []
        for item in items:
            if item.id is not None:
                if item.id <= sent:
                    continue  # already replayed
                sent = item.id
            chunks.append(item.frame)
        now = time.monotonic()
        if now - last_named >= settings.named_heartbeat_s:
            chunks.append(frame({"position": sent}, event="heartbeat"))
            last_named = now
        if chunks:
            yield b"".join(chunks)
        elif not items:
            yield comment("hb")


def _as_json(item: Delivery) -> dict[str, Any]:
    return {"id": item.id, "kind": item.kind, "data": item.data}


def long_poll(hub: Hub, scope: Scope, after: int | None, engine: sa.Engine,
              settings: StreamSettings) -> dict[str, Any]:
    """One long-poll answer: events after ``after`` (waiting up to the configured time for some).

    Contract: the answer's ``position`` never passes an event the answer did not carry, so a
    client that polls again from it misses nothing (a burst that overflows the queue is
    read from the log instead).
    """
    sub, backlog, position = hub.subscribe(scope, after)
    try:
        if after is None:
            return {"events": [], "position": position}
        try:
            events, scanned = _pending(engine, scope, after, backlog, position)
            if len(events) >= LONGPOLL_MAX_EVENTS:
                return _answer(events, scanned)
            return _wait_live(hub, sub, engine, scope, scanned, settings, events)
        except Resync as exc:
            return {"resync": True, "position": exc.position}
    finally:
        hub.unsubscribe(sub)


def _answer(events: list[Delivery], position: int) -> dict[str, Any]:
    return {"events": [_as_json(e) for e in events], "position": position}


def _pending(engine: sa.Engine, scope: Scope, after: int, backlog: list[Delivery] | None,
             position: int) -> tuple[list[Delivery], int]:
    """What the client missed (ring backlog or log replay), at most LONGPOLL_MAX_EVENTS, and the position covered."""
    if backlog is not None:
        events, scanned = backlog, max(after, position)
    else:
        events, scanned = [], after
        for items, scanned in replay_pages(engine, scope, after):  # noqa: B007 (read after the loop)
            events.extend(items)
            if len(events) >= LONGPOLL_MAX_EVENTS:
                break
    if len(events) > LONGPOLL_MAX_EVENTS:
        events = events[:LONGPOLL_MAX_EVENTS]
        last = events[-1].id
        assert last is not None
        scanned = last
    return events, scanned


def _take(sub: Subscriber, scanned: int, timeout: float) -> list[Delivery]:
    return [item for item in sub.wait(timeout) if item.id is None or item.id > scanned]


def _wait_live(hub: Hub, sub: Subscriber, engine: sa.Engine, scope: Scope, scanned: int,
               settings: StreamSettings, missed: list[Delivery]) -> dict[str, Any]:
    """Wait for live events unless some were ``missed`` (up to ``scanned``); once there are some, gather
    what follows them closely into the same answer."""
    deadline = time.monotonic() + settings.longpoll_wait_s
    found: list[Delivery] = list(missed)
    while not found and sub.closed is None and (remaining := deadline - time.monotonic()) > 0:
        found = _take(sub, scanned, remaining)
    if found:
        # A burst of commits (an operator pasting replies, a bulk action) comes back as one
        # answer instead of one request per event (which would also hit rate limits).
        stop = time.monotonic() + LONGPOLL_GATHER_MAX_S
        while sub.closed is None and len(found) < LONGPOLL_MAX_EVENTS and (
                more := _take(sub, scanned, min(LONGPOLL_GATHER_S, max(0.0, stop - time.monotonic())))):
            found.extend(more)
    # Everything up to ``scanned`` is carried (``missed``) or not for this client; live items come after it.
    last = max((item.id for item in found if item.id is not None and item.id > scanned), default=scanned)
    if sub.closed is not None:
        # The queue was dropped (overflow, shutdown, revoked): only what we hold is proven delivered.
        if sub.closed == "overflow" and last == scanned:
            events, position = _pending(engine, scope, scanned, None, scanned)
            return _answer([*found, *events], position)
        return _answer(found, last)
    # Not closed: everything up to the hub's position was offered to our queue and taken above.
    hub_position = hub.position if hub.position is not None else last
    return _answer(found, max(last, hub_position))
