"""Caps on open streams per visitor, per operator and per IP (issue 14 item 6, docs/security.md).

Each open SSE stream takes one of gunicorn's ``worker_connections`` for as long as it
lives, so one client must not be able to hold them all. Every stream is admitted under
its keys (the visitor's session or the operator, and the client IP); when a key is over
its cap the *oldest* stream under that key is closed with ``event: closed`` reason
``replaced`` (the newest tab wins, the client of the old one falls back to long-polling).

The caps are per web worker process (the streams live in its memory): one client holds at
most ``cap × WEB_WORKERS`` connections, against ``WORKER_CONNECTIONS`` per worker (4000 by
default against ``STREAMS_PER_IP`` 200). Long-polls are bounded by their own rate limit. A
cap of 0 means no cap (benchmarks that open thousands of streams from one address).
"""
from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable

from flask import current_app

from messenger.realtime.access import OperatorScope
from messenger.realtime.access import Scope
from messenger.realtime.subscriptions import Subscriber
from messenger.security.ratelimit import client_ip

REPLACED = "replaced"


class StreamGate:
    """This process's open streams by key; admitting one over a cap closes the oldest under that key."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._open: dict[str, OrderedDict[int, Subscriber]] = {}

    def admit(self, sub: Subscriber, keys: list[tuple[str, int]]) -> Callable[[], None]:
        """Register ``sub`` under each (key, cap); return the function that releases it."""
        for key, cap in keys:
            group = self._open.setdefault(key, OrderedDict())
            group[sub.id] = sub
            while cap and len(group) > cap:
                _, oldest = group.popitem(last=False)
                oldest.close(REPLACED)

        def release() -> None:
            for key, _ in keys:
                group = self._open.get(key)
                if group is not None:
                    group.pop(sub.id, None)
                    if not group:
                        self._open.pop(key, None)

        return release

    def count(self, key: str) -> int:
        return len(self._open.get(key, ()))


_GATE: StreamGate | None = None


def get_gate() -> StreamGate:
    """This process's gate (a fork gets its own)."""
    global _GATE
    if _GATE is None or _GATE.pid != os.getpid():
        _GATE = StreamGate()
    return _GATE


def keys_for(scope: Scope) -> list[tuple[str, int]]:
    """The (key, cap) pairs a stream of ``scope`` from the current request counts against."""
    cfg = current_app.config
    if isinstance(scope, OperatorScope):
        principal = (f"operator:{scope.user_id}", int(cfg.get("STREAMS_PER_OPERATOR", 20)))
    else:
        principal = (f"visitor:{scope.session_id}", int(cfg.get("STREAMS_PER_VISITOR", 5)))
    return [principal, (f"ip:{client_ip()}", int(cfg.get("STREAMS_PER_IP", 200)))]


def admitter(scope: Scope) -> Callable[[Subscriber], Callable[[], None]]:
    """What ``sse_stream`` calls once subscribed: admit the subscriber under this request's keys."""
    keys = keys_for(scope)
    gate = get_gate()
    return lambda sub: gate.admit(sub, keys)
