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
from messenger.contract import widget as contract
from messenger.contract import widget_shapes as shapes
from messenger.contract.core import operation
from messenger.errors import NotFound
from messenger.errors import Unauthorized
from messenger.errors import found
from messenger.extensions import db
from messenger.extensions import limiter
from messenger.models import Contact
from messenger.models import ContactSession
from messenger.models import Conversation
from messenger.models import Inbox
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
CONVERSATION_LIST = 20
DEFAULT_PAGE = 30
# A conversation id in a path: int4, so a bigger number is a 404 from routing, never a database overflow.
CONVERSATION = "/conversations/<int(max=2147483647):conversation_id>"
NO_CONVERSATION = {404: "No such conversation (or not this visitor's)"}


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


def _inbox_from(token: str) -> Inbox:
    inbox = get_inbox_by_token(token)
    if inbox is None:
        raise NotFound("Unknown chat.", code="unknown_inbox")
    check_request_origin(inbox)
    g.widget_inbox = inbox
    return inbox


def visitor_required(view: F) -> F:
    """Resolve ``X-Visitor-Token`` → ``g.visitor``; check the origin and the block list first."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        resolved = resolve_visitor_with_inbox(_claims(), blocks.address_blocked(client_ip()))
        if resolved is None:
            raise Unauthorized("Your chat session has expired. Reload the page.", code="invalid_token")
        visitor, inbox, g.visitor_contact, address_blocked = resolved  # contact held: identity map
        g.widget_inbox = inbox
        check_request_origin(inbox)
        require_not_blocked(visitor, address_blocked)
        g.visitor = visitor
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


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
@operation("Inbox widget configuration (no token; origin-checked)", query=contract.ConfigQuery,
           responses={200: shapes.WidgetConfig}, errors={404: "unknown_inbox", 403: "origin_not_allowed"})
def inbox_config(query: contract.ConfigQuery) -> ResponseReturnValue:
    """Public inbox settings (colour, greeting, hours, pre-chat, CSAT, proactive for ``page``), read by the loader."""
    inbox = _inbox_from(query.inbox)
    return jsonify(widget_service.public_config(inbox, query.page))


@bp.route(f"{API}/session", methods=["POST"])
@limiter.limit(_session_limit, key_func=client_ip)
@rate_limited
@operation("Create or resume a visitor session (no token needed)", body=contract.StartSession,
           responses={201: shapes.StartedSession, 200: shapes.StartedSession},
           description="201 with a new anonymous session; 200 when `token` (or X-Visitor-Token) is this "
                       "inbox's and still valid: the same session goes on.",
           errors={404: "unknown_inbox", 403: "origin_not_allowed, or blocked"})
def session_start(body: contract.StartSession) -> ResponseReturnValue:
    """Create or resume the visitor session; returns the visitor token and a stream ticket."""
    inbox = _inbox_from(body.inbox)
    blocks.require_address_allowed(client_ip())
    token = body.token or request.headers.get("X-Visitor-Token")
    page = contact_service.clean_page(body.model_dump(exclude_unset=True))
    known = resolve_visitor(read_visitor_token(token), inbox.id)
    visitor, token, resumed = contact_service.resume_session(
        inbox, known, ip=client_ip(), user_agent=request.headers.get("User-Agent"))
    g.visitor = visitor
    contact_service.record_page(visitor, page, ip=client_ip(), user_agent=request.headers.get("User-Agent"))
    answer = _session_json(visitor, inbox, token)
    answer["resumed"] = resumed
    return jsonify(answer), 200 if resumed else 201


@bp.route(f"{API}/page", methods=["POST"])
@rate_limited
@visitor_required
@operation("Report the page the visitor is on and this visit's pages", body=contract.PageReport,
           responses={200: shapes.PageRecorded})
def page_view(body: contract.PageReport) -> ResponseReturnValue:
    """The loader reports a page (load or single-page-app navigation)."""
    page = contact_service.clean_page(body.model_dump(exclude_unset=True))
    session = contact_service.record_page(g.visitor, page, ip=client_ip(),
                                          user_agent=request.headers.get("User-Agent"))
    return jsonify({"current_url": session.current_url, "pages": len(session.pages or [])})


@bp.route(f"{API}/contact", methods=["GET"])
@rate_limited
@visitor_required
@operation("The visitor's own contact", responses={200: shapes.VisitorContact})
def contact_get() -> ResponseReturnValue:
    """The visitor's own contact."""
    contact = found(db.session.get(Contact, g.visitor.contact_id), "contact")
    return jsonify(contact_service.contact_to_dict(contact, db.session.get(ContactSession, g.visitor.session_id)))


@bp.route(f"{API}/contact", methods=["PATCH"])
@rate_limited
@visitor_required
@operation("Update the visitor's contact (Messenger.setAttributes)", body=contract.VisitorContactUpdate,
           responses={200: shapes.VisitorContact}, errors={409: "contact_conflict (a concurrent change; retry)"})
