"""Subscriptions: one bounded queue per open stream or long-poll, fed by the hub.

A subscriber that cannot keep up is never fed silently partial data: when its queue is
full it is closed with reason ``overflow`` and its client reconnects with its last
position and replays from the log (STYLE.md c3). Deliveries are plain tuples so the hub
can fan one prepared frame out to thousands of subscribers cheaply.
"""
from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import NamedTuple

from gevent.event import Event

from messenger.realtime.access import Scope
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
        from messenger.realtime.access import payload_for

        data = payload_for(audience, self.event)
        result = None if data is None else Delivery(self.event.id, self.event.kind, data,
                                                    frame(data, event=self.event.kind, id=self.event.id))
        self._cache[audience] = result
        return result


_ids = itertools.count(1)


@dataclass(eq=False, slots=True)
class Subscriber:
    """One open stream's queue. ``scope`` may be replaced by the hub when access changes."""

    scope: Scope
    maxsize: int
    id: int = field(default_factory=lambda: next(_ids))
    queue: deque[Delivery] = field(default_factory=deque)
    wakeup: Event = field(default_factory=Event)
    closed: str | None = None

    def offer(self, item: Delivery) -> None:
        """Queue one delivery; an overflowing subscriber is closed, never silently trimmed."""
        if self.closed is not None:
            return
        if len(self.queue) >= self.maxsize:
            self.close("overflow")
            return
        self.queue.append(item)
        self.wakeup.set()

    def close(self, reason: str) -> None:
        """Stop this subscriber (overflow, revoked, shutdown); its stream ends at the next wake-up."""
        if self.closed is None:
            self.closed = reason
            self.queue.clear()
        self.wakeup.set()

    def wait(self, timeout: float | None) -> list[Delivery]:
        """Everything queued, waiting up to ``timeout`` seconds for the first item."""
        if not self.queue and self.closed is None:
            self.wakeup.wait(timeout)
        self.wakeup.clear()
        items = list(self.queue)
        self.queue.clear()
        return items
