"""Public widget API under ``/widget/api/v1/…``: parse, authorise, call services, answer JSON.

Every call names its inbox (``inbox`` website token) or carries the visitor token in
``X-Visitor-Token``; each is checked against the inbox's allowed origins before anything
is read or written (case 28 in docs/security.md). Conversation ids are looked up through the visitor, so a
foreign id is a 404 on every endpoint (case 9). Limits per IP and per visitor token
(cases 30, 31); blocked visitors get nothing.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from typing import TypeVar

from flask import Response
from flask import current_app
from flask import g
from flask import jsonify
from flask import request
from flask.typing import ResponseReturnValue

from messenger.blueprints.widget.blueprint import bp
from messenger.errors import NotFound
from messenger.errors import Unauthorized
from messenger.errors import ValidationError
from messenger.errors import found
from messenger.extensions import db
from messenger.extensions import limiter
from messenger.models import Contact
from messenger.models import ContactSession
from messenger.models import Conversation
from messenger.models import Inbox
from messenger.parsing import whole_number
from messenger.security.origins import apply_cors
from messenger.security.origins import check_request_origin
from messenger.security.ratelimit import client_ip
from messenger.security.tokens import VisitorClaims
from messenger.security.tokens import read_visitor_token
from messenger.security.tokens import sign_stream_ticket
from messenger.services import blocks
from messenger.services import contacts as contact_service
from messenger.services import conversations as conv_service
from messenger.services import email_replies
from messenger.services import messages as msg_service
from messenger.services import spam
from messenger.services import widget as widget_service
from messenger.services.inboxes import get_inbox_by_token
from messenger.services.visitors import Visitor
from messenger.services.visitors import require_not_blocked
from messenger.services.visitors import resolve_visitor
from messenger.services.visitors import resolve_visitor_with_inbox

F = TypeVar("F", bound=Callable[..., Any])
API = "/api/v1"
MAX_ID = 2**31 - 1
CONVERSATION_LIST = 20


def _visitor_limit() -> str:
    return str(current_app.config["WIDGET_RATE_LIMIT"])


def _ip_limit() -> str:
    return str(current_app.config["WIDGET_IP_RATE_LIMIT"])


def _poll_limit() -> str:
    return str(current_app.config["WIDGET_POLL_RATE_LIMIT"])


def _session_limit() -> str:
    return str(current_app.config["WIDGET_SESSION_RATE_LIMIT"])


def _claims() -> VisitorClaims | None:
    """The verified claims of ``X-Visitor-Token``, checked once per request (limits and views share them)."""
    key = "messenger.visitor_claims"  # in the request's environ: ``g`` can outlive a request
    if key not in request.environ:
        request.environ[key] = read_visitor_token(request.headers.get("X-Visitor-Token"))
    claims: VisitorClaims | None = request.environ[key]
    return claims


def _visitor_key() -> str:
    """Per visitor token (signature checked, no database), else per IP."""
    claims = _claims()
    return f"visitor:{claims.session_id}" if claims else f"ip:{client_ip()}"


def rate_limited(view: F) -> F:
    """The shared widget limits: per visitor token and per IP."""
    per_visitor = limiter.shared_limit(_visitor_limit, scope="widget-visitor", key_func=_visitor_key)(view)
    return limiter.shared_limit(_ip_limit, scope="widget-ip", key_func=client_ip)(per_visitor)  # type: ignore[return-value]


def poll_limited(view: F) -> F:
    """Long-poll limits, apart from the send limits: a burst of events must never delay a visitor's messages."""
    per_visitor = limiter.shared_limit(_poll_limit, scope="widget-poll", key_func=_visitor_key)(view)
    return limiter.shared_limit(_ip_limit, scope="widget-poll-ip", key_func=client_ip)(per_visitor)  # type: ignore


@bp.after_request
def _cors(response: Response) -> Response:
    """CORS for allowed customer origins on every widget API answer (preflights included)."""
    if not request.path.startswith("/widget/api/"):
        return response
    inbox = getattr(g, "widget_inbox", None)
    if inbox is None and request.args.get("inbox"):
        inbox = get_inbox_by_token(request.args.get("inbox", ""))
    return apply_cors(response, inbox)


