"""Admin webhook pages: create (secret shown once), validation next to the field, rotate, log, redeliver."""
from __future__ import annotations

import re
import time

import pytest
import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import AuditLog
from messenger.models import Webhook
from messenger.models import WebhookDelivery
from messenger.services import conversations as conv_service
from messenger.services import webhooks
from tests.admin_helpers import post_form
from tests.admin_helpers import signed_in
from tests.admin_helpers import text
from tests.factories import make_inbox
from tests.factories import make_user
from tests.factories import make_visitor
from tests.helpers import sign_in_browser
from tests.receivers import WebhookReceiver

SECRET = re.compile(r'id="webhook-secret">(whsec_[A-Za-z0-9_-]+)<')


def _count() -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(Webhook)) or 0)


def test_admin_creates_a_webhook_and_sees_the_secret_once(app) -> None:
    client, admin = signed_in(app)
    resp = post_form(client, "/admin/webhooks/new", {
        "name": "CRM", "url": "https://crm.example.com/hooks", "events": ["message.created", "csat.created"],
        "active": "y"})
    assert resp.status_code == 201 and resp.headers["Cache-Control"] == "no-store"
    secret = SECRET.search(text(resp)).group(1)
    hook = db.session.scalar(sa.select(Webhook))
    assert hook.secret == secret and hook.events == ["message.created", "csat.created"]
    assert hook.active and not hook.include_private
    # Never shown again: not on the list, not on the edit page.
    assert secret not in text(client.get("/admin/webhooks"))
    page = text(client.get(f"/admin/webhooks/{hook.id}"))
    assert "https://crm.example.com/hooks" in page and secret not in page
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "webhook.created"))
    assert entry.actor_user_id == admin.id and entry.ip == "127.0.0.1" and secret not in str(entry.data)


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"url": "http://169.254.169.254/latest/meta-data", "events": ["message.created"]}, "url", "metadata"),
    ({"url": "http://2130706433/", "events": ["message.created"]}, "url", "loopback"),
    ({"url": "ftp://example.com/", "events": ["message.created"]}, "url", "http"),
    ({"url": "https://example.com/", "events": []}, "events", "at least one"),
    ({"url": "https://example.com/", "events": ["message.deleted"]}, "events", "Unknown event"),
])
def test_bad_webhooks_are_refused_next_to_the_field(app, data: dict[str, object], field: str, message: str) -> None:
    client, _ = signed_in(app)
    resp = post_form(client, "/admin/webhooks/new", data)
    assert resp.status_code == 422
    error = re.search(rf'<span class="field-error" id="{field}-error">([^<]*)</span>', text(resp))
    assert error and message in error.group(1)
    assert _count() == 0


def test_rotate_shows_a_new_secret_and_edit_keeps_it(app) -> None:
    client, admin = signed_in(app)
    hook, old = webhooks.create_webhook(admin, url="https://example.com/h", events=["message.created"])
    resp = post_form(client, f"/admin/webhooks/{hook.id}/rotate", {}, page=f"/admin/webhooks/{hook.id}")
    new = SECRET.search(text(resp)).group(1)
    db.session.refresh(hook)
    assert new != old and hook.secret == new
    resp = post_form(client, f"/admin/webhooks/{hook.id}", {
        "url": "https://example.com/other", "events": ["contact.created"], "include_private": "y"})
    assert resp.status_code == 302
    db.session.refresh(hook)
    assert (hook.url, hook.events, hook.include_private, hook.active) == (
        "https://example.com/other", ["contact.created"], True, False)
    assert hook.secret == new


def test_agents_and_other_ids_get_no_webhook_pages(app) -> None:
    agent, _ = signed_in(app, role="agent")
    assert agent.get("/admin/webhooks").status_code == 403
    admin, user = signed_in(app)
    assert admin.get("/admin/webhooks/999999").status_code == 404
    hook, _ = webhooks.create_webhook(user, url="https://example.com/h", events=["message.created"])
    assert admin.get(f"/admin/webhooks/{hook.id}/deliveries/12345").status_code == 404
    # No CSRF token: refused before the view.
    assert admin.post(f"/admin/webhooks/{hook.id}/delete").status_code == 400
    assert _count() == 1


@pytest.mark.committing
def test_delivery_log_and_manual_redelivery(app) -> None:
    receiver = WebhookReceiver(script=[500]).start()
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    try:
        client, admin = signed_in(app)
        hook, _ = webhooks.create_webhook(admin, url=receiver.url, events=["conversation.created"])
        conv_service.create_conversation(make_visitor(make_inbox())[0])
        webhooks.pump_all()
        delivery = db.session.scalars(sa.select(WebhookDelivery)).one()
        assert webhooks.deliver(delivery.id) == "retry"
        page = text(client.get(f"/admin/webhooks/{hook.id}"))
        assert "conversation.created" in page and "500" in page
        detail = text(client.get(f"/admin/webhooks/{hook.id}/deliveries/{delivery.id}"))
        assert "status 500" in detail and "HTTP 500" in detail
        resp = post_form(client, f"/admin/webhooks/{hook.id}/deliveries/{delivery.id}/redeliver", {},
                         page=f"/admin/webhooks/{hook.id}/deliveries/{delivery.id}")
        assert resp.status_code == 302
        assert webhooks.deliver(delivery.id) == "success"  # due at once, not after the backoff
        assert len(receiver.requests) == 2 and receiver.requests[0].body == receiver.requests[1].body
        detail = text(client.get(f"/admin/webhooks/{hook.id}/deliveries/{delivery.id}"))
        assert "delivered" in detail and "status 200" in detail
        assert db.session.scalar(sa.select(AuditLog.actor_user_id).where(AuditLog.action == "webhook.redelivered")) \
            == admin.id
    finally:
        app.config["WEBHOOK_ALLOW_PRIVATE"] = False
        receiver.stop()


@pytest.mark.committing
@pytest.mark.browser
def test_webhook_pages_in_chromium(app, live_server, browser, artifacts) -> None:
    admin = make_user(role="admin", name="Ada Admin")
    hook, _ = webhooks.create_webhook(admin, url="https://hooks.example.com/messenger", events=["message.created"])
    db.session.execute(sa.update(Webhook).where(Webhook.id == hook.id).values(
        active=False, disabled_reason="20 consecutive failed deliveries (last: HTTP 503)"))
    db.session.commit()
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    try:
        sign_in_browser(page, live_server.url, admin.email)
        page.goto(live_server.url + "/admin/webhooks")
        assert "disabled after repeated failures" in page.inner_text("main")
        page.screenshot(path=str(artifacts / "admin-webhooks.png"), full_page=True)
        page.click("text=New webhook")
        page.fill("input[name=name]", "Data warehouse")
        page.fill("input[name=url]", "https://dw.example.com/in")
        page.check("input[value='conversation.created']")
        page.check("input[value='conversation.status_changed']")
        page.screenshot(path=str(artifacts / "admin-webhook-new.png"), full_page=True)
        page.click("form.form-grid button.primary-btn")
        secret = page.inner_text("#webhook-secret")
        assert secret.startswith("whsec_")
        page.screenshot(path=str(artifacts / "admin-webhook-secret.png"), full_page=True)
        page.click("text=Continue to the webhook")
        assert secret not in page.content()
        page.screenshot(path=str(artifacts / "admin-webhook-edit.png"), full_page=True)
    finally:
        page.goto("about:blank")
        time.sleep(0.3)
        context.close()
