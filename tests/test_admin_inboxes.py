"""Inbox settings in the admin area: every setting saved, validated next to its field, live at once."""
from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

import pytest
import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import AuditLog
from messenger.models import Inbox
from messenger.models import InboxMember
from messenger.services import contacts as contact_service
from tests.admin_helpers import post_form
from tests.admin_helpers import signed_in
from tests.admin_helpers import text
from tests.factories import make_inbox
from tests.factories import make_user
from tests.test_admin_catalog import error_next_to


def inbox_form(**overrides: Any) -> dict[str, Any]:
    """A valid inbox form, as a browser would post it (checkboxes: present = on)."""
    data: dict[str, Any] = {
        "name": "Shop", "color": "#ff6600", "locale": "ru", "greeting": "Hi there", "away_message": "Back soon",
        "allowed_origins": "https://shop.example\nhttps://*.example.org", "timezone": "Europe/Berlin",
        "business_hours_enabled": "y", "hours_mon": "09:00-12:00, 13:00-18:00", "hours_fri": "22:00-02:00",
        "prechat_enabled": "y",
        "prechat_fields-0-label": "Email", "prechat_fields-0-type": "email", "prechat_fields-0-required": "y",
        "prechat_fields-1-label": "Topic", "prechat_fields-1-type": "select", "prechat_fields-1-options": "Sales, Help",
        "proactive_enabled": "y", "proactive_message": "Need help?", "proactive_url_pattern": "/pricing*",
        "proactive_delay_s": "5", "auto_assignment": "y", "assignment_policy": "least_busy", "capacity": "3",
        "first_reply_timeout_min": "5", "escalation_mode": "notify", "escalation_team_id": "",
        "requeue_on_offline": "y", "queue_timeout_min": "", "reopen_window_h": "48", "csat_enabled": "y",
        "attachment_types": ["image", "pdf"], "max_upload_mb": "5", "enforce_identity": "y",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _inbox_count() -> int:
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(Inbox)) or 0)


def test_admin_creates_an_inbox_with_every_setting(app) -> None:
    client, admin = signed_in(app)
    agent = make_user()
    resp = post_form(client, "/admin/inboxes/new", inbox_form(members=[str(agent.id)]))
    assert resp.status_code == 302, error_summary(text(resp))
    inbox = db.session.scalar(sa.select(Inbox).where(Inbox.name == "Shop"))
    assert inbox.color == "#ff6600" and inbox.locale == "ru" and inbox.greeting == "Hi there"
    assert inbox.allowed_origins == ["https://shop.example", "https://*.example.org"]
    assert inbox.timezone == "Europe/Berlin" and inbox.business_hours_enabled
    assert inbox.business_hours == {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], "fri": [["22:00", "02:00"]]}
    assert inbox.prechat_enabled and inbox.prechat_fields == [
        {"name": "email", "label": "Email", "type": "email", "required": True, "options": []},
        {"name": "topic", "label": "Topic", "type": "select", "required": False, "options": ["Sales", "Help"]}]
    assert inbox.proactive == {"enabled": True, "message": "Need help?", "url_pattern": "/pricing*", "delay_s": 5}
    assert (inbox.auto_assignment, inbox.assignment_policy, inbox.capacity) == (True, "least_busy", 3)
    assert (inbox.first_reply_timeout_s, inbox.escalation_mode, inbox.queue_timeout_s) == (300, "notify", None)
    assert inbox.reopen_window_s == 48 * 3600 and inbox.csat_enabled and not inbox.reply_after_resolve
    assert inbox.allowed_types == ["image", "pdf"] and inbox.max_upload_bytes == 5 * 1024 * 1024
    assert inbox.enforce_identity
    assert db.session.get(InboxMember, (inbox.id, agent.id)) is not None
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "inbox.create"))
    assert entry.actor_user_id == admin.id and entry.target_id == str(inbox.id)

    # The secret is shown on the next page load, once; the form reloads with the saved values.
    page = text(client.get(resp.headers["Location"]))
    assert inbox.hmac_secret in page and "shown only once" in page
    again = text(client.get(f"/admin/inboxes/{inbox.id}"))
    assert inbox.hmac_secret not in again
    assert inbox.website_token in again and "09:00-12:00, 13:00-18:00" in again and 'value="Sales, Help"' in again


def error_summary(html: str) -> list[str]:
    return re.findall(r'class="field-error"[^>]*>([^<]*)<', html)


@pytest.mark.parametrize("field,value,message", [
    ("allowed_origins", "", "Add at least one website"),
    ("allowed_origins", "shop.example", "Not a website origin"),
    ("allowed_origins", "https://shop.example/page", "Not a website origin"),
    ("allowed_origins", "javascript:alert(1)", "Not a website origin"),
    ("timezone", "Mars/Olympus", "Unknown time zone"),
    ("hours_mon", "09:00-13:00, 12:00-18:00", "overlap"),
    ("hours_tue", "9am-5pm", "Write hours like"),
    ("capacity", "-1", ""),
    ("reopen_window_h", "-5", ""),
    ("color", "orange", "colour"),
    ("max_upload_mb", "0", ""),
])
def test_bad_settings_are_shown_next_to_the_field_and_nothing_is_saved(app, field: str, value: str,
                                                                       message: str) -> None:
    client, _ = signed_in(app)
    before = _inbox_count()
    resp = post_form(client, "/admin/inboxes/new", inbox_form(**{field: value}))
    assert resp.status_code == 422
    shown = error_next_to(text(resp), field)
    assert shown and message in shown, (field, error_summary(text(resp)))
    assert _inbox_count() == before
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog)
                             .where(AuditLog.action.like("inbox.%"))) == 0


