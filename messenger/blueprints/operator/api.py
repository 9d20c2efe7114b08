"""Operator JSON API for the panel: list, conversation, messages, actions, contacts, search.

Views parse and authorise; services decide. Every id in a URL is looked up through the
signed-in operator (another inbox's id is 404). Bodies and query strings are typed and
allowlisted; bad input is a 4xx JSON error, never a 500.
"""
from __future__ import annotations

from typing import Any

from flask import g
from flask import jsonify
from flask import request
from flask.typing import ResponseReturnValue

from messenger.blueprints.operator.auth import login_required
from messenger.blueprints.operator.blueprint import bp
from messenger.contract import shapes
from messenger.contract.core import operation
from messenger.contract.operator import CannedQuery
from messenger.contract.operator import ChangeStatus
from messenger.contract.operator import ConversationListQuery
from messenger.contract.operator import CountsQuery
from messenger.contract.operator import DeleteMessage
from messenger.contract.operator import EditMessage
from messenger.contract.operator import MessagesQuery
from messenger.contract.operator import PatchContact
from messenger.contract.operator import SearchQuery
from messenger.contract.operator import SendMessage
from messenger.contract.operator import SetLabels
from messenger.contract.operator import SetPreferences
from messenger.contract.operator import SetPriority
from messenger.i18n import LANG_COOKIE
from messenger.models import PRIORITIES
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


def _conversation_json(conv: Any) -> dict[str, Any]:
    return listing.cards([conv])[0]


@bp.route("/api/v1/conversations")
@login_required
@operation("List conversations (keyset pages; tab, filters, sort, cursor)", query=ConversationListQuery,
           responses={200: shapes.ConversationPage})
def list_conversations(query: ConversationListQuery) -> ResponseReturnValue:
    """One keyset page of the conversation list (tabs, filters, sorts)."""
    q = listing.parse_list_query(query.model_dump(exclude_none=True))
    page = listing.list_conversations(g.operator, q)
    return jsonify({"items": page.items, "next_cursor": page.next_cursor})


@bp.route("/api/v1/conversations/counts")
@login_required
@operation("Live counts for the Waiting / Mine / Unassigned / All tabs", query=CountsQuery,
           responses={200: shapes.TabCounts})
def conversation_counts(query: CountsQuery) -> ResponseReturnValue:
    """How many conversations each tab holds under the given filters."""
    q = listing.parse_list_query(query.model_dump(exclude_none=True, exclude={"tab", "sort", "cursor", "limit"}))
    return jsonify(listing.tab_counts(g.operator, q))


@bp.route("/api/v1/conversations/<int(max=2147483647):conversation_id>")
@login_required
@operation("One conversation card", responses={200: shapes.Conversation}, errors={404: "No such conversation"})
def get_conversation(conversation_id: int) -> ResponseReturnValue:
    """One conversation card."""
    conv = conv_service.get_for_operator(g.operator, conversation_id)
    return jsonify(_conversation_json(conv))


@bp.route("/api/v1/conversations/<int(max=2147483647):conversation_id>/messages")
@login_required
@operation("Messages, newest page first (before_id cursor); the newest page carries the CSAT rating",
           query=MessagesQuery, responses={200: shapes.MessagePage}, errors={404: "No such conversation"})
def list_messages(conversation_id: int, query: MessagesQuery) -> ResponseReturnValue:
    """A page of messages, oldest first; ``before_id`` scrolls up."""
    conv = conv_service.get_for_operator(g.operator, conversation_id)
    before_id = query.before_id
    limit = min(query.limit or MESSAGES_PAGE, msg_service.PAGE_MAX - 1)
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
@operation("Reply or private note, idempotent by client_id", body=SendMessage,
           responses={201: shapes.SentMessage, 200: shapes.SentMessage},
           description="201 with the new message; 200 with the first one when client_id was sent before.",
           errors={404: "No such conversation"})
