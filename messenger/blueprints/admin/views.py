"""Admin home (every page with its count) and the language switch."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale

from messenger.blueprints.admin.blueprint import bp
from messenger.blueprints.admin.helpers import actor_id
from messenger.blueprints.admin.helpers import nav_items
from messenger.extensions import db
from messenger.i18n import LANG_COOKIE
from messenger.i18n import LANGUAGES
from messenger.models import Inbox
from messenger.services import users as users_service


@bp.context_processor
def _admin_context() -> dict[str, Any]:
    lang = str(get_locale() or "en")
    return {"admin_nav": nav_items(), "current_lang": lang, "lang": lang}


def inboxes_without_origins() -> int:
    """Inboxes whose widget accepts any website (no allowed origins set)."""
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(Inbox).where(
        sa.func.jsonb_array_length(Inbox.allowed_origins) == 0)) or 0)


@bp.route("/")
def index() -> ResponseReturnValue:
    tiles = [(item, item.count() if item.count else None) for item in nav_items()]
    return render_template("admin/index.html", tiles=tiles, inboxes_without_origins=inboxes_without_origins())


@bp.route("/language", methods=["POST"])
def set_language() -> ResponseReturnValue:
    """Remember the chosen language in a cookie and go back to the page."""
    lang = request.form.get("lang", "")
    target = request.form.get("next", "")
    if not target.startswith("/admin/") or "//" in target or "\\" in target:
        target = url_for("admin.index")
    response = redirect(target)
    if lang in LANGUAGES:
        users_service.set_locale(actor_id(), lang)  # the panel follows the same choice
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax", httponly=True,
                            secure=bool(request.is_secure))
    return response