def test_overnight_hours_overlapping_the_next_morning_are_refused(app) -> None:
    client, _ = signed_in(app)
    inbox = make_inbox(name="Night")
    resp = post_form(client, f"/admin/inboxes/{inbox.id}",
                     inbox_form(name="Renamed", hours_fri="22:00-03:00", hours_sat="02:00-06:00"))
    assert resp.status_code == 422 and "overlap" in error_next_to(text(resp), "hours_sat")
    db.session.refresh(inbox)
    assert inbox.name == "Night"  # nothing of the rejected form was written


def test_prechat_rows_are_checked(app) -> None:
    client, _ = signed_in(app)
    resp = post_form(client, "/admin/inboxes/new", inbox_form(**{"prechat_fields-1-label": "Email",
                                                                  "prechat_fields-1-type": "text"}))
    assert resp.status_code == 422 and "same key" in text(resp)
    resp = post_form(client, "/admin/inboxes/new", inbox_form(**{"prechat_fields-1-options": ""}))
    assert resp.status_code == 422 and "options" in text(resp)
    assert _inbox_count() == 0


def test_inboxes_without_origins_are_flagged(app) -> None:
    client, _ = signed_in(app)
    legacy = make_inbox(name="Legacy")
    legacy.allowed_origins = []
    db.session.commit()
    assert "Not set: any website may embed it" in text(client.get("/admin/inboxes"))
    assert "accepts the widget from any website" in text(client.get("/admin/"))
    assert "no allowed websites" in text(client.get(f"/admin/inboxes/{legacy.id}"))


def test_rotating_the_secret_shows_the_new_one_once_and_the_old_hash_stops_working(app) -> None:
    client, _ = signed_in(app)
    inbox = make_inbox()
    old_hash = contact_service.expected_hash(inbox, "user-42")
    resp = post_form(client, f"/admin/inboxes/{inbox.id}/rotate-secret", {}, page=f"/admin/inboxes/{inbox.id}")
    assert resp.status_code == 302
    db.session.refresh(inbox)
    assert contact_service.expected_hash(inbox, "user-42") != old_hash
    assert inbox.hmac_secret in text(client.get(resp.headers["Location"]))
    assert inbox.hmac_secret not in text(client.get(f"/admin/inboxes/{inbox.id}"))
    assert db.session.scalar(sa.select(AuditLog.action).where(AuditLog.action == "inbox.rotate_secret"))


def test_the_python_snippet_computes_the_hash_the_server_checks(app, monkeypatch) -> None:
    client, _ = signed_in(app)
    inbox = make_inbox()
    html = text(client.get(f"/admin/inboxes/{inbox.id}"))
    snippet = re.search(r'<pre class="code" id="snippet-python">(.*?)</pre>', html, re.S).group(1)
    snippet = snippet.replace("&gt;", ">").replace("&#34;", '"').replace("&quot;", '"')
    monkeypatch.setenv("MESSENGER_HMAC_SECRET", inbox.hmac_secret)
    scope: dict[str, Any] = {}
    exec(compile(snippet, "snippet", "exec"), scope)  # noqa: S102 - our own page's snippet
    assert scope["identifier_hash"]("user-42") == contact_service.expected_hash(inbox, "user-42")
    assert scope["identifier_hash"]("user-42") == hmac.new(inbox.hmac_secret.encode(), b"user-42",
                                                           hashlib.sha256).hexdigest()
    assert "createHmac(\"sha256\"" in html.replace("&#34;", '"') and "hash_hmac(" in html


def test_embed_code_and_preview_page(app) -> None:
    client, _ = signed_in(app)
    inbox = make_inbox()
    html = text(client.get(f"/admin/inboxes/{inbox.id}"))
    assert f'data-inbox=&#34;{inbox.website_token}&#34;' in html or f'data-inbox="{inbox.website_token}"' in html
    assert 'data-copy="#embed-code"' in html
    preview = client.get(f"/admin/inboxes/{inbox.id}/preview")
    assert preview.status_code == 200 and inbox.website_token in text(preview), text(preview)[-600:]
    assert "frame-ancestors 'self'" in preview.headers["Content-Security-Policy"]
    assert client.get(f"/admin/inboxes/{inbox.id}").headers["X-Frame-Options"] == "DENY"


def test_open_now_preview_follows_business_hours(app) -> None:
    client, _ = signed_in(app)
    closed = make_inbox(name="Never", business_hours_enabled=True, timezone="UTC", business_hours={})
    always = make_inbox(name="Always")
    assert "Closed now" in text(client.get(f"/admin/inboxes/{closed.id}"))
    assert "Open now" in text(client.get(f"/admin/inboxes/{always.id}"))


def test_unknown_inbox_is_404(app) -> None:
    client, _ = signed_in(app)
    assert client.get("/admin/inboxes/999999").status_code == 404
    assert client.get("/admin/inboxes/999999/preview").status_code == 404
