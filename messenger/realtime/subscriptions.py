"""Subscriptions: one bounded queue per open stream or long-poll, fed by the hub.

A subscriber that cannot keep up is never fed silently partial data: when its queue is
full it is closed with reason ``overflow`` and its client reconnects with its last
position and replays from the log (docs/realtime.md). Deliveries are plain tuples so the hub
can fan one prepared frame out to thousands of subscribers cheaply.
"""
from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import NamedTuple

from gevent import get_hub
from gevent import getcurrent
from greenlet import greenlet

from messenger.realtime.access import Scope
from messenger.realtime.access import payload_for
from messenger.realtime.log import LogEvent
from messenger.realtime.sse import frame


class Delivery(NamedTuple):
    """One thing to send: a log event (``id`` set) or an ephemeral signal (``id`` None)."""

    id: int | None
    kind: str
    data: dict[str, Any]
    frame: bytes


class Prepared:
    """A log event plus its per-audience payload and SSE frame, computed once for all subscribers."""

    __slots__ = ("event", "_cache")

    def __init__(self, event: LogEvent) -> None:
        self.event = event
        self._cache: dict[str, Delivery | None] = {}

    @property
    def id(self) -> int:
        return self.event.id

    def delivery(self, audience: str) -> Delivery | None:
        """The delivery for ``audience`` (None when that audience may never see this event)."""
        try:
            return self._cache[audience]
        except KeyError:
            pass
        data = payload_for(audience, self.event)
        result = None if data is None else Delivery(self.event.id, self.event.kind, data,
                                                    frame(data, event=self.event.kind, id=self.event.id))
        self._cache[audience] = result
        return result


_ids = itertools.count(1)


def wake(subscribers: list[Subscriber]) -> None:
    """Resume the parked stream greenlets of ``subscribers``, from the gevent loop, in one callback.

    One callback for a whole fan-out instead of an ``Event`` per subscriber: each wake-up
    then costs one greenlet switch (measured ~1.4 µs against ~6 µs for Event.set + wait).
    """
    if subscribers:
        get_hub().loop.run_callback(_resume_all, subscribers)


def _resume_all(subscribers: list[Subscriber]) -> None:
    for sub in subscribers:
        sub.resume()


@dataclass(eq=False, slots=True)
class Subscriber:
    """One open stream's queue. ``scope`` may be replaced by the hub when access changes."""

    scope: Scope
    maxsize: int
    id: int = field(default_factory=lambda: next(_ids))
    queue: deque[Delivery] = field(default_factory=deque)
    closed: str | None = None
    parked: greenlet | None = None  # the stream greenlet while it waits
    scheduled: bool = False  # a wake-up is already on its way

    def offer(self, item: Delivery) -> bool:
        """Queue one delivery; True when the caller must ``wake([...])`` this subscriber.

        An overflowing subscriber is closed, never silently trimmed.
        """
        if self.closed is not None:
            return False
        if len(self.queue) >= self.maxsize:
            self.closed = "overflow"
            self.queue.clear()
        else:
            self.queue.append(item)
        if self.parked is not None and not self.scheduled:
            self.scheduled = True
            return True
        return False

    def close(self, reason: str) -> None:
        """Stop this subscriber (overflow, revoked, shutdown); its stream ends at once."""
        if self.closed is None:
            self.closed = reason
            self.queue.clear()
        if self.parked is not None and not self.scheduled:
            self.scheduled = True
            wake([self])

    def resume(self) -> None:
        """Switch to the parked greenlet (runs in the gevent hub); a stale wake-up is ignored."""
        waiting = self.parked
        if waiting is not None and self.scheduled:
            self.parked = None
            self.scheduled = False
            waiting.switch()

    def wait(self, timeout: float | None) -> list[Delivery]:
        """Everything queued, waiting up to ``timeout`` seconds for the first item."""
        if not self.queue and self.closed is None:
            hub = get_hub()
            timer = hub.loop.timer(timeout) if timeout is not None else None
            self.parked = getcurrent()
            self.scheduled = False
            try:
                if timer is not None:
                    timer.start(self._timed_out)
                hub.switch()
            finally:
                self.parked = None
                self.scheduled = False
                if timer is not None:
                    timer.close()
        items = list(self.queue)
        self.queue.clear()
        return items

    def _timed_out(self) -> None:
        waiting = self.parked
        if waiting is not None:
            self.parked = None
            waiting.switch()
