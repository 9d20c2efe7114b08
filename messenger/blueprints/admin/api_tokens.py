"""Admin: every operator's API tokens (name, owner, last use) with revoke."""
from __future__ import annotations

from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from messenger.blueprints.admin.blueprint import bp
from messenger.blueprints.admin.forms import ConfirmForm
from messenger.blueprints.admin.helpers import actor_ip
from messenger.services import api_tokens as token_service


@bp.route("/api-tokens")
def api_tokens() -> ResponseReturnValue:
    return render_template("admin/api_tokens.html", tokens=token_service.list_tokens(), action=ConfirmForm())


@bp.route("/api-tokens/<int(max=2147483647):token_id>/revoke", methods=["POST"])
def api_token_revoke(token_id: int) -> ResponseReturnValue:
    if ConfirmForm().validate_on_submit():
        token_service.revoke_token(g.operator, token_id, ip=actor_ip())
        flash(_("Token revoked."), "success")
    return redirect(url_for("admin.api_tokens"))