def _body() -> dict[str, Any]:
    """The JSON object body (capped at 64 KB by ``security/bodies.py``, chunked or not); anything else is a 4xx."""
    data = request.get_json(silent=True)
    if data is None and not request.get_data(cache=True):
        return {}
    if not isinstance(data, dict):
        raise ValidationError("Send a JSON object.", code="bad_json")
    return data


def _inbox_from(token: object) -> Inbox:
    inbox = get_inbox_by_token(token) if isinstance(token, str) else None
    if inbox is None:
        raise NotFound("Unknown chat.", code="unknown_inbox")
    check_request_origin(inbox)
    g.widget_inbox = inbox
    return inbox


def visitor_required(view: F) -> F:
    """Resolve ``X-Visitor-Token`` → ``g.visitor``; check the origin and the block list first."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        resolved = resolve_visitor_with_inbox(_claims())
        if resolved is None:
            raise Unauthorized("Your chat session has expired. Reload the page.", code="invalid_token")
        visitor, inbox, g.visitor_contact = resolved  # held for the request: later reads hit the identity map
        g.widget_inbox = inbox
        check_request_origin(inbox)
        require_not_blocked(visitor)
        blocks.require_address_allowed(client_ip())
        g.visitor = visitor
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _conversation(conversation_id: int) -> Conversation:
    if conversation_id > MAX_ID:
        raise NotFound("No such conversation.")
    return conv_service.get_for_visitor(g.visitor, conversation_id)


def _int_arg(name: str) -> int | None:
    return whole_number(request.args.get(name), name)


def _conversation_json(conv: Conversation, inbox: Inbox) -> dict[str, Any]:
    data = conv_service.conversation_to_dict(conv, "visitor")
    data["queue"] = widget_service.queue_info(conv, inbox)
    csat = widget_service.csat_for(conv.id) if conv.status == "resolved" else None  # rated only once resolved
    data["csat"] = {"rating": csat.rating, "comment": csat.comment} if csat else None
    data["csat_requested"] = bool(inbox.csat_enabled and conv.status == "resolved" and csat is None)
    return data


def _session_json(visitor: Visitor, inbox: Inbox, token: str) -> dict[str, Any]:
    contact = found(db.session.get(Contact, visitor.contact_id), "contact")
    session = db.session.get(ContactSession, visitor.session_id)
    latest = next(iter(widget_service.visitor_conversations(visitor, 1)), None)
    return {
        "token": token, "ticket": sign_stream_ticket("visitor", visitor.session_id, visitor.token_id),
        "contact": contact_service.contact_to_dict(contact, session),
        "config": widget_service.public_config(inbox),
        "conversation": _conversation_json(latest, inbox) if latest is not None else None,
    }


@bp.route(f"{API}/config")
@rate_limited
def inbox_config() -> ResponseReturnValue:
    """Public inbox settings (colour, greeting, hours, pre-chat, CSAT, proactive for ``page``), read by the loader."""
    inbox = _inbox_from(request.args.get("inbox"))
    return jsonify(widget_service.public_config(inbox, request.args.get("page")))


@bp.route(f"{API}/session", methods=["POST"])
@limiter.limit(_session_limit, key_func=client_ip)
@rate_limited
def session_start() -> ResponseReturnValue:
    """Create or resume the visitor session; returns the visitor token and a stream ticket."""
    data = _body()
    inbox = _inbox_from(data.get("inbox"))
    blocks.require_address_allowed(client_ip())
    token = data.get("token") or request.headers.get("X-Visitor-Token")
    page = contact_service.clean_page(data)
    known = resolve_visitor(read_visitor_token(token), inbox.id)
    visitor, token, resumed = contact_service.resume_session(
        inbox, known, ip=client_ip(), user_agent=request.headers.get("User-Agent"))
    g.visitor = visitor
    contact_service.record_page(visitor, page, ip=client_ip(), user_agent=request.headers.get("User-Agent"))
    body = _session_json(visitor, inbox, token)
    body["resumed"] = resumed
    return jsonify(body), 200 if resumed else 201


@bp.route(f"{API}/page", methods=["POST"])
@rate_limited
@visitor_required
def page_view() -> ResponseReturnValue:
    """The loader reports a page (load or single-page-app navigation)."""
    session = contact_service.record_page(g.visitor, contact_service.clean_page(_body()), ip=client_ip(),
                                          user_agent=request.headers.get("User-Agent"))
    return jsonify({"current_url": session.current_url, "pages": len(session.pages or [])})


@bp.route(f"{API}/contact", methods=["GET"])
@rate_limited
@visitor_required
def contact_get() -> ResponseReturnValue:
    """The visitor's own contact."""
    contact = found(db.session.get(Contact, g.visitor.contact_id), "contact")
    return jsonify(contact_service.contact_to_dict(contact, db.session.get(ContactSession, g.visitor.session_id)))