def send_message(conversation_id: int, body: SendMessage) -> ResponseReturnValue:
    """Send a reply or a private note (idempotent by ``client_id``)."""
    keys = list(body.attachments)
    result = msg_service.send_operator_message(g.operator, conversation_id, body.content, str(body.client_id),
                                               private=body.private, reopen=body.reopen, attachment_keys=keys)
    conv = result.conversation or conv_service.get_for_operator(g.operator, conversation_id)
    attachments = msg_service.attachments_by_message([result.message.id]) if keys or not result.created else {}
    return jsonify({"message": msg_service.message_to_dict(result.message, "operator",
                                                           attachments.get(result.message.id, ())),
                    "conversation": _conversation_json(conv)}), (201 if result.created else 200)


@bp.route("/api/v1/conversations/<int(max=2147483647):conversation_id>/messages/<int:message_id>",
          methods=["PATCH"])
@login_required
@operation("Edit my own reply or note within 15 minutes", body=EditMessage, responses={200: shapes.MessageOnly},
           errors={404: "No such message", 409: "stale_version / edit_window_closed / message_deleted"})
def edit_message(conversation_id: int, message_id: int, body: EditMessage) -> ResponseReturnValue:
    """Edit my own reply or note within 15 minutes (``version``: the edit count I saw)."""
    msg = message_edits.edit_message(g.operator, conversation_id, message_id, body.content,
                                     expected_version=body.version,
                                     ip=request.remote_addr)
    return jsonify({"message": _message_json(msg)})


@bp.route("/api/v1/conversations/<int(max=2147483647):conversation_id>/messages/<int:message_id>",
          methods=["DELETE"])
@login_required
@operation("Delete my own reply or note within 15 minutes (optional body: version)", body=DeleteMessage,
           body_optional=True, responses={200: shapes.MessageOnly},
           errors={404: "No such message", 409: "stale_version / edit_window_closed / message_deleted"})
def delete_message(conversation_id: int, message_id: int, body: DeleteMessage) -> ResponseReturnValue:
    """Delete my own reply or note within 15 minutes; an optional JSON body carries ``version``."""
    msg = message_edits.delete_message(g.operator, conversation_id, message_id,
                                       expected_version=body.version,
                                       ip=request.remote_addr)
    return jsonify({"message": _message_json(msg)})


def _message_json(msg: Any) -> dict[str, Any]:
    attachments = msg_service.attachments_by_message([msg.id])
    return msg_service.message_to_dict(msg, "operator", attachments.get(msg.id, ()))


@bp.route("/api/v1/conversations/<int(max=2147483647):conversation_id>/status", methods=["POST"])
@login_required
@operation("Resolve / reopen / snooze / pending", body=ChangeStatus, responses={200: shapes.Conversation},
           errors={404: "No such conversation", 409: "stale_version: the current conversation is in `current`"})
def change_status(conversation_id: int, body: ChangeStatus) -> ResponseReturnValue:
    """Resolve, reopen, snooze or set pending, with an optional ``version`` check."""
    conv = conv_service.change_status(g.operator, conversation_id, body.status, expected_version=body.version,
                                      snoozed_until=body.snoozed_until)
    return jsonify(_conversation_json(conv))


@bp.route("/api/v1/conversations/<int(max=2147483647):conversation_id>/priority", methods=["POST"])
@login_required
@operation("Set priority 0..4", body=SetPriority, responses={200: shapes.Conversation},
           errors={404: "No such conversation", 409: "stale_version"})
def set_priority(conversation_id: int, body: SetPriority) -> ResponseReturnValue:
    """Set the priority (0 none … 4 urgent)."""
    conv = conv_service.set_priority(g.operator, conversation_id, PRIORITIES[body.priority],
                                     expected_version=body.version)
    return jsonify(_conversation_json(conv))


@bp.route("/api/v1/conversations/<int(max=2147483647):conversation_id>/labels", methods=["PUT"])
@login_required
@operation("Replace labels", body=SetLabels, responses={200: shapes.Conversation},
           errors={404: "No such conversation", 409: "stale_version"})
