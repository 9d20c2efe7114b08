"""The embeddable pieces: ``/widget/loader.js`` (any site) and ``/widget/frame`` (the chat iframe).

The loader is a static file served by WhiteNoise (``messenger/assets.py``): minified,
compressed, cached 5 minutes, with ``Cross-Origin-Resource-Policy: cross-origin`` so
customer pages may load it. The frame page may be framed only by the
inbox's allowed origins (``frame-ancestors``), and refuses a ``Referer`` from elsewhere.
"""
from __future__ import annotations

import json

from flask import current_app
from flask import render_template
from flask import request
from flask.typing import ResponseReturnValue

from messenger.blueprints.widget.blueprint import bp
from messenger.errors import Forbidden
from messenger.errors import NotFound
from messenger.security.origins import normalise_origin
from messenger.security.origins import origin_allowed
from messenger.security.origins import widget_origin
from messenger.services.inboxes import get_inbox_by_token

FRAME_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
             "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
             "form-action 'self'; frame-ancestors {ancestors}")


def _ancestors(origins: list[object]) -> str:
    entries = [o for o in origins if isinstance(o, str) and o and all(c not in o for c in " ;,'\"")]
    if not origins:
        return "*"  # not configured yet: the same rule as the API (security.origins)
    # With a separate widget origin, the panel's own pages (admin preview) may still frame it.
    panel = normalise_origin(str(current_app.config.get("BASE_URL") or "")) if widget_origin() else None
    return " ".join(["'self'", *([panel] if panel else []), *entries])


def _frame_language(inbox_locale: str | None) -> str:
    if inbox_locale and inbox_locale[:2].lower() in ("ru", "en"):
        return inbox_locale[:2].lower()
    return request.accept_languages.best_match(["en", "ru"]) or "en"


@bp.route("/frame")
def frame() -> ResponseReturnValue:
    """The chat frame page (vanilla JS/CSS); the inbox's origins only."""
    inbox = get_inbox_by_token(request.args.get("inbox", ""))
    if inbox is None:
        raise NotFound("Unknown chat.", code="unknown_inbox")
    referer = request.headers.get("Referer")
    parent = normalise_origin(referer) if referer else None
    if referer and not origin_allowed(inbox, parent or "null"):
        raise Forbidden("This website is not allowed to use this chat.", code="origin_not_allowed")
    origins = [normalise_origin(o) or o for o in (inbox.allowed_origins or []) if isinstance(o, str)]
    response = current_app.make_response(render_template(
        "widget/frame.html", inbox=inbox, parent=parent or "", origins=json.dumps(origins),
        lang=_frame_language(inbox.locale)))
    response.headers["Content-Security-Policy"] = FRAME_CSP.format(ancestors=_ancestors(inbox.allowed_origins or []))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
