"""Blocks: blocked visitors and blocked IP addresses / ranges, with unblock (rules in ``services/blocks.py``)."""
from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from datetime import timezone

from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from messenger.blueprints.admin.blueprint import bp
from messenger.blueprints.admin.forms import ConfirmForm
from messenger.blueprints.admin.forms import IpBlockForm
from messenger.blueprints.admin.helpers import actor_ip
from messenger.blueprints.admin.helpers import form_status
from messenger.blueprints.admin.helpers import run_form
from messenger.services import blocks as block_service


def _until(days: str | None) -> str | None:
    if not days:
        return None
    return (datetime.now(timezone.utc) + timedelta(days=int(days))).isoformat()


@bp.route("/blocks", methods=["GET", "POST"])
def blocks() -> ResponseReturnValue:
    """Everything blocked now, and a form to block an address or a range."""
    form = IpBlockForm()
    saved = run_form(form, lambda: block_service.block_network(
        g.operator, form.network.data, until=_until(form.days.data), reason=form.reason.data, ip=actor_ip()))
    if saved is not None:
        flash(_("%(network)s is blocked.", network=str(saved.network)), "success")
        return redirect(url_for("admin.blocks"))
    return render_template("admin/blocks.html", form=form, **block_service.active_blocks()), form_status(form)


@bp.route("/blocks/contacts/<int(max=2147483647):contact_id>/unblock", methods=["POST"])
def unblock_contact(contact_id: int) -> ResponseReturnValue:
    if ConfirmForm().validate_on_submit():
        block_service.unblock_contact(g.operator, contact_id, ip=actor_ip())
        flash(_("The visitor is unblocked."), "success")
    return redirect(url_for("admin.blocks"))


@bp.route("/blocks/networks/<int(max=2147483647):block_id>/unblock", methods=["POST"])
def unblock_network(block_id: int) -> ResponseReturnValue:
    if ConfirmForm().validate_on_submit():
        block_service.unblock_network(g.operator, block_id, ip=actor_ip())
        flash(_("The address is unblocked."), "success")
    return redirect(url_for("admin.blocks"))