def set_labels(conversation_id: int, body: SetLabels) -> ResponseReturnValue:
    """Replace the conversation's labels (unknown label ids are a 422)."""
    conv = label_service.set_labels(g.operator, conversation_id, list(body.labels), expected_version=body.version)
    return jsonify(_conversation_json(conv))


@bp.route("/api/v1/conversations/<int(max=2147483647):conversation_id>/read", methods=["POST"])
@login_required
@operation("Mark read by the operator", responses={200: shapes.Conversation}, errors={404: "No such conversation"})
def mark_read(conversation_id: int) -> ResponseReturnValue:
    """The operator has read the conversation."""
    conv = conv_service.mark_read_by_operator(g.operator, conversation_id)
    return jsonify(_conversation_json(conv))


@bp.route("/api/v1/contacts/<int(max=2147483647):contact_id>")
@login_required
@operation("Contact, latest session metadata, previous conversations", responses={200: shapes.ContactDetail},
           errors={404: "No such contact (or not in an inbox I may see)"})
def get_contact(contact_id: int) -> ResponseReturnValue:
    """Contact profile, browser session and previous conversations."""
    return jsonify(contact_profile.contact_detail(g.operator, contact_id))


@bp.route("/api/v1/contacts/<int(max=2147483647):contact_id>", methods=["PATCH"])
@login_required
@operation("Edit a contact", body=PatchContact, responses={200: shapes.Contact},
           errors={404: "No such contact", 409: "email_taken: another contact has this email"})
def update_contact(contact_id: int, body: PatchContact) -> ResponseReturnValue:
    """Edit the contact's name, email, phone or custom attributes (only the fields sent)."""
    contact = contact_profile.update_contact(g.operator, contact_id, body.model_dump(exclude_unset=True))
    return jsonify(contact_profile.contact_to_dict(contact))


@bp.route("/api/v1/canned-responses")
@login_required
@operation("My own and the shared canned responses (prefix filter; `personal` flag)", query=CannedQuery,
           responses={200: shapes.CannedList})
def canned_responses(query: CannedQuery) -> ResponseReturnValue:
    """The operator's own and the shared canned responses, optionally by short-code prefix."""
    return jsonify({"items": canned.for_composer(g.operator.id, query.prefix)})


@bp.route("/api/v1/directory")
@login_required
@operation("Me, inboxes, operators, teams, labels for pickers, and the stream's start position",
           responses={200: shapes.Directory})
def panel_directory() -> ResponseReturnValue:
    """Pickers' lists plus the log position the panel's stream starts from."""
    # The log position before the panel loads its lists: the stream replays from here, so
    # nothing that happens while the lists load is missed.
    return jsonify(dict(directory.panel_directory(g.operator), position=head_position()))


@bp.route("/api/v1/search")
@login_required
@operation("Full-text search over messages and contacts in the inboxes the operator sees: word forms in each inbox's "
           "language (english/russian stemming), best match first, newest first among equals",
           query=SearchQuery, responses={200: shapes.SearchResults})
def search(query: SearchQuery) -> ResponseReturnValue:
    """Full-text search over messages and contacts."""
    return jsonify(search_service.search(g.operator, query.q))


@bp.route("/api/v1/me/preferences", methods=["PUT"])
@login_required
@operation("Save my panel language (also the admin pages' lang cookie)", body=SetPreferences,
           responses={200: shapes.Preferences})
def set_my_preferences(body: SetPreferences) -> ResponseReturnValue:
    """``{"locale": "en" | "ru" | null}``: the panel's language, saved for the operator."""
    user = users.set_locale(g.operator.id, body.locale)
    resp = jsonify({"locale": user.locale})
    # The server-rendered pages (admin, sign-in) follow the same choice.
    if user.locale:
        resp.set_cookie(LANG_COOKIE, user.locale, max_age=365 * 24 * 3600, samesite="Lax", httponly=True,
                        secure=bool(request.is_secure))
    else:
        resp.delete_cookie(LANG_COOKIE)
    return resp
