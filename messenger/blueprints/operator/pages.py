"""Server-rendered operator pages: the panel shell."""
from __future__ import annotations

from flask import g
from flask import redirect
from flask import render_template
from flask import url_for
from flask.typing import ResponseReturnValue

from messenger.blueprints.operator.auth import login_required
from messenger.blueprints.operator.blueprint import bp


@bp.route("/")
def index() -> ResponseReturnValue:
    return redirect(url_for("operator.app_page"))


@bp.route("/app")
@login_required
def app_page() -> ResponseReturnValue:
    return render_template("operator/app.html", operator=g.operator)
