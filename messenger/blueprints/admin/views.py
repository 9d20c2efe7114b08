"""Admin pages. The inbox list shows each inbox's embed code."""
from __future__ import annotations

import sqlalchemy as sa
from flask import render_template
from flask.typing import ResponseReturnValue

from messenger.blueprints.admin import bp
from messenger.blueprints.operator.auth import admin_required
from messenger.extensions import db
from messenger.models import Inbox


@bp.route("/")
@admin_required
def index() -> ResponseReturnValue:
    inboxes = db.session.scalars(sa.select(Inbox).order_by(Inbox.id)).all()
    return render_template("admin/index.html", inboxes=inboxes)
