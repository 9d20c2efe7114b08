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
from collections.abc import Iterator
from typing import Any
from typing import NamedTuple

import sqlalchemy as sa

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
               settings: StreamSettings) -> Iterator[bytes]:
    """The body of an SSE response: retry, (resync,) ready, replay, then live events and heartbeats."""
    yield retry(settings.retry_ms)  # headers and first bytes leave now (proxies wait for them)
    sub, backlog, position = hub.subscribe(scope, after)
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
        hub.unsubscribe(sub)


def _live(sub: Subscriber, sent: int, settings: StreamSettings) -> Iterator[bytes]:
    last_named = time.monotonic()
    while True:
        items = sub.wait(settings.heartbeat_s)
        if sub.closed is not None:
            yield frame({"reason": sub.closed}, event="closed")
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
    """One long-poll answer: events after ``after`` (waiting up to the configured time for some)."""
    sub, backlog, position = hub.subscribe(scope, after)
    try:
        if after is None:
            return {"events": [], "position": position}
        events: list[Delivery] = []
        scanned = max(after, position)
        if backlog is None:
            try:
                scanned = after
                for items, scanned in replay_pages(engine, scope, after):
                    events.extend(items)
                    if len(events) >= LONGPOLL_MAX_EVENTS:
                        break
            except Resync as exc:
                return {"resync": True, "position": exc.position}
        else:
            events = backlog
        if len(events) > LONGPOLL_MAX_EVENTS:
            events = events[:LONGPOLL_MAX_EVENTS]
            last = events[-1].id
            assert last is not None
            return {"events": [_as_json(e) for e in events], "position": last}
        if events:
            return {"events": [_as_json(e) for e in events], "position": scanned}
        deadline = time.monotonic() + settings.longpoll_wait_s
        found: list[Delivery] = []
        while not found and sub.closed is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for item in sub.wait(remaining):
                if item.id is None or item.id > scanned:
                    found.append(item)
        # Everything up to the hub's position was dispatched to us after we subscribed (or replayed).
        hub_position = hub.position if hub.position is not None else scanned
        for item in found:
            if item.id is not None:
                scanned = max(scanned, item.id)
        return {"events": [_as_json(e) for e in found], "position": max(scanned, hub_position)}
    finally:
        hub.unsubscribe(sub)
