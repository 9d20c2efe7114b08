"""The operator's own canned responses (``/app/canned-responses``), next to the shared ones admins keep."""
from __future__ import annotations

from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from messenger.blueprints.admin.forms import CannedForm
from messenger.blueprints.admin.forms import ConfirmForm
from messenger.blueprints.formkit import form_status
from messenger.blueprints.formkit import run_form
from messenger.blueprints.operator.auth import login_required
from messenger.blueprints.operator.blueprint import bp
from messenger.security.ratelimit import client_ip
from messenger.services import canned as canned_service


def _render(form: CannedForm, editing: int | None = None) -> ResponseReturnValue:
    me = g.operator.id
    return render_template("operator/canned.html", form=form, editing=editing, mine=canned_service.list_canned(me),
                           shared=canned_service.list_canned(None)), form_status(form)


@bp.route("/app/canned-responses", methods=["GET", "POST"])
@login_required
def my_canned() -> ResponseReturnValue:
    form = CannedForm()
    me = g.operator.id
    saved = run_form(form, lambda: canned_service.save_canned(
        me, me, None, short_code=form.short_code.data or "", content=form.content.data or "", ip=client_ip()))
    if saved is not None:
        flash(_("Canned response /%(code)s created.", code=saved.short_code), "success")
        return redirect(url_for("operator.my_canned"))
    return _render(form)


@bp.route("/app/canned-responses/<int(max=2147483647):canned_id>", methods=["GET", "POST"])
@login_required
def my_canned_edit(canned_id: int) -> ResponseReturnValue:
    me = g.operator.id
    form = CannedForm(obj=canned_service.get_canned(me, canned_id))  # another operator's: 404
    saved = run_form(form, lambda: canned_service.save_canned(
        me, me, canned_id, short_code=form.short_code.data or "", content=form.content.data or "", ip=client_ip()))
    if saved is not None:
        flash(_("Saved."), "success")
        return redirect(url_for("operator.my_canned"))
    return _render(form, editing=canned_id)


@bp.route("/app/canned-responses/<int(max=2147483647):canned_id>/delete", methods=["POST"])
@login_required
def my_canned_delete(canned_id: int) -> ResponseReturnValue:
    if ConfirmForm().validate_on_submit():
        canned_service.delete_canned(g.operator.id, g.operator.id, canned_id, ip=client_ip())
        flash(_("Deleted."), "success")
    return redirect(url_for("operator.my_canned"))
