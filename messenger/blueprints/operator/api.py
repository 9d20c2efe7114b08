"""Operator JSON API for the panel: list, conversation, messages, actions, contacts, search.

Views parse and authorise; services decide. Every id in a URL is looked up through the
signed-in operator (another inbox's id is 404). Bodies and query strings are typed and
allowlisted; bad input is a 4xx JSON error, never a 500.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import g
from flask import jsonify
from flask import request
from flask.typing import ResponseReturnValue

from messenger.blueprints.operator.auth import login_required
from messenger.blueprints.operator.blueprint import bp
from messenger.errors import ValidationError
from messenger.i18n import LANG_COOKIE
from messenger.models import PRIORITIES
from messenger.parsing import parse_instant
from messenger.parsing import whole_number
from messenger.realtime.log import head_position
from messenger.services import canned
from messenger.services import contact_profile
from messenger.services import conversations as conv_service
from messenger.services import directory
from messenger.services import labels as label_service
from messenger.services import listing
from messenger.services import message_edits
from messenger.services import messages as msg_service
from messenger.services import search as search_service
from messenger.services import users
from messenger.services import widget as widget_service

MESSAGES_PAGE = 50


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 422 naming the problem."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError("Send a JSON object.", field="body")
    return data


def _version(body: dict[str, Any]) -> int | None:
    value = body.get("version")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValidationError("version must be a whole number.", field="version")
    return value


def _query_int(name: str) -> int | None:
    return whole_number(request.args.get(name), name)


def _conversation_json(conv: Any) -> dict[str, Any]:
    return listing.cards([conv])[0]


@bp.route("/api/v1/conversations")
@login_required
def list_conversations() -> ResponseReturnValue:
    """One keyset page of the conversation list (tabs, filters, sorts)."""
    q = listing.parse_list_query(request.args.to_dict())
    page = listing.list_conversations(g.operator, q)
    return jsonify({"items": page.items, "next_cursor": page.next_cursor})


@bp.route("/api/v1/conversations/counts")
@login_required
def conversation_counts() -> ResponseReturnValue:
    """How many conversations each tab holds under the given filters."""
    params = {k: v for k, v in request.args.to_dict().items() if k not in ("tab", "sort", "cursor", "limit")}
    q = listing.parse_list_query(params)
    return jsonify(listing.tab_counts(g.operator, q))


@bp.route("/api/v1/conversations/<int(max=2147483647):conversation_id>")
@login_required
def get_conversation(conversation_id: int) -> ResponseReturnValue:
    """One conversation card."""
    conv = conv_service.get_for_operator(g.operator, conversation_id)
    return jsonify(_conversation_json(conv))


@bp.route("/api/v1/conversations/<int(max=2147483647):conversation_id>/messages")
@login_required
def list_messages(conversation_id: int) -> ResponseReturnValue:
    """A page of messages, oldest first; ``before_id`` scrolls up."""
    conv = conv_service.get_for_operator(g.operator, conversation_id)
    before_id = _query_int("before_id")
    limit = min(_query_int("limit") or MESSAGES_PAGE, msg_service.PAGE_MAX - 1)
    rows = msg_service.list_messages(conv, audience="operator", before_id=before_id, limit=limit + 1)
    has_more = len(rows) > limit
    if has_more:
        rows = rows[1:]
    attachments = msg_service.attachments_by_message([m.id for m in rows])
    data: dict[str, Any] = {"messages": [msg_service.message_to_dict(m, "operator", attachments.get(m.id, ()))
                                         for m in rows], "has_more": has_more}
    if before_id is None:  # the newest page also carries the visitor's rating, shown under the messages
        data["csat"] = widget_service.csat_to_dict(widget_service.csat_for(conv.id))
    return jsonify(data)


@bp.route("/api/v1/conversations/<int(max=2147483647):conversation_id>/messages", methods=["POST"])
@login_required
def send_message(conversation_id: int) -> ResponseReturnValue:
    """Send a reply or a private note (idempotent by ``client_id``)."""
    body = json_body()
    private, reopen = body.get("private", False), body.get("reopen", False)
    if not isinstance(private, bool) or not isinstance(reopen, bool):
        raise ValidationError("private and reopen must be true or false.", field="private")
    keys = body.get("attachments", [])
    if not isinstance(keys, list):
        raise ValidationError("attachments must be a list of ids.", field="attachments")
    result = msg_service.send_operator_message(g.operator, conversation_id, body.get("content", ""),
                                               body.get("client_id"), private=private, reopen=reopen,
                                               attachment_keys=keys)
    conv = result.conversation or conv_service.get_for_operator(g.operator, conversation_id)
    attachments = msg_service.attachments_by_message([result.message.id]) if keys or not result.created else {}
    return jsonify({"message": msg_service.message_to_dict(result.message, "operator",
                                                           attachments.get(result.message.id, ())),
                    "conversation": _conversation_json(conv)}), (201 if result.created else 200)


@bp.route("/api/v1/conversations/<int(max=2147483647):conversation_id>/messages/<int:message_id>",
          methods=["PATCH"])
@login_required
def edit_message(conversation_id: int, message_id: int) -> ResponseReturnValue:
    """Edit my own reply or note within 15 minutes (``version``: the edit count I saw)."""
    body = json_body()
    msg = message_edits.edit_message(g.operator, conversation_id, message_id, body.get("content"),
                                     expected_version=_version(body),
                                     ip=request.remote_addr)
    return jsonify({"message": _message_json(msg)})


@bp.route("/api/v1/conversations/<int(max=2147483647):conversation_id>/messages/<int:message_id>",
          methods=["DELETE"])
@login_required
def delete_message(conversation_id: int, message_id: int) -> ResponseReturnValue:
    """Delete my own reply or note within 15 minutes; an optional JSON body carries ``version``."""
    body = request.get_json(silent=True) if request.content_length else {}
    if not isinstance(body, dict):
        raise ValidationError("Send a JSON object (or no body).", field="body")
    msg = message_edits.delete_message(g.operator, conversation_id, message_id,
                                       expected_version=_version(body),
                                       ip=request.remote_addr)
    return jsonify({"message": _message_json(msg)})


def _message_json(msg: Any) -> dict[str, Any]:
    attachments = msg_service.attachments_by_message([msg.id])
    return msg_service.message_to_dict(msg, "operator", attachments.get(msg.id, ()))


def _snooze_time(value: object) -> datetime | None:
    return parse_instant(value, "snoozed_until")


@bp.route("/api/v1/conversations/<int(max=2147483647):conversation_id>/status", methods=["POST"])
@login_required
def change_status(conversation_id: int) -> ResponseReturnValue:
    """Resolve, reopen, snooze or set pending, with an optional ``version`` check."""
    body = json_body()
    status = body.get("status")
    if not isinstance(status, str):
        raise ValidationError("status is required.", field="status")
    conv = conv_service.change_status(g.operator, conversation_id, status, expected_version=_version(body),
                                      snoozed_until=_snooze_time(body.get("snoozed_until")))
    return jsonify(_conversation_json(conv))


@bp.route("/api/v1/conversations/<int(max=2147483647):conversation_id>/priority", methods=["POST"])
@login_required
def set_priority(conversation_id: int) -> ResponseReturnValue:
    """Set the priority (0 none … 4 urgent)."""
    body = json_body()
    value = body.get("priority")
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < len(PRIORITIES):
        raise ValidationError("priority must be 0 (none) to 4 (urgent).", field="priority")
    conv = conv_service.set_priority(g.operator, conversation_id, PRIORITIES[value],
                                     expected_version=_version(body))
    return jsonify(_conversation_json(conv))


@bp.route("/api/v1/conversations/<int(max=2147483647):conversation_id>/labels", methods=["PUT"])
@login_required
def set_labels(conversation_id: int) -> ResponseReturnValue:
    """Replace the conversation's labels."""
    body = json_body()
    conv = label_service.set_labels(g.operator, conversation_id, body.get("labels"),
                                    expected_version=_version(body))
    return jsonify(_conversation_json(conv))


