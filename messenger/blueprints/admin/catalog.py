"""Labels, teams and shared canned responses: list, create, edit, delete."""
from __future__ import annotations

import sqlalchemy as sa
from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from messenger.blueprints.admin.blueprint import bp
from messenger.blueprints.admin.forms import CannedForm
from messenger.blueprints.admin.forms import ConfirmForm
from messenger.blueprints.admin.forms import LabelForm
from messenger.blueprints.admin.forms import TeamForm
from messenger.blueprints.admin.helpers import actor_id
from messenger.blueprints.admin.helpers import actor_ip
from messenger.blueprints.admin.helpers import form_status
from messenger.blueprints.admin.helpers import get_or_404
from messenger.blueprints.admin.helpers import run_form
from messenger.extensions import db
from messenger.models import Label
from messenger.models import Team
from messenger.models import User
from messenger.services import canned as canned_service
from messenger.services import labels as label_service
from messenger.services import teams as team_service


def _edit_page(form: FlaskForm, heading: str, back: str, back_label: str) -> ResponseReturnValue:
    return render_template("admin/edit.html", form=form, heading=heading, back_url=url_for(back),
                           back_label=back_label), form_status(form)


def _deleted(form: ConfirmForm, endpoint: str) -> ResponseReturnValue:
    if form.validate_on_submit():
        flash(_("Deleted."), "success")
    return redirect(url_for(endpoint))


# --- labels -----------------------------------------------------------------------------------

@bp.route("/labels", methods=["GET", "POST"])
def labels() -> ResponseReturnValue:
    form = LabelForm()
    saved = run_form(form, lambda: label_service.save_label(
        actor_id(), None, name=form.name.data or "", color=form.color.data or "", ip=actor_ip()))
    if saved is not None:
        flash(_("Label “%(name)s” created.", name=saved.name), "success")
        return redirect(url_for("admin.labels"))
    return render_template("admin/labels.html", form=form, labels=label_service.list_labels()), form_status(form)


@bp.route("/labels/<int(max=2147483647):label_id>", methods=["GET", "POST"])
def label_edit(label_id: int) -> ResponseReturnValue:
    label = get_or_404(Label, label_id)
    form = LabelForm(obj=label)
    saved = run_form(form, lambda: label_service.save_label(
        actor_id(), label_id, name=form.name.data or "", color=form.color.data or "", ip=actor_ip()))
    if saved is not None:
        flash(_("Saved."), "success")
        return redirect(url_for("admin.labels"))
    return _edit_page(form, _("Edit label"), "admin.labels", _("Labels"))


@bp.route("/labels/<int(max=2147483647):label_id>/delete", methods=["POST"])
def label_delete(label_id: int) -> ResponseReturnValue:
    form = ConfirmForm()
    if form.validate_on_submit():
        label_service.delete_label(actor_id(), label_id, ip=actor_ip())
    return _deleted(form, "admin.labels")


# --- teams ------------------------------------------------------------------------------------

def _operator_choices() -> list[tuple[int, str]]:
    return [(u.id, f"{u.name} <{u.email}>" + ("" if u.active else " — " + _("deactivated")))
            for u in db.session.scalars(sa.select(User).order_by(User.name))]


@bp.route("/teams", methods=["GET", "POST"])
def teams() -> ResponseReturnValue:
    form = TeamForm()
    form.members.choices = _operator_choices()
    saved = run_form(form, lambda: team_service.save_team(
        actor_id(), None, name=form.name.data or "", members=list(form.members.data or []), ip=actor_ip()))
    if saved is not None:
        flash(_("Team “%(name)s” created.", name=saved.name), "success")
        return redirect(url_for("admin.teams"))
    return render_template("admin/teams.html", form=form, teams=team_service.list_teams()), form_status(form)


@bp.route("/teams/<int(max=2147483647):team_id>", methods=["GET", "POST"])
def team_edit(team_id: int) -> ResponseReturnValue:
    team = get_or_404(Team, team_id)
    form = TeamForm(obj=team, members=team_service.member_ids(team_id))
    form.members.choices = _operator_choices()
    saved = run_form(form, lambda: team_service.save_team(
        actor_id(), team_id, name=form.name.data or "", members=list(form.members.data or []), ip=actor_ip()))
    if saved is not None:
        flash(_("Saved."), "success")
        return redirect(url_for("admin.teams"))
    return _edit_page(form, _("Edit team"), "admin.teams", _("Teams"))


@bp.route("/teams/<int(max=2147483647):team_id>/delete", methods=["POST"])
def team_delete(team_id: int) -> ResponseReturnValue:
    form = ConfirmForm()
    if form.validate_on_submit():
        team_service.delete_team(actor_id(), team_id, ip=actor_ip())
    return _deleted(form, "admin.teams")


# --- shared canned responses ------------------------------------------------------------------

@bp.route("/canned-responses", methods=["GET", "POST"])
def canned_responses() -> ResponseReturnValue:
    form = CannedForm()
    saved = run_form(form, lambda: canned_service.save_canned(
        actor_id(), None, None, short_code=form.short_code.data or "", content=form.content.data or "",
        ip=actor_ip()))
    if saved is not None:
        flash(_("Canned response /%(code)s created.", code=saved.short_code), "success")
        return redirect(url_for("admin.canned_responses"))
    return render_template("admin/canned.html", form=form, items=canned_service.list_canned(None)), form_status(form)


@bp.route("/canned-responses/<int(max=2147483647):canned_id>", methods=["GET", "POST"])
def canned_edit(canned_id: int) -> ResponseReturnValue:
    item = canned_service.get_canned(None, canned_id)
    form = CannedForm(obj=item)
    saved = run_form(form, lambda: canned_service.save_canned(
        actor_id(), None, canned_id, short_code=form.short_code.data or "", content=form.content.data or "",
        ip=actor_ip()))
    if saved is not None:
        flash(_("Saved."), "success")
        return redirect(url_for("admin.canned_responses"))
    return _edit_page(form, _("Edit canned response"), "admin.canned_responses", _("Canned responses"))


@bp.route("/canned-responses/<int(max=2147483647):canned_id>/delete", methods=["POST"])
def canned_delete(canned_id: int) -> ResponseReturnValue:
    form = ConfirmForm()
    if form.validate_on_submit():
        canned_service.delete_canned(actor_id(), None, canned_id, ip=actor_ip())
    return _deleted(form, "admin.canned_responses")
