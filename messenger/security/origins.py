"""Widget origin allowlist (PRODUCT.md 5, CASES 28).

A widget request is accepted when its ``Origin`` is the app's own origin (the widget
frame is served from here), or one of the inbox's ``allowed_origins``. A request without
an ``Origin`` header (a non-browser client, or a same-origin GET such as ``<img src>``)
is not a cross-site browser request, so the visitor token alone decides. An inbox whose
allowlist is empty accepts any origin (not configured yet; the admin page warns).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import has_request_context
from flask import request

from messenger.errors import Forbidden
from messenger.models import Inbox


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
    if has_request_context() and origin == normalise_origin(request.host_url):
        return True
    allowed = [normalise_origin(o) for o in (inbox.allowed_origins or []) if isinstance(o, str)]
    if not allowed:
        return True
    return origin in allowed


def check_origin(inbox: Inbox, request_origin: str | None) -> None:
    """Raise Forbidden (403 ``origin_not_allowed``) unless the origin may use this inbox."""
    if not origin_allowed(inbox, request_origin):
        raise Forbidden("This site may not use this chat.", code="origin_not_allowed")
