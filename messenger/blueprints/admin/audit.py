"""The audit log: who did what, when, from which IP; filterable, newest first, paginated by id."""
from __future__ import annotations

from datetime import datetime
from datetime import time
from datetime import timedelta
from datetime import timezone

import sqlalchemy as sa
from flask import render_template
from flask import request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from messenger.blueprints.admin.blueprint import bp
from messenger.blueprints.admin.forms import AuditFilterForm
from messenger.extensions import db
from messenger.models import User
from messenger.parsing import digits_or_none
from messenger.services import audit as audit_service


def _day(value: object, *, end: bool = False) -> datetime | None:
    if value is None:
        return None
    start = datetime.combine(value, time.min, tzinfo=timezone.utc)  # type: ignore[arg-type]
    return start + timedelta(days=1) if end else start


def _filter(form: AuditFilterForm) -> audit_service.AuditFilter:
    actor = form.actor.data or ""
    return audit_service.AuditFilter(
        action=(form.action.data or "")[:64], actor_id=digits_or_none(actor),
        target_type=(form.target_type.data or "").strip(), ip=(form.ip.data or "").strip(),
        since=_day(form.since.data), until=_day(form.until.data, end=True))


def _choices(form: AuditFilterForm) -> None:
    actions = audit_service.known_actions()
    groups = sorted({a.split(".", 1)[0] + "." for a in actions if "." in a})
    form.action.choices = [("", _("Everything"))] + [(g, g + "*") for g in groups] + [(a, a) for a in actions]
    form.actor.choices = [("", _("Anyone"))] + [
        (str(uid), f"{name} <{email}>") for uid, name, email in db.session.execute(
            sa.select(User.id, User.name, User.email).order_by(User.name))]


@bp.route("/audit")
def audit() -> ResponseReturnValue:
    form = AuditFilterForm(request.args)
    _choices(form)
    if not form.validate():
        return render_template("admin/audit.html", form=form, rows=[], next_before=None, args={}, paged=False,
                               utc=timezone.utc), 422
    before = request.args.get("before", "")
    rows, next_before = audit_service.list_entries(
        _filter(form), before_id=digits_or_none(before, 2**63 - 1))
    args = {k: v for k, v in request.args.items() if k != "before" and v}
    return render_template("admin/audit.html", form=form, rows=rows, next_before=next_before, args=args,
                           paged="before" in request.args, utc=timezone.utc)
