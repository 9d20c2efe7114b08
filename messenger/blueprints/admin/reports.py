"""Reports page (figures, SVG charts, definitions) and each table as a CSV download."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import Response
from flask import render_template
from flask import request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from markupsafe import Markup

from messenger import svg
from messenger.blueprints.admin.blueprint import bp
from messenger.blueprints.admin.forms import ReportFilterForm
from messenger.errors import DomainError
from messenger.errors import NotFound
from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.models import Inbox
from messenger.models import Team
from messenger.models import User
from messenger.services import reports as service


def _choices(form: ReportFilterForm) -> None:
    form.inbox.choices = [("", _("All inboxes"))] + [
        (str(i), n) for i, n in db.session.execute(sa.select(Inbox.id, Inbox.name).order_by(Inbox.name, Inbox.id))]
    form.operator.choices = [("", _("All operators"))] + [
        (str(i), n) for i, n in db.session.execute(sa.select(User.id, User.name).order_by(User.name, User.id))]
    form.team.choices = [("", _("All teams"))] + [
        (str(i), n) for i, n in db.session.execute(sa.select(Team.id, Team.name).order_by(Team.name, Team.id))]


def _choice(form: ReportFilterForm, name: str) -> int | None:
    """The chosen id of a select, or None for "all"; an id that is not a choice is a field error."""
    field = getattr(form, name)
    value = field.data or ""
    if not value:
        return None
    if value not in {key for key, _label in field.choices}:
        raise ValidationError(_("Not one of the choices."), field=name)
    return int(value)


def _scope(form: ReportFilterForm) -> service.ReportFilter:
    if not form.validate():
        name = next(iter(form.errors))
        raise ValidationError(str(form.errors[name][0]), field=name)
    since: date | None = form.since.data
    until: date | None = form.until.data
    return service.make_filter(since, until, form.tz.data, inbox_id=_choice(form, "inbox"),
                               user_id=_choice(form, "operator"), team_id=_choice(form, "team"))


@bp.route("/reports")
def reports() -> ResponseReturnValue:
    form = ReportFilterForm(request.args)
    _choices(form)
    try:
        scope = _scope(form)
    except DomainError as exc:
        field = getattr(form, str(exc.details.get("field", "")), None)
        if field is not None and exc.message not in field.errors:
            field.errors = [*field.errors, _(exc.message)]
        return render_template("admin/reports.html", form=form, report=None, args={}), 422
    report = service.build(scope)
    args = {k: v for k, v in request.args.items() if v}
    return render_template("admin/reports.html", form=form, report=report, args=args, charts=_charts(report))


def _charts(report: service.Report) -> dict[str, Markup]:
    days = [d.strftime("%d.%m") for d, *_rest in report.daily]
    weekdays = [_(d) for d in service.WEEKDAYS]
    return {
        "volume": svg.bar_chart(days, [(_("Opened"), [r[1] for r in report.daily]),
                                       (_("Resolved"), [r[2] for r in report.daily])],
                                title=_("Conversations opened and resolved per day")),
        "messages": svg.bar_chart(days, [(_("Visitor messages"), [r[3] for r in report.daily]),
                                         (_("Operator messages"), [r[4] for r in report.daily])],
                                  title=_("Messages per day")),
        "csat": svg.bar_chart([str(n) for n in range(1, 6)],
                              [(_("Ratings"), [report.csat_distribution.get(n, 0) for n in range(1, 6)])],
                              title=_("Ratings from 1 to 5"), width=360, height=160),
        "heatmap": svg.heatmap(report.heatmap, weekdays, [f"{h:02d}" for h in range(24)],
                               title=_("Conversations opened by weekday and hour")),
    }


@bp.route("/reports/<string(maxlength=16):table>.csv")
def reports_csv(table: str) -> ResponseReturnValue:
    if table not in service.TABLES:
        raise NotFound("No such table.")
    form = ReportFilterForm(request.args)
    _choices(form)
    scope = _scope(form)  # a bad scope is a 422 naming the field
    body = service.to_csv(service.table_rows(service.build(scope), table))
    filename = f"messenger-{table}-{scope.since.isoformat()}-{scope.until.isoformat()}.csv"
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})