def contact_update(body: contract.VisitorContactUpdate) -> ResponseReturnValue:
    """Update name, email, phone, custom attributes (``Messenger.setAttributes``)."""
    contact = contact_service.update_contact(g.visitor, body.model_dump(exclude_unset=True))
    return jsonify(contact_service.contact_to_dict(contact, db.session.get(ContactSession, g.visitor.session_id)))


@bp.route(f"{API}/identify", methods=["POST"])
@rate_limited
@visitor_required
@operation("setUser: identify with an HMAC of the identifier", body=contract.Identify,
           responses={200: shapes.IdentifiedSession},
           errors={401: "identity_invalid (wrong hash) / identity_required (the inbox enforces identity)"})
def identify(body: contract.Identify) -> ResponseReturnValue:
    """``Messenger.setUser``: HMAC-verified identity; a wrong hash is 401 and merges nothing."""
    result = contact_service.identify(g.visitor, g.widget_inbox, body.model_dump(exclude_unset=True))
    g.visitor = result.visitor
    token = request.headers.get("X-Visitor-Token", "")
    answer = _session_json(result.visitor, g.widget_inbox, token)
    answer.update({"verified": result.verified, "attached": result.attached})
    return jsonify(answer)


@bp.route(f"{API}/reset", methods=["POST"])
@rate_limited
@visitor_required
@operation("Forget the identity (Messenger.reset): revoke the token, new anonymous session",
           responses={201: shapes.Session})
def reset() -> ResponseReturnValue:
    """``Messenger.reset``: forget this browser's identity; a new anonymous session."""
    visitor, token = contact_service.reset(g.visitor, g.widget_inbox, ip=client_ip(),
                                           user_agent=request.headers.get("User-Agent"))
    return jsonify(_session_json(visitor, g.widget_inbox, token)), 201


@bp.route(f"{API}/conversations", methods=["GET"])
@rate_limited
@visitor_required
@operation("The visitor's conversations in this inbox", responses={200: shapes.ConversationList})
def conversations_list() -> ResponseReturnValue:
    """The visitor's conversations in this inbox (in progress first, then newest)."""
    rows = widget_service.visitor_conversations(g.visitor, CONVERSATION_LIST)
    return jsonify({"conversations": [_conversation_json(c, g.widget_inbox) for c in rows]})


@bp.route(f"{API}/conversations", methods=["POST"])
@rate_limited
@visitor_required
@operation("Start a conversation (or return the one in progress)", body=contract.NewConversation,
           body_optional=True, responses={201: shapes.VisitorConversation, 200: shapes.VisitorConversation},
           description="201 when started, 200 with the conversation already in progress.",
           errors={422: "prechat_required: submit POST /prechat first", 429: "Too soon after the page opened"})
def conversations_create(body: contract.NewConversation) -> ResponseReturnValue:
    """Start a conversation (or return the one in progress); needs the pre-chat form when required."""
    spam.check_new_chat(g.visitor, body.model_dump(), client_ip())
    widget_service.require_prechat_done(g.visitor, g.widget_inbox)
    conv, created = conv_service.create_conversation(g.visitor)
    return jsonify(_conversation_json(conv, g.widget_inbox)), 201 if created else 200


@bp.route(f"{API}{CONVERSATION}", methods=["GET"])
@rate_limited
@visitor_required
@operation("A conversation with queue position and CSAT state", responses={200: shapes.VisitorConversation},
           errors=NO_CONVERSATION)
def conversation_get(conversation_id: int) -> ResponseReturnValue:
    """One conversation with queue state and CSAT state."""
    conv = conv_service.get_for_visitor(g.visitor, conversation_id)
    return jsonify(_conversation_json(conv, g.widget_inbox))


@bp.route(f"{API}{CONVERSATION}/messages", methods=["GET"])
@rate_limited
@visitor_required
@operation("Messages, newest page first (before / after cursors)", query=contract.VisitorMessagesQuery,
           responses={200: shapes.VisitorMessagePage}, errors=NO_CONVERSATION)
def messages_list(conversation_id: int, query: contract.VisitorMessagesQuery) -> ResponseReturnValue:
    """Messages, newest page first; ``before=<id>`` scrolls up, ``after=<id>`` catches up."""
    conv = conv_service.get_for_visitor(g.visitor, conversation_id)
    limit = min(max(query.limit or DEFAULT_PAGE, 1), msg_service.PAGE_MAX)
    rows = msg_service.list_messages(conv, audience="visitor", before_id=query.before, after_id=query.after,
                                     limit=limit)
    atts = msg_service.attachments_by_message([m.id for m in rows])
    return jsonify({"messages": [msg_service.message_to_dict(m, "visitor", atts.get(m.id, ())) for m in rows],
                    "has_more": len(rows) == limit})


@bp.route(f"{API}/messages", methods=["POST"])
@rate_limited
@visitor_required
@operation("Send a message, idempotent by client_id", body=contract.VisitorSendMessage,
           responses={201: shapes.VisitorSent, 200: shapes.VisitorSent},
           description="201 with the new message; 200 with the first one when client_id was sent before. "
                       "Without conversation_id: the conversation in progress, or a new one.",
           errors={**NO_CONVERSATION, 429: "Too soon after the page opened (Retry-After)"})
