"""The OpenAPI document of the JSON APIs, served at ``/api/openapi.json``.

Paths and parameters are read from the app's URL map, so the document cannot list a
route that does not exist; ``OPERATIONS`` adds a summary (and the body fields) for each
one, and a test fails when a route under ``/api/v1`` or ``/widget/api/v1`` has none.
"""
from __future__ import annotations

import re
from typing import Any

from flask import Flask

API_PREFIXES = ("/api/v1/", "/widget/api/v1/")

ERROR = {"$ref": "#/components/schemas/Error"}

# (METHOD, path with {params}) -> (summary, request body fields or None)
OPERATIONS: dict[tuple[str, str], tuple[str, dict[str, str] | None]] = {
    # Operator API (session cookie + X-CSRFToken on state changes).
    ("GET", "/api/v1/conversations"): ("List conversations (keyset pages; tab, filters, sort, cursor)", None),
    ("GET", "/api/v1/conversations/counts"): ("Live counts for the Waiting / Mine / Unassigned / All tabs",
                                                None),
    ("GET", "/api/v1/conversations/{conversation_id}"): ("One conversation card", None),
    ("GET", "/api/v1/conversations/{conversation_id}/messages"): (
        "Messages, newest page first (before_id cursor); the newest page carries the CSAT rating", None),
    ("POST", "/api/v1/conversations/{conversation_id}/messages"): (
        "Reply or private note, idempotent by client_id",
        {"content": "string", "client_id": "uuid", "private": "boolean", "reopen": "boolean",
         "attachments": "array of attachment ids"}),
    ("PATCH", "/api/v1/conversations/{conversation_id}/messages/{message_id}"): (
        "Edit my own reply or note within 15 minutes (409 stale_version / edit_window_closed / message_deleted)",
        {"content": "string", "version": "integer (content_attributes.edits I saw)"}),
    ("DELETE", "/api/v1/conversations/{conversation_id}/messages/{message_id}"): (
        "Delete my own reply or note within 15 minutes (optional body: version)", {"version": "integer"}),
    ("POST", "/api/v1/conversations/{conversation_id}/status"): (
        "Resolve / reopen / snooze / pending (409 on a stale version)",
        {"status": "open|pending|snoozed|resolved", "version": "integer", "snoozed_until": "ISO 8601"}),
    ("POST", "/api/v1/conversations/{conversation_id}/priority"): ("Set priority 0..4",
                                                                   {"priority": "integer", "version": "integer"}),
    ("PUT", "/api/v1/conversations/{conversation_id}/labels"): ("Replace labels",
                                                                {"labels": "array of label ids", "version": "integer"}),
    ("POST", "/api/v1/conversations/{conversation_id}/read"): ("Mark read by the operator", None),
    ("POST", "/api/v1/conversations/{conversation_id}/assign"): (
        "Assign to an operator or team, unassign, transfer with a note",
        {"user_id": "integer|null", "team_id": "integer|null", "note": "string", "version": "integer"}),
    ("POST", "/api/v1/conversations/{conversation_id}/self-assign"): ("Assign to me", {"version": "integer"}),
    ("GET", "/api/v1/conversations/{conversation_id}/queue"): ("Queue position of a waiting conversation", None),
    ("POST", "/api/v1/conversations/{conversation_id}/typing"): ("Typing on/off (ephemeral)", {"on": "boolean"}),
    ("POST", "/api/v1/conversations/{conversation_id}/attachments"): ("Upload an attachment (multipart `file`)",
                                                                      None),
    ("GET", "/api/v1/attachments/{key}"): ("Download a clean attachment", None),
    ("GET", "/api/v1/attachments/{key}/thumb"): ("Download an image thumbnail", None),
    ("GET", "/api/v1/contacts/{contact_id}"): ("Contact, latest session metadata, previous conversations", None),
    ("PATCH", "/api/v1/contacts/{contact_id}"): (
        "Edit a contact", {"name": "string", "email": "string", "phone": "string", "custom_attributes": "object"}),
    ("POST", "/api/v1/contacts/{contact_id}/block"): (
        "Block a contact (no widget, streams closed); optionally its address too",
        {"until": "ISO 8601 with zone, or null for no expiry", "reason": "string", "block_address": "boolean"}),
    ("DELETE", "/api/v1/contacts/{contact_id}/block"): ("Lift a contact's block", None),
    ("POST", "/api/v1/conversations/{conversation_id}/spam"): (
        "Mark as spam: resolve and block the contact (and its address if asked)", {"block_address": "boolean"}),
    ("GET", "/api/v1/search"): ("Full-text search over messages and contacts (q)", None),
    ("GET", "/api/v1/canned-responses"): ("My own and the shared canned responses (prefix filter; `personal` flag)",
                                          None),
    ("GET", "/api/v1/directory"): ("Me, inboxes, operators, teams, labels for pickers", None),
    ("GET", "/api/v1/stream"): ("Server-Sent Events stream (Last-Event-ID / after)", None),
    ("GET", "/api/v1/events"): ("Long-poll fallback: events after a position", None),
    ("POST", "/api/v1/me/availability"): ("Set my availability (remembered as availability_choice)",
                                          {"availability": "online|busy|offline"}),
    ("PUT", "/api/v1/me/preferences"): ("Save my panel language (also the admin pages' lang cookie)",
                                        {"locale": "en|ru|null"}),
    # Widget API (X-Visitor-Token unless noted; origin-checked per inbox).
    ("GET", "/widget/api/v1/config"): ("Inbox widget configuration (no token)", None),
    ("POST", "/widget/api/v1/session"): ("Create or resume a visitor session (no token)",
                                         {"inbox": "website token", "token": "visitor token", "url": "string",
                                          "title": "string", "referrer": "string", "locale": "string",
                                          "timezone": "string", "pages": "array (see /page)"}),
    ("POST", "/widget/api/v1/page"): ("Report the page the visitor is on and this visit's pages",
                                      {"url": "string", "title": "string", "referrer": "string",
                                       "pages": "array of ≤ 20 {url, title, at (ms), s (seconds on it), "
                                                "ref (landing page only)}"}),
    ("GET", "/widget/api/v1/contact"): ("The visitor's own contact", None),
    ("PATCH", "/widget/api/v1/contact"): ("Update the visitor's contact",
                                          {"name": "string", "email": "string", "phone": "string",
                                           "custom_attributes": "object"}),
    ("POST", "/widget/api/v1/identify"): ("setUser: identify with an HMAC of the identifier",
                                          {"identifier": "string", "identifier_hash": "hex HMAC-SHA256",
                                           "name": "string", "email": "string"}),
    ("POST", "/widget/api/v1/reset"): ("Forget the identity: revoke the token, new anonymous session", None),
    ("GET", "/widget/api/v1/conversations"): ("The visitor's conversations", None),
    ("POST", "/widget/api/v1/conversations"): ("Start a conversation (or return the one in progress)", None),
    ("GET", "/widget/api/v1/conversations/{conversation_id}"): ("A conversation with queue position and CSAT state",
                                                                None),
    ("GET", "/widget/api/v1/conversations/{conversation_id}/messages"): ("Messages (before / after cursors)", None),
    ("POST", "/widget/api/v1/messages"): ("Send a message, idempotent by client_id",
                                          {"content": "string", "client_id": "uuid", "conversation_id": "integer",
                                           "attachments": "array of attachment ids",
                                           "hp": "honeypot: always empty from people"}),
    ("POST", "/widget/api/v1/conversations/{conversation_id}/read"): ("Mark operator messages read", None),
    ("POST", "/widget/api/v1/conversations/{conversation_id}/typing"): ("Typing on/off (ephemeral)",
                                                                         {"on": "boolean"}),
    ("GET", "/api/v1/contacts/{contact_id}/export"): (
        "Export everything held about a contact (profile, sessions, conversations, messages, attachments) as JSON",
        None),
    ("POST", "/api/v1/contacts/{contact_id}/erase"): (
        "Erase a contact's text and files, keep statistics (admins; 403 otherwise)", None),
    ("POST", "/widget/api/v1/conversations/{conversation_id}/transcript"): (
        "E-mail the conversation to the visitor (202; 422 email_unavailable without SMTP)",
        {"email": "optional address; default: the one the visitor left"}),
    ("POST", "/widget/api/v1/conversations/{conversation_id}/csat"): ("Rate the conversation after resolve",
                                                                       {"rating": "1..5", "comment": "string"}),
    ("POST", "/widget/api/v1/conversations/{conversation_id}/attachments"): (
        "Upload an attachment (multipart `file`)", None),
    ("POST", "/widget/api/v1/prechat"): ("Submit the pre-chat form and start the conversation",
                                         {"fields": "object", "message": "string", "client_id": "uuid"}),
    ("POST", "/widget/api/v1/offline"): ("Offline form: leave an email and a message",
                                         {"email": "string", "message": "string", "name": "string"}),
    ("POST", "/widget/api/v1/attachment-urls"): ("Short-lived signed URLs for attachment previews",
                                                 {"ids": "array of attachment ids"}),
    ("GET", "/widget/api/v1/attachments/{key}"): ("Download a clean attachment (token or signed URL)", None),
    ("GET", "/widget/api/v1/attachments/{key}/thumb"): ("Download an image thumbnail", None),
    ("POST", "/widget/api/v1/stream-ticket"): ("A 60-second ticket for the visitor stream", None),
    ("GET", "/widget/api/v1/stream"): ("Server-Sent Events stream for the visitor (ticket)", None),
    ("GET", "/widget/api/v1/events"): ("Long-poll fallback for the visitor", None),
}

