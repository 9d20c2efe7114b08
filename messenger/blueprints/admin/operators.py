"""Operators: list, invite (one-time link), edit role/capacity/membership, deactivate, reset password."""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from messenger.blueprints.admin.blueprint import bp
from messenger.blueprints.admin.forms import ConfirmForm
from messenger.blueprints.admin.forms import OperatorForm
from messenger.blueprints.admin.helpers import actor_id
from messenger.blueprints.admin.helpers import actor_ip
from messenger.blueprints.admin.helpers import form_status
from messenger.blueprints.admin.helpers import get_or_404
from messenger.blueprints.admin.helpers import run_form
from messenger.blueprints.admin.inboxes import base_url
from messenger.errors import Conflict
from messenger.extensions import db
from messenger.models import Inbox
from messenger.models import Team
from messenger.models import User
from messenger.services import accounts
from messenger.services import operators as operator_service


def _choices(form: OperatorForm) -> None:
    form.inboxes.choices = [(i.id, i.name) for i in db.session.scalars(sa.select(Inbox).order_by(Inbox.name))]
    form.teams.choices = [(t.id, t.name) for t in db.session.scalars(sa.select(Team).order_by(Team.name))]


def _link_page(user: User, link: accounts.IssuedLink, heading: str) -> ResponseReturnValue:
    """The one page that shows a one-time link, to copy; never cached."""
    response = current_app.make_response(render_template(
        "admin/operator_link.html", user=user, link=link, heading=heading,
        url=accounts.link_url(link.token, base_url())))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/operators")
def operators() -> ResponseReturnValue:
    rows = operator_service.list_operators()
    pending = accounts.pending_invites([r.user.id for r in rows])
    inbox_names = dict(db.session.execute(sa.select(Inbox.id, Inbox.name)).all())
    team_names = dict(db.session.execute(sa.select(Team.id, Team.name)).all())
    return render_template("admin/operators.html", rows=rows, pending=pending, inbox_names=inbox_names,
                           team_names=team_names)


@bp.route("/operators/invite", methods=["GET", "POST"])
def operator_invite() -> ResponseReturnValue:
    form = OperatorForm()
    _choices(form)
    link = run_form(form, lambda: operator_service.invite_operator(
        actor_id(), name=form.name.data or "", email=form.email.data or "", role=form.role.data or "",
        capacity=form.capacity.data if form.capacity.data is not None else -1,
        inbox_ids=list(form.inboxes.data or []), team_ids=list(form.teams.data or []), ip=actor_ip()))
    if link is not None:
        return _link_page(db.session.get(User, link.user_id), link, _("Invitation created"))  # type: ignore[arg-type]
    return render_template("admin/operator_edit.html", form=form, user=None), form_status(form)


@bp.route("/operators/<int(max=2147483647):user_id>", methods=["GET", "POST"])
def operator_edit(user_id: int) -> ResponseReturnValue:
    user = get_or_404(User, user_id)
    member = operator_service.membership(user_id)
    form = OperatorForm(obj=user, inboxes=member.inbox_ids, teams=member.team_ids)
    _choices(form)
    del form.email
    saved = run_form(form, lambda: operator_service.update_operator(
        actor_id(), user_id, name=form.name.data or "", role=form.role.data or "",
        capacity=form.capacity.data if form.capacity.data is not None else -1,
        inbox_ids=list(form.inboxes.data or []), team_ids=list(form.teams.data or []), ip=actor_ip()))
    if saved is not None:
        flash(_("Saved."), "success")
        return redirect(url_for("admin.operators"))
    pending = accounts.pending_invites([user.id]).get(user.id)
    return render_template("admin/operator_edit.html", form=form, user=user, pending=pending), form_status(form)


@bp.route("/operators/<int(max=2147483647):user_id>/active", methods=["POST"])
def operator_set_active(user_id: int) -> ResponseReturnValue:
    user = get_or_404(User, user_id)
    if ConfirmForm().validate_on_submit():
        try:
            operator_service.set_active(actor_id(), user_id, not user.active, ip=actor_ip())
            flash(_("%(name)s can sign in again.", name=user.name) if not user.active else
                  _("%(name)s is deactivated; their open conversations went back to the queue.", name=user.name),
                  "success")
        except Conflict as exc:
            flash(_(exc.message), "error")
    return redirect(url_for("admin.operator_edit", user_id=user_id))


@bp.route("/operators/<int(max=2147483647):user_id>/password-link", methods=["POST"])
def operator_password_link(user_id: int) -> ResponseReturnValue:
    user = get_or_404(User, user_id)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("admin.operator_edit", user_id=user_id))
    try:
        link = operator_service.reset_password(actor_id(), user_id, ip=actor_ip())
    except Conflict as exc:
        flash(_(exc.message), "error")
        return redirect(url_for("admin.operator_edit", user_id=user_id))
    return _link_page(user, link, _("New invitation link") if link.purpose == "invite" else _("Password reset link"))
