"""Visitor realtime endpoints: stream ticket, SSE stream, long-poll fallback, typing.

EventSource cannot send headers, so the stream takes a short-lived single-use ticket
in the query (case 20 in docs/security.md), obtained with the visitor token; everything else takes the
``X-Visitor-Token`` header (``visitor_required``). Auth happens in the view; the stream
body gets plain values only.
"""
from __future__ import annotations

from flask import current_app
from flask import g
from flask import jsonify
from flask.typing import ResponseReturnValue

from messenger.blueprints.widget.api import poll_limited
from messenger.blueprints.widget.api import rate_limited
from messenger.blueprints.widget.api import visitor_required
from messenger.blueprints.widget.blueprint import bp
from messenger.contract import shapes as common
from messenger.contract import widget as contract
from messenger.contract import widget_shapes as shapes
from messenger.contract.core import operation
from messenger.errors import Unauthorized
from messenger.extensions import limiter
from messenger.realtime.access import VisitorScope
from messenger.realtime.http import poll_response
from messenger.realtime.http import requested_position
from messenger.realtime.http import sse_response
from messenger.security.origins import check_request_origin
from messenger.security.ratelimit import client_ip
from messenger.security.ratelimit import typing_limit
from messenger.security.ratelimit import visitor_key
from messenger.security.tokens import VisitorClaims
from messenger.security.tokens import redeem_stream_ticket
from messenger.security.tokens import sign_stream_ticket
from messenger.services import blocks
from messenger.services import presence
from messenger.services import typing
from messenger.services.visitors import Visitor
from messenger.services.visitors import require_not_blocked
from messenger.services.visitors import resolve_visitor_with_inbox

TICKET_AUDIENCE = "visitor"
_INVALID_TICKET = "The stream ticket is invalid or expired; fetch a new one."


def _scope(visitor: Visitor) -> VisitorScope:
    return VisitorScope(session_id=visitor.session_id, contact_id=visitor.contact_id, inbox_id=visitor.inbox_id)


def _visitor_from_ticket(ticket: str | None) -> Visitor:
    """The visitor named by ``?ticket=``, checked like a token (revocation, origin, block list)."""
    claims = redeem_stream_ticket(ticket, TICKET_AUDIENCE)
    resolved = (resolve_visitor_with_inbox(VisitorClaims(*claims), blocks.address_blocked(client_ip()))
                if claims is not None else None)
    if resolved is None:
        raise Unauthorized(_INVALID_TICKET, code="invalid_ticket")
    visitor, inbox, g.visitor_contact, address_blocked = resolved  # contact held: identity map
    g.widget_inbox = inbox
    check_request_origin(inbox)
    require_not_blocked(visitor, address_blocked)
    return visitor


@bp.route("/api/v1/stream-ticket", methods=["POST"])
@rate_limited
@visitor_required
@operation("A ticket for the visitor stream (single use, STREAM_TICKET_TTL_S seconds)",
           responses={200: shapes.StreamTicket})
def stream_ticket() -> ResponseReturnValue:
    """A ticket for one stream connection, valid STREAM_TICKET_TTL_S seconds."""
    visitor: Visitor = g.visitor
    ticket = sign_stream_ticket(TICKET_AUDIENCE, visitor.session_id, visitor.token_id)
    response = jsonify({"ticket": ticket, "expires_in": int(current_app.config["STREAM_TICKET_TTL_S"])})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/api/v1/stream")
@operation("Server-Sent Events stream for the visitor (a ticket, since EventSource sends no headers)",
           query=contract.VisitorStreamQuery, responses={200: None}, content_type="text/event-stream",
           description="Events of the visitor's own conversations (docs/realtime.md); resumes after "
                       "Last-Event-ID or `after`.",
           errors={401: "invalid_ticket: fetch a new one with POST /stream-ticket"})
def visitor_stream(query: contract.VisitorStreamQuery) -> ResponseReturnValue:
    """SSE: the visitor's own conversations only (no notes, no operator-only fields)."""
    visitor = _visitor_from_ticket(query.ticket)
    after = requested_position()
    presence.visitor_seen(visitor.session_id)
    return sse_response(_scope(visitor), after)


@bp.route("/api/v1/events")
@poll_limited
@visitor_required
@operation("Long-poll fallback: the visitor's events after a position", query=contract.VisitorEventsQuery,
           responses={200: common.EventsPage})
def visitor_events(query: contract.VisitorEventsQuery) -> ResponseReturnValue:
    """Long-poll fallback with the visitor token header."""
    visitor: Visitor = g.visitor
    after = requested_position()
    presence.visitor_seen(visitor.session_id)
    return poll_response(_scope(visitor), after)


@bp.route("/api/v1/conversations/<int(max=2147483647):conversation_id>/typing", methods=["POST"])
@visitor_required
@limiter.limit(typing_limit, key_func=visitor_key)
@operation("Typing on/off (ephemeral: operators of the inbox see it)", body=contract.VisitorTyping,
           responses={200: common.Typing}, errors={404: "No such conversation"})
def visitor_typing(conversation_id: int, body: contract.VisitorTyping) -> ResponseReturnValue:
    """``{"on": bool}``: the visitor is (not) typing; operators of the inbox see it."""
    sent = typing.visitor_typing(g.visitor, conversation_id, body.on)
    return jsonify({"ok": True, "sent": sent})