@bp.route(f"{API}/contact", methods=["PATCH"])
@rate_limited
@visitor_required
def contact_update() -> ResponseReturnValue:
    """Update name, email, phone, custom attributes (``Messenger.setAttributes``)."""
    contact = contact_service.update_contact(g.visitor, _body())
    return jsonify(contact_service.contact_to_dict(contact, db.session.get(ContactSession, g.visitor.session_id)))


@bp.route(f"{API}/identify", methods=["POST"])
@rate_limited
@visitor_required
def identify() -> ResponseReturnValue:
    """``Messenger.setUser``: HMAC-verified identity; a wrong hash is 401 and merges nothing."""
    result = contact_service.identify(g.visitor, g.widget_inbox, _body())
    g.visitor = result.visitor
    token = request.headers.get("X-Visitor-Token", "")
    body = _session_json(result.visitor, g.widget_inbox, token)
    body.update({"verified": result.verified, "attached": result.attached})
    return jsonify(body)


@bp.route(f"{API}/reset", methods=["POST"])
@rate_limited
@visitor_required
def reset() -> ResponseReturnValue:
    """``Messenger.reset``: forget this browser's identity; a new anonymous session."""
    visitor, token = contact_service.reset(g.visitor, g.widget_inbox, ip=client_ip(),
                                           user_agent=request.headers.get("User-Agent"))
    return jsonify(_session_json(visitor, g.widget_inbox, token)), 201


@bp.route(f"{API}/conversations", methods=["GET"])
@rate_limited
@visitor_required
def conversations_list() -> ResponseReturnValue:
    """The visitor's conversations in this inbox (in progress first, then newest)."""
    rows = widget_service.visitor_conversations(g.visitor, CONVERSATION_LIST)
    return jsonify({"conversations": [_conversation_json(c, g.widget_inbox) for c in rows]})


@bp.route(f"{API}/conversations", methods=["POST"])
@rate_limited
@visitor_required
def conversations_create() -> ResponseReturnValue:
    """Start a conversation (or return the one in progress); needs the pre-chat form when required."""
    spam.check_new_chat(g.visitor, _body(), client_ip())
    widget_service.require_prechat_done(g.visitor, g.widget_inbox)
    conv, created = conv_service.create_conversation(g.visitor)
    return jsonify(_conversation_json(conv, g.widget_inbox)), 201 if created else 200


@bp.route(f"{API}/conversations/<int:conversation_id>", methods=["GET"])
@rate_limited
@visitor_required
def conversation_get(conversation_id: int) -> ResponseReturnValue:
    """One conversation with queue state and CSAT state."""
    return jsonify(_conversation_json(_conversation(conversation_id), g.widget_inbox))


@bp.route(f"{API}/conversations/<int:conversation_id>/messages", methods=["GET"])
@rate_limited
@visitor_required
def messages_list(conversation_id: int) -> ResponseReturnValue:
    """Messages, newest page first; ``before=<id>`` scrolls up, ``after=<id>`` catches up."""
    conv = _conversation(conversation_id)
    before, after = _int_arg("before"), _int_arg("after")
    limit = min(max(_int_arg("limit") or 30, 1), msg_service.PAGE_MAX)
    rows = msg_service.list_messages(conv, audience="visitor", before_id=before, after_id=after, limit=limit)
    atts = msg_service.attachments_by_message([m.id for m in rows])
    return jsonify({"messages": [msg_service.message_to_dict(m, "visitor", atts.get(m.id, ())) for m in rows],
                    "has_more": len(rows) == limit})