@bp.route("/api/v1/conversations/<int(max=2147483647):conversation_id>/read", methods=["POST"])
@login_required
def mark_read(conversation_id: int) -> ResponseReturnValue:
    """The operator has read the conversation."""
    conv = conv_service.mark_read_by_operator(g.operator, conversation_id)
    return jsonify(_conversation_json(conv))


@bp.route("/api/v1/contacts/<int(max=2147483647):contact_id>")
@login_required
def get_contact(contact_id: int) -> ResponseReturnValue:
    """Contact profile, browser session and previous conversations."""
    return jsonify(contact_profile.contact_detail(g.operator, contact_id))


@bp.route("/api/v1/contacts/<int(max=2147483647):contact_id>", methods=["PATCH"])
@login_required
def update_contact(contact_id: int) -> ResponseReturnValue:
    """Edit the contact's name, email, phone or custom attributes."""
    contact = contact_profile.update_contact(g.operator, contact_id, json_body())
    return jsonify(contact_profile.contact_to_dict(contact))


@bp.route("/api/v1/canned-responses")
@login_required
def canned_responses() -> ResponseReturnValue:
    """The operator's own and the shared canned responses, optionally by short-code prefix."""
    prefix = request.args.get("prefix", "")
    return jsonify({"items": canned.for_composer(g.operator.id, prefix)})


@bp.route("/api/v1/directory")
@login_required
def panel_directory() -> ResponseReturnValue:
    """Pickers' lists plus the log position the panel's stream starts from."""
    # The log position before the panel loads its lists: the stream replays from here, so
    # nothing that happens while the lists load is missed.
    return jsonify(dict(directory.panel_directory(g.operator), position=head_position()))


@bp.route("/api/v1/search")
@login_required
def search() -> ResponseReturnValue:
    """Full-text search over messages and contacts."""
    return jsonify(search_service.search(g.operator, request.args.get("q", "")))


@bp.route("/api/v1/me/preferences", methods=["PUT"])
@login_required
def set_my_preferences() -> ResponseReturnValue:
    """``{"locale": "en" | "ru" | null}``: the panel's language, saved for the operator."""
    body = json_body()
    if set(body) - {"locale"}:
        raise ValidationError("Only locale can be set here.", field=sorted(set(body) - {"locale"})[0])
    user = users.set_locale(g.operator.id, body.get("locale"))
    resp = jsonify({"locale": user.locale})
    # The server-rendered pages (admin, sign-in) follow the same choice.
    if user.locale:
        resp.set_cookie(LANG_COOKIE, user.locale, max_age=365 * 24 * 3600, samesite="Lax", httponly=True,
                        secure=bool(request.is_secure))
    else:
        resp.delete_cookie(LANG_COOKIE)
    return resp
