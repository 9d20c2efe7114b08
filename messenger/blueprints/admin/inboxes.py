"""Inboxes: list, create, edit every widget/routing setting, rotate the HMAC secret, embed code, preview."""
from __future__ import annotations

from zoneinfo import available_timezones

import sqlalchemy as sa
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from messenger.blueprints.admin.blueprint import bp
from messenger.blueprints.admin.forms import PRECHAT_ROWS_SPARE
from messenger.blueprints.admin.forms import ConfirmForm
from messenger.blueprints.admin.forms import InboxForm
from messenger.blueprints.admin.helpers import actor_id
from messenger.blueprints.admin.helpers import actor_ip
from messenger.blueprints.admin.helpers import form_status
from messenger.blueprints.admin.helpers import get_or_404
from messenger.blueprints.admin.helpers import run_form
from messenger.extensions import db
from messenger.models import Inbox
from messenger.models import InboxMember
from messenger.models import Team
from messenger.models import User
from messenger.security.headers import DEFAULT_CSP
from messenger.security.headers import csp_embedding_widget
from messenger.security.origins import widget_origin
from messenger.services import inbox_settings

REVEAL_KEY = "admin_reveal_secret"


def base_url() -> str:
    """The public URL of this Messenger (``BASE_URL``, else the URL the admin used)."""
    return (current_app.config.get("BASE_URL") or request.host_url).rstrip("/")


def embed_code(inbox: Inbox) -> str:
    """The snippet for the site: the loader on the widget's own origin when ``WIDGET_BASE_URL`` is set."""
    widget = widget_origin()
    src = f"{widget}/widget/loader.js" if widget else f"{base_url()}/widget/loader.js"
    return f'<script async src="{src}" data-inbox="{inbox.website_token}"></script>'


def _choices(form: InboxForm) -> None:
    form.escalation_team_id.choices = [("", _("— none —"))] + [
        (str(t.id), t.name) for t in db.session.scalars(sa.select(Team).order_by(Team.name))]
    form.members.choices = [(u.id, f"{u.name} <{u.email}>") for u in db.session.scalars(
        sa.select(User).where(User.active.is_(True)).order_by(User.name))]


def _form(inbox: Inbox | None) -> InboxForm:
    if request.method == "POST":
        form = InboxForm()
    elif inbox is None:
        form = InboxForm(data={"attachment_types": list(inbox_settings.ATTACHMENT_CATEGORIES)})
    else:
        values = inbox_settings.form_values(inbox)
        rows = values["prechat_fields"] + [{}] * PRECHAT_ROWS_SPARE
        values["escalation_team_id"] = str(values["escalation_team_id"])
        form = InboxForm(data={**values, "prechat_fields": rows})
    _choices(form)
    return form


@bp.route("/inboxes")
def inboxes() -> ResponseReturnValue:
    members = dict(db.session.execute(sa.select(InboxMember.inbox_id, sa.func.count())
                                      .group_by(InboxMember.inbox_id)).all())
    rows = [(inbox, members.get(inbox.id, 0), inbox_settings.open_now(inbox))
            for inbox in db.session.scalars(sa.select(Inbox).order_by(Inbox.name))]
    return render_template("admin/inboxes.html", rows=rows)


@bp.route("/inboxes/new", methods=["GET", "POST"])
def inbox_new() -> ResponseReturnValue:
    form = _form(None)
    saved = run_form(form, lambda: inbox_settings.save_inbox(actor_id(), None, form.settings(), ip=actor_ip()))
    if saved is not None:
        flash(_("Inbox “%(name)s” created. Paste the embed code into your website.", name=saved.name), "success")
        return _reveal_secret_next(saved.id)
    return render_template("admin/inbox_edit.html", form=form, inbox=None, **_page_context()), form_status(form)


@bp.route("/inboxes/<int(max=2147483647):inbox_id>", methods=["GET", "POST"])
def inbox_edit(inbox_id: int) -> ResponseReturnValue:
    inbox = get_or_404(Inbox, inbox_id)
    form = _form(inbox)
    saved = run_form(form, lambda: inbox_settings.save_inbox(actor_id(), inbox_id, form.settings(), ip=actor_ip()))
    if saved is not None:
        flash(_("Saved. The widget and routing use the new settings now."), "success")
        return redirect(url_for("admin.inbox_edit", inbox_id=inbox_id))
    reveal = request.method == "GET" and session.pop(REVEAL_KEY, None) == inbox_id
    response = current_app.make_response((render_template(
        "admin/inbox_edit.html", form=form, inbox=inbox, embed_code=embed_code(inbox),
        open_state=inbox_settings.open_now(inbox), secret=inbox.hmac_secret if reveal else None, **_page_context()),
        form_status(form)))
    response.headers["Cache-Control"] = "no-store"
    return response


def _page_context() -> dict[str, object]:
    mb = 1024 * 1024
    return {"timezones": sorted(available_timezones()),
            "max_image_mb": int(current_app.config["MAX_IMAGE_BYTES"]) // mb,
            "max_file_mb": int(current_app.config["MAX_FILE_BYTES"]) // mb}


def _reveal_secret_next(inbox_id: int) -> ResponseReturnValue:
    """Show the HMAC secret on the next load of the inbox page, and never again (Post/Redirect/Get)."""
    session[REVEAL_KEY] = inbox_id
    return redirect(url_for("admin.inbox_edit", inbox_id=inbox_id) + "#identity")


@bp.route("/inboxes/<int(max=2147483647):inbox_id>/rotate-secret", methods=["POST"])
def inbox_rotate_secret(inbox_id: int) -> ResponseReturnValue:
    inbox = get_or_404(Inbox, inbox_id)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("admin.inbox_edit", inbox_id=inbox_id))
    inbox_settings.rotate_secret(actor_id(), inbox.id, ip=actor_ip())
    flash(_("New secret created. The old one no longer verifies visitors."), "success")
    return _reveal_secret_next(inbox.id)


@bp.route("/inboxes/<int(max=2147483647):inbox_id>/preview")
def inbox_preview(inbox_id: int) -> ResponseReturnValue:
    """A blank page with this inbox's widget, framed by the inbox page (live preview of the saved settings)."""
    inbox = get_or_404(Inbox, inbox_id)
    response = current_app.make_response(render_template("admin/inbox_preview.html", inbox=inbox))
    response.headers["Content-Security-Policy"] = csp_embedding_widget(
        DEFAULT_CSP.replace("frame-ancestors 'none'", "frame-ancestors 'self'"))
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response
