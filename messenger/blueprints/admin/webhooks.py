"""Admin pages for webhooks: list, create (secret shown once), edit, rotate, delivery log, redeliver.

Views parse the form and call ``services.webhooks`` (which validates and writes the audit
line); the blueprint makes every page admins-only and Flask-WTF checks CSRF on each POST.
"""
from __future__ import annotations

from typing import Any

from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Length

from messenger.blueprints.admin.blueprint import bp
from messenger.blueprints.admin.forms import ConfirmForm
from messenger.blueprints.admin.forms import MultiCheckboxField
from messenger.blueprints.admin.helpers import actor_ip
from messenger.blueprints.admin.helpers import form_status
from messenger.blueprints.admin.helpers import run_form
from messenger.models import User
from messenger.services import webhooks as service

EVENT_LABELS = {
    "message.created": _l("Message created (visitor and operator messages)"),
    "conversation.created": _l("Conversation created"),
    "conversation.status_changed": _l("Conversation status changed"),
    "conversation.assigned": _l("Conversation assigned (operator or team)"),
    "contact.created": _l("Contact created"),
    "contact.updated": _l("Contact updated"),
    "csat.created": _l("Satisfaction rating received"),
}


class WebhookForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=service.MAX_NAME)])
    url = StringField(_l("URL"), validators=[DataRequired(), Length(max=2048)])
    events = MultiCheckboxField(_l("Events"), choices=[(k, EVENT_LABELS[k]) for k in service.EVENTS])
    include_private = BooleanField(_l("Also send private notes (message.created with \"private\": true)"))
    active = BooleanField(_l("Enabled"), default=True)


def _values(form: WebhookForm) -> dict[str, Any]:
    return {"url": form.url.data or "", "events": list(form.events.data or []), "name": form.name.data or "",
            "include_private": bool(form.include_private.data), "active": bool(form.active.data)}


def _actor() -> User:
    return g.operator


def _secret_page(webhook_id: int, secret: str, created: bool) -> ResponseReturnValue:
    page = render_template("admin/webhook_secret.html", webhook=service.get_webhook(webhook_id), secret=secret,
                           created=created)
    return page, 201 if created else 200, {"Cache-Control": "no-store"}


@bp.route("/webhooks")
def webhooks() -> ResponseReturnValue:
    return render_template("admin/webhooks.html", webhooks=service.list_webhooks(), labels=EVENT_LABELS,
                           disabled=service.disabled_webhooks())


@bp.route("/webhooks/new", methods=["GET", "POST"])
def webhook_new() -> ResponseReturnValue:
    form = WebhookForm()
    saved = run_form(form, lambda: service.create_webhook(_actor(), ip=actor_ip(), **_values(form)))
    if saved is not None:
        hook, secret = saved
        return _secret_page(hook.id, secret, created=True)
    return render_template("admin/webhook_form.html", form=form, webhook=None), form_status(form)


@bp.route("/webhooks/<int(max=2147483647):webhook_id>", methods=["GET", "POST"])
def webhook_edit(webhook_id: int) -> ResponseReturnValue:
    hook = service.get_webhook(webhook_id)
    form = WebhookForm(obj=hook)
    saved = run_form(form, lambda: service.update_webhook(_actor(), webhook_id, ip=actor_ip(), **_values(form)))
    if saved is not None:
        flash(_("Saved."), "success")
        return redirect(url_for("admin.webhook_edit", webhook_id=webhook_id))
    return render_template("admin/webhook_form.html", form=form, webhook=hook, action=ConfirmForm(),
                           deliveries=service.list_deliveries(webhook_id)), form_status(form)


@bp.route("/webhooks/<int(max=2147483647):webhook_id>/rotate", methods=["POST"])
def webhook_rotate(webhook_id: int) -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("admin.webhook_edit", webhook_id=webhook_id))
    return _secret_page(webhook_id, service.rotate_secret(_actor(), webhook_id, ip=actor_ip()), created=False)


@bp.route("/webhooks/<int(max=2147483647):webhook_id>/delete", methods=["POST"])
def webhook_delete(webhook_id: int) -> ResponseReturnValue:
    if ConfirmForm().validate_on_submit():
        service.delete_webhook(_actor(), webhook_id, ip=actor_ip())
        flash(_("Deleted."), "success")
    return redirect(url_for("admin.webhooks"))


@bp.route("/webhooks/<int(max=2147483647):webhook_id>/deliveries/<int(max=9223372036854775807):delivery_id>")
def webhook_delivery(webhook_id: int, delivery_id: int) -> ResponseReturnValue:
    hook = service.get_webhook(webhook_id)
    delivery = service.get_delivery(webhook_id, delivery_id)
    return render_template("admin/webhook_delivery.html", webhook=hook, delivery=delivery,
                           attempts=service.list_attempts(delivery_id), action=ConfirmForm())


@bp.route("/webhooks/<int(max=2147483647):webhook_id>/deliveries/<int(max=9223372036854775807):delivery_id>"
          "/redeliver", methods=["POST"])
def webhook_redeliver(webhook_id: int, delivery_id: int) -> ResponseReturnValue:
    if ConfirmForm().validate_on_submit():
        service.redeliver(_actor(), webhook_id, delivery_id, ip=actor_ip())
        flash(_("Queued for delivery."), "success")
    return redirect(url_for("admin.webhook_delivery", webhook_id=webhook_id, delivery_id=delivery_id))

