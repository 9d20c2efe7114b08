"""Widget origin allowlist (case 28 in docs/security.md).

A widget request is accepted when its ``Origin`` is the app's own origin (the widget
frame is served from here), or one of the inbox's ``allowed_origins``. A request without
an ``Origin`` header (a non-browser client, or a same-origin GET such as ``<img src>``)
is not a cross-site browser request, so the visitor token alone decides. An inbox whose
allowlist is empty accepts any origin (not configured yet; the admin page warns).

Entries are exact origins (``https://shop.example``, ``http://127.0.0.1:8000``) or a
subdomain wildcard (``https://*.example.com``). Without ``Origin`` the origin of the
``Referer`` is checked. CORS answers name only an allowed origin and never send
``Access-Control-Allow-Credentials``: visitors authenticate with a header token.
"""
from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Response
from flask import current_app
from flask import has_request_context
from flask import request

from messenger.errors import Forbidden
from messenger.extensions import db
from messenger.models import Inbox

CORS_HEADERS = "Content-Type, X-Visitor-Token"
CORS_METHODS = "GET, POST, PATCH, DELETE, OPTIONS"


def normalise_origin(value: str) -> str | None:
    """``scheme://host[:port]`` in lower case with default ports dropped; None if not an origin."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    suffix = "" if port in (None, default) else f":{port}"
    return f"{parts.scheme}://{host}{suffix}"


def origin_allowed(inbox: Inbox, request_origin: str | None) -> bool:
    """True when ``request_origin`` may talk to this inbox's widget API."""
    if request_origin is None or request_origin == "":
        return True
    origin = normalise_origin(request_origin)
    if origin is None:
        return False
    if has_request_context() and origin in own_origins():
        return True
    entries = [o for o in (inbox.allowed_origins or []) if isinstance(o, str)]
    if not entries:
        return True
    return any(_entry_matches(entry, origin) for entry in entries)


def own_origins() -> set[str]:
    """Messenger's own origins (the chat frame calls the API from here).

    With a separate widget origin (``WIDGET_BASE_URL``) the panel's ``BASE_URL`` is not one of
    them: a page there is a site like any other for the widget API.
    """
    widget = widget_origin()
    found = {normalise_origin(request.host_url),
             widget or normalise_origin(current_app.config.get("BASE_URL") or "")}
    return {o for o in found if o}


def widget_origin() -> str | None:
    """The widget's own origin when ``WIDGET_BASE_URL`` names one different from ``BASE_URL``, else None."""
    widget = normalise_origin(str(current_app.config.get("WIDGET_BASE_URL") or ""))
    if widget is None or widget == normalise_origin(str(current_app.config.get("BASE_URL") or "")):
        return None
    return widget


def _entry_matches(entry: str, origin: str) -> bool:
    """An exact origin, or ``scheme://*.domain`` for any subdomain of ``domain``."""
    if "://*." not in entry:
        return normalise_origin(entry) == origin
    scheme, _, rest = entry.partition("://*.")
    wanted = normalise_origin(f"{scheme}://{rest}")
    if wanted is None:
        return False
    w_scheme, _, w_host = wanted.partition("://")
    o_scheme, _, o_host = origin.partition("://")
    return o_scheme == w_scheme and o_host.endswith("." + w_host)


def request_origin_header() -> str | None:
    """The caller's ``Origin``, else the origin of its ``Referer`` ("null" stays "null": refused)."""
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin
    referer = request.headers.get("Referer")
    if referer:
        return normalise_origin(referer) or "null"
    return None


def check_request_origin(inbox: Inbox) -> None:
    """``check_origin`` with the current request's ``Origin`` (or ``Referer``)."""
    check_origin(inbox, request_origin_header())


def any_inbox_allows(origin: str) -> bool:
    """Whether some inbox lists ``origin`` exactly (a preflight names no inbox)."""
    found = db.session.scalar(sa.select(Inbox.id).where(
        Inbox.allowed_origins.op("@>")(sa.func.jsonb_build_array(origin))).limit(1))
    return found is not None


def apply_cors(response: Response, inbox: Inbox | None) -> Response:
    """CORS headers for an allowed foreign ``Origin`` (per inbox when known); never credentials."""
    raw = request.headers.get("Origin")
    origin = normalise_origin(raw) if raw else None
    if origin is None or origin in own_origins():
        return response
    response.headers.add("Vary", "Origin")
    allowed = origin_allowed(inbox, raw) if inbox is not None else any_inbox_allows(origin)
    if not allowed:
        return response
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
    response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
    response.headers["Access-Control-Max-Age"] = "600"
    response.headers.pop("Access-Control-Allow-Credentials", None)
    return response


def check_origin(inbox: Inbox, request_origin: str | None) -> None:
    """Raise Forbidden (403 ``origin_not_allowed``) unless the origin may use this inbox."""
    if not origin_allowed(inbox, request_origin):
        raise Forbidden("This site may not use this chat.", code="origin_not_allowed")