@bp.route(f"{API}/messages", methods=["POST"])
@rate_limited
@visitor_required
def message_send() -> ResponseReturnValue:
    """Send a message (idempotent by ``client_id``); without ``conversation_id`` the current one or a new one."""
    data = _body()
    conversation_id = data.get("conversation_id")
    if conversation_id is not None:
        if not isinstance(conversation_id, int) or isinstance(conversation_id, bool) or conversation_id > MAX_ID:
            raise NotFound("No such conversation.")
        spam.check_honeypot(g.visitor, data, client_ip())
    else:
        spam.check_new_chat(g.visitor, data, client_ip())
        widget_service.require_prechat_done(g.visitor, g.widget_inbox)
    keys = data.get("attachments") or []
    if not isinstance(keys, list):
        raise ValidationError("attachments must be a list of ids.", field="attachments")
    result = msg_service.send_visitor_message(g.visitor, conversation_id, data.get("content", ""),
                                              data.get("client_id"), keys)
    msg = result.message
    conv = result.conversation or found(db.session.get(Conversation, msg.conversation_id), "conversation")
    atts = msg_service.attachments_by_message([msg.id]) if keys or not result.created else {}
    return jsonify({"message": msg_service.message_to_dict(msg, "visitor", atts.get(msg.id, ())),
                    "created": result.created,
                    "conversation": _conversation_json(conv, g.widget_inbox)}), 201 if result.created else 200


@bp.route(f"{API}/conversations/<int:conversation_id>/read", methods=["POST"])
@rate_limited
@visitor_required
def conversation_read(conversation_id: int) -> ResponseReturnValue:
    """The visitor saw the conversation (operator messages get read ticks); a foreign id is a 404."""
    conv = conv_service.mark_read_by_visitor(g.visitor, conversation_id)
    return jsonify({"id": conv.id, "visitor_unread_count": conv.visitor_unread_count})


@bp.route(f"{API}/prechat", methods=["POST"])
@rate_limited
@visitor_required
def prechat() -> ResponseReturnValue:
    """Pre-chat form: validated server side, stored on the contact, starts the conversation."""
    data = _body()
    spam.check_new_chat(g.visitor, data, client_ip())
    conv, sent = widget_service.submit_prechat(g.visitor, g.widget_inbox, data.get("fields"), data.get("message"),
                                               data.get("client_id"))
    body = {"conversation": _conversation_json(conv, g.widget_inbox)}
    if sent is not None:
        body["message"] = msg_service.message_to_dict(sent.message, "visitor")
    return jsonify(body), 201


@bp.route(f"{API}/offline", methods=["POST"])
@rate_limited
@visitor_required
def offline_form() -> ResponseReturnValue:
    """Offline form (email + message): a conversation operators see."""
    data = _body()
    spam.check_new_chat(g.visitor, data, client_ip())
    conv, sent = widget_service.submit_offline(g.visitor, data)
    return jsonify({"conversation": _conversation_json(conv, g.widget_inbox),
                    "message": msg_service.message_to_dict(sent.message, "visitor")}), 201


def _transcript_limit() -> str:
    return str(current_app.config["TRANSCRIPT_RATE_LIMIT"])


@bp.route(f"{API}/conversations/<int:conversation_id>/transcript", methods=["POST"])
@rate_limited
@limiter.limit(_transcript_limit, key_func=_visitor_key)
@visitor_required
def transcript(conversation_id: int) -> ResponseReturnValue:
    """E-mail the conversation to the visitor (their address on file, or ``email``); 202 when queued."""
    if conversation_id > MAX_ID:
        raise NotFound("No such conversation.")
    to = email_replies.request_transcript(g.visitor, conversation_id, _body().get("email"))
    return jsonify({"queued": True, "email": to}), 202


@bp.route(f"{API}/conversations/<int:conversation_id>/csat", methods=["POST"])
@rate_limited
@visitor_required
def csat(conversation_id: int) -> ResponseReturnValue:
    """Rate a resolved conversation (1–5 and a comment), once."""
    data = _body()
    if conversation_id > MAX_ID:
        raise NotFound("No such conversation.")
    response = widget_service.submit_csat(g.visitor, g.widget_inbox, conversation_id, data.get("rating"),
                                          data.get("comment"))
    return jsonify({"rating": response.rating, "comment": response.comment}), 201