def message_send(body: contract.VisitorSendMessage) -> ResponseReturnValue:
    """Send a message (idempotent by ``client_id``); without ``conversation_id`` the current one or a new one."""
    data = body.model_dump()
    if body.conversation_id is not None:
        spam.check_honeypot(g.visitor, data, client_ip())
    else:
        spam.check_new_chat(g.visitor, data, client_ip())
        widget_service.require_prechat_done(g.visitor, g.widget_inbox)
    keys = list(body.attachments)
    result = msg_service.send_visitor_message(g.visitor, body.conversation_id, body.content, str(body.client_id),
                                              keys)
    msg = result.message
    conv = result.conversation or found(db.session.get(Conversation, msg.conversation_id), "conversation")
    atts = msg_service.attachments_by_message([msg.id]) if keys or not result.created else {}
    return jsonify({"message": msg_service.message_to_dict(msg, "visitor", atts.get(msg.id, ())),
                    "created": result.created,
                    "conversation": _conversation_json(conv, g.widget_inbox)}), 201 if result.created else 200


@bp.route(f"{API}{CONVERSATION}/read", methods=["POST"])
@rate_limited
@visitor_required
@operation("Mark the operator's messages read", responses={200: shapes.ReadReceipt}, errors=NO_CONVERSATION)
def conversation_read(conversation_id: int) -> ResponseReturnValue:
    """The visitor saw the conversation (operator messages get read ticks); a foreign id is a 404."""
    conv = conv_service.mark_read_by_visitor(g.visitor, conversation_id)
    return jsonify({"id": conv.id, "visitor_unread_count": conv.visitor_unread_count})


@bp.route(f"{API}/prechat", methods=["POST"])
@rate_limited
@visitor_required
@operation("Submit the pre-chat form and start the conversation", body=contract.Prechat,
           responses={201: shapes.PrechatStarted},
           description="Each field is checked against the inbox's form (config.prechat.fields); "
                       "a 422 names the form field at fault.")
def prechat(body: contract.Prechat) -> ResponseReturnValue:
    """Pre-chat form: validated server side, stored on the contact, starts the conversation."""
    spam.check_new_chat(g.visitor, body.model_dump(), client_ip())
    client_id = str(body.client_id) if body.client_id is not None else None
    conv, sent = widget_service.submit_prechat(g.visitor, g.widget_inbox, dict(body.fields), body.message,
                                               client_id)
    answer = {"conversation": _conversation_json(conv, g.widget_inbox)}
    if sent is not None:
        answer["message"] = msg_service.message_to_dict(sent.message, "visitor")
    return jsonify(answer), 201


@bp.route(f"{API}/offline", methods=["POST"])
@rate_limited
@visitor_required
@operation("Offline form: leave an email and a message", body=contract.OfflineForm,
           responses={201: shapes.OfflineSent})
def offline_form(body: contract.OfflineForm) -> ResponseReturnValue:
    """Offline form (email + message): a conversation operators see."""
    data = body.model_dump(exclude_none=True)
    spam.check_new_chat(g.visitor, data, client_ip())
    if body.client_id is not None:
        data["client_id"] = str(body.client_id)
    conv, sent = widget_service.submit_offline(g.visitor, data)
    return jsonify({"conversation": _conversation_json(conv, g.widget_inbox),
                    "message": msg_service.message_to_dict(sent.message, "visitor")}), 201


def _transcript_limit() -> str:
    return str(current_app.config["TRANSCRIPT_RATE_LIMIT"])


@bp.route(f"{API}{CONVERSATION}/transcript", methods=["POST"])
@rate_limited
@limiter.limit(_transcript_limit, key_func=_visitor_key)
@visitor_required
@operation("E-mail the conversation to the visitor", body=contract.Transcript, body_optional=True,
           responses={202: shapes.TranscriptQueued},
           errors={**NO_CONVERSATION, 422: "email_unavailable (no SMTP), or no address to send to (field email)"})
def transcript(conversation_id: int, body: contract.Transcript) -> ResponseReturnValue:
    """E-mail the conversation to the visitor (their address on file, or ``email``); 202 when queued."""
    to = email_replies.request_transcript(g.visitor, conversation_id, body.email)
    return jsonify({"queued": True, "email": to}), 202


@bp.route(f"{API}{CONVERSATION}/csat", methods=["POST"])
@rate_limited
@visitor_required
@operation("Rate the conversation after it is resolved (once)", body=contract.Rate,
           responses={201: shapes.CsatGiven},
           errors={**NO_CONVERSATION, 403: "csat_disabled", 409: "not_resolved / already_rated"})
def csat(conversation_id: int, body: contract.Rate) -> ResponseReturnValue:
    """Rate a resolved conversation (1–5 and a comment), once."""
    response = widget_service.submit_csat(g.visitor, g.widget_inbox, conversation_id, body.rating, body.comment)
    return jsonify({"rating": response.rating, "comment": response.comment}), 201
