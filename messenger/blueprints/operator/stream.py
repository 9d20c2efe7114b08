"""Operator realtime endpoints: the SSE stream, the long-poll fallback, typing, availability.

Auth happens here, in the view; the stream body gets plain values only (no
``stream_with_context``, no session held while streaming). See docs/contracts.md.
"""
from __future__ import annotations

from flask import g
from flask import jsonify
from flask.typing import ResponseReturnValue

from messenger.blueprints.operator.auth import login_required
from messenger.blueprints.operator.blueprint import bp
from messenger.contract import shapes
from messenger.contract.core import operation
from messenger.contract.operator import PositionQuery
from messenger.contract.operator import SetAvailability
from messenger.contract.operator import TypingSignal
from messenger.extensions import limiter
from messenger.models import User
from messenger.realtime.access import OperatorScope
from messenger.realtime.http import poll_response
from messenger.realtime.http import requested_position
from messenger.realtime.http import sse_response
from messenger.security.ratelimit import operator_key
from messenger.security.ratelimit import presence_limit
from messenger.security.ratelimit import typing_limit
from messenger.services import presence
from messenger.services import typing
from messenger.services.inboxes import visible_inbox_ids


def operator_scope(user: User) -> OperatorScope:
    """The plain-value principal of an operator's stream."""
    inbox_ids = None if user.role == "admin" else frozenset(visible_inbox_ids(user))
    return OperatorScope(user_id=user.id, session_version=user.session_version, inbox_ids=inbox_ids,
                         session_id=str(g.get("operator_session_id") or ""), token_id=g.get("api_token_id"))


def _start() -> tuple[OperatorScope, int | None]:
    """The caller's scope and requested position; the stream or poll counts as a presence heartbeat."""
    after = requested_position()
    scope = operator_scope(g.operator)
    presence.operator_seen(scope.user_id)
    return scope, after


@bp.route("/api/v1/stream")
@login_required
@operation("Server-Sent Events stream (Last-Event-ID / after)", query=PositionQuery, responses={200: None},
           content_type="text/event-stream",
           description="Events of my inboxes as `id: position`, `event: kind`, `data: JSON`; see docs/realtime.md.")
def operator_stream(query: PositionQuery) -> ResponseReturnValue:
    """SSE: events of the operator's inboxes, colleagues' presence, typing."""
    return sse_response(*_start())


@bp.route("/api/v1/events")
@login_required
@operation("Long-poll fallback: events after a position", query=PositionQuery, responses={200: shapes.EventsPage})
def operator_events(query: PositionQuery) -> ResponseReturnValue:
    """Long-poll fallback: ``{"events": [...], "position": P}`` or ``{"resync": true, ...}``."""
    return poll_response(*_start())


@bp.route("/api/v1/conversations/<int:conversation_id>/typing", methods=["POST"])
@login_required
@limiter.limit(typing_limit, key_func=operator_key)
@operation("Typing on/off (ephemeral)", body=TypingSignal, responses={200: shapes.Typing},
           errors={404: "No such conversation", 429: "Too many typing signals"})
def operator_typing(conversation_id: int, body: TypingSignal) -> ResponseReturnValue:
    """``{"on": bool, "private": bool}``: the operator is (not) typing a reply or a note."""
    sent = typing.operator_typing(g.operator, conversation_id, body.on, private=body.private)
    return jsonify({"ok": True, "sent": sent})


@bp.route("/api/v1/me/availability", methods=["POST"])
@login_required
@limiter.limit(presence_limit, key_func=operator_key)
@operation("Set my availability (remembered as availability_choice)", body=SetAvailability,
           responses={200: shapes.Availability})
def set_my_availability(body: SetAvailability) -> ResponseReturnValue:
    """``{"availability": "online" | "busy" | "offline"}`` for the signed-in operator."""
    user = presence.set_availability(g.operator.id, g.operator.id, body.availability)
    return jsonify({"user_id": user.id, "availability": user.availability,
                    "availability_choice": user.availability_choice})