_CONVERTER = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def api_operations(app: Flask) -> list[tuple[str, str, str]]:
    """(method, openapi path, endpoint) for every JSON API route of the app."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIXES):
            continue
        path = _CONVERTER.sub(lambda m: "{" + m.group(2) + "}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, path, rule.endpoint))
    return sorted(found)


def _parameters(path: str) -> list[dict[str, Any]]:
    params = []
    for name in re.findall(r"{(\w+)}", path):
        schema = {"type": "integer"} if name.endswith("_id") else {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def build_spec(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document for the routes that exist."""
    paths: dict[str, dict[str, Any]] = {}
    for method, path, endpoint in api_operations(app):
        summary, body = OPERATIONS.get((method, path), ("(undocumented)", None))
        operation: dict[str, Any] = {
            "operationId": endpoint.replace(".", "_"),
            "summary": summary,
            "tags": ["widget" if path.startswith("/widget/") else "operator"],
            "parameters": _parameters(path),
            "responses": {
                "200": {"description": "OK"},
                "4XX": {"description": "Client error", "content": {"application/json": {"schema": ERROR}}},
            },
        }
        if body:
            operation["requestBody"] = {"content": {"application/json": {"schema": {
                "type": "object",
                "properties": {k: {"description": v} for k, v in body.items()}}}}}
        if path.startswith("/widget/"):
            operation["security"] = [{"visitorToken": []}]
        else:
            operation["security"] = [{"session": []}, {"bearer": []}]
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Messenger API", "version": "1",
                 "description": "Operator API (session cookie + X-CSRFToken on changes, or a personal API token as "
                                "Authorization: Bearer, no CSRF) and public widget API "
                                "(X-Visitor-Token, origin allowlist per inbox). Errors are "
                                "{\"error\": code, \"message\": text}."},
        "paths": paths,
        "components": {
            "schemas": {"Error": {"type": "object", "required": ["error", "message"],
                                  "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}},
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "A personal API token (created at /app/tokens) acting as its owner"},
                "visitorToken": {"type": "apiKey", "in": "header", "name": "X-Visitor-Token"},
            },
        },
    }
