"""HTTP glue shared by the operator and visitor realtime endpoints.

Parses the client's position, makes sure the hub is up, and builds the SSE / long-poll
responses from plain values. Views call these after authorising.
"""
from __future__ import annotations

import socket

from flask import Response
from flask import current_app
from flask import jsonify
from flask import request

from messenger.errors import DomainError
from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.realtime.access import Scope
from messenger.realtime.hub import Hub
from messenger.realtime.hub import get_hub
from messenger.realtime.limits import admitter
from messenger.realtime.streams import StreamSettings
from messenger.realtime.streams import long_poll
from messenger.realtime.streams import sse_stream

_MAX_POSITION = 2**63 - 1
_READY_WAIT_S = 5.0


class Unavailable(DomainError):
    """The realtime hub has not reached the database yet; the client retries."""

    status = 503
    code = "unavailable"


def _position(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    value = value.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 19 or int(value) > _MAX_POSITION:
        raise ValidationError(f"{name} must be a non-negative integer position.", field=name)
    return int(value)


def requested_position() -> int | None:
    """The larger of ``Last-Event-ID`` (browser reconnect) and ``?after=`` (new EventSource), or None."""
    header = _position(request.headers.get("Last-Event-ID"), "Last-Event-ID")
    query = _position(request.args.get("after"), "after")
    candidates = [p for p in (header, query) if p is not None]
    return max(candidates) if candidates else None


def settings() -> StreamSettings:
    """The realtime timing settings of this app, as plain values."""
    cfg = current_app.config
    return StreamSettings(retry_ms=int(cfg["SSE_RETRY_MS"]), heartbeat_s=float(cfg["SSE_HEARTBEAT_S"]),
                          named_heartbeat_s=float(cfg["SSE_NAMED_HEARTBEAT_S"]),
                          longpoll_wait_s=float(cfg["LONGPOLL_WAIT_S"]))


def ready_hub() -> Hub:
    """This process's hub once it knows its position; 503 JSON if the database is unreachable."""
    hub = get_hub()
    if not hub.wait_ready(_READY_WAIT_S):
        raise Unavailable("Realtime is starting or the database is unreachable; retry shortly.")
    return hub


def _no_delay() -> None:
    """Send each frame at once: with Nagle, a frame written while the previous one is unacknowledged
    waits for the client's delayed ACK (up to 40 ms on Linux)."""
    sock = request.environ.get("gunicorn.socket")
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass  # not fatal: only latency


def sse_response(scope: Scope, after: int | None) -> Response:
    """A text/event-stream response for ``scope`` starting after ``after``."""
    hub = ready_hub()
    # The body outlives the view: end its read transaction so the stream never holds a pooled
    # connection while it waits (the views' presence heartbeat commits already; this keeps it true).
    db.session.rollback()
    _no_delay()
    body = sse_stream(hub, scope, after, db.engine, settings(), admit=admitter(scope))
    # The body yields bytes already: direct_passthrough skips Werkzeug's per-chunk re-encoding.
    response = Response(body, mimetype="text/event-stream", direct_passthrough=True)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def poll_response(scope: Scope, after: int | None) -> Response:
    """A long-poll JSON answer for ``scope`` (waits up to LONGPOLL_WAIT_S for new events)."""
    hub = ready_hub()
    engine = db.engine
    # Give the pooled connection back before waiting: a poll must not hold one for 25 s. (Rollback
    # ends the read-only transaction but keeps g's objects attached for after-request hooks.)
    db.session.rollback()
    response = jsonify(long_poll(hub, scope, after, engine, settings()))
    response.headers["Cache-Control"] = "no-store"
    return response
