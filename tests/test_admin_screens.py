"""Screenshots of every admin page (English and Russian) for a human to look at, plus a 375 px view.

Each page is loaded in real Chromium from gunicorn, must answer 200 without a script error,
and is saved under test-artifacts/admin-*.png.
"""
from __future__ import annotations

import re
import time

import pytest
import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import Label
from messenger.models import Team
from messenger.services import audit
from messenger.services import canned as canned_service
from tests.admin_helpers import chromium_admin
from tests.factories import PASSWORD
from tests.factories import make_inbox
from tests.factories import make_user

pytestmark = [pytest.mark.committing, pytest.mark.browser]


def _seed() -> dict[str, int]:
    inbox = make_inbox(name="Acme shop", greeting="Hi! Ask us anything.", business_hours_enabled=True,
                       timezone="Europe/Berlin",
                       business_hours={"mon": [["09:00", "18:00"]], "tue": [["09:00", "18:00"]]},
                       prechat_enabled=True, prechat_fields=[{"name": "email", "label": "Email", "type": "email",
                                                              "required": True}])
    legacy = make_inbox(name="Old blog")
    legacy.allowed_origins = []
    agent = make_user(name="Andy Agent", inboxes=[inbox], capacity=5)
    make_user(name="Beth Agent", inboxes=[inbox], availability="busy")
    db.session.add_all([Label(name="billing", color="#d64f6a"), Label(name="vip", color="#6571d8"),
                        Team(name="Support")])
    db.session.commit()
    canned_service.save_canned(agent.id, None, None, short_code="hello", content="Hello! How can I help?")
    canned_service.save_canned(agent.id, agent.id, None, short_code="bye", content="Have a nice day!")
    audit.record(agent.id, "contact.export", "contact", 12, ip="198.51.100.7", format="json")
    db.session.commit()
    return {"inbox": inbox.id, "agent": agent.id, "label": db.session.scalar(sa.select(Label.id).limit(1)),
            "team": db.session.scalar(sa.select(Team.id))}


def test_every_admin_page_renders_in_english_and_russian(live_server, browser, artifacts, app) -> None:  # type: ignore[no-untyped-def]
    ids = _seed()
    admin = make_user(role="admin", name="Olga Owner")
    agent_email = db.session.scalar(sa.text("SELECT email FROM users WHERE id = :i"), {"i": ids["agent"]})
    pages = {
        "home": "/admin/", "inboxes": "/admin/inboxes", "inbox-new": "/admin/inboxes/new",
        "inbox-edit": f"/admin/inboxes/{ids['inbox']}", "operators": "/admin/operators",
        "operator-invite": "/admin/operators/invite", "operator-edit": f"/admin/operators/{ids['agent']}",
        "teams": "/admin/teams", "team-edit": f"/admin/teams/{ids['team']}", "labels": "/admin/labels",
        "label-edit": f"/admin/labels/{ids['label']}", "canned": "/admin/canned-responses", "audit": "/admin/audit",
    }
    context, page, errors = chromium_admin(browser, live_server.url, admin.email)
    try:
        for lang in ("en", "ru"):
            page.click(f".abar-lang button[value={lang}]")
            page.wait_for_selector(f".abar-lang button.active[value={lang}]")
            for name, path in pages.items():
                response = page.goto(live_server.url + path)
                assert response is not None and response.status == 200, (path, response and response.status)
                page.screenshot(path=str(artifacts / f"admin-{name}-{lang}.png"), full_page=True)
            if lang == "ru":
                assert "Обзор" in page.content()
        # The invitation link page and the set-password page a new operator sees.
        page.click(".abar-lang button[value=en]")
        page.goto(live_server.url + "/admin/operators/invite")
        page.fill("#name", "Nina New")
        page.fill("#email", "nina.new@example.com")
        page.click("button.primary-btn[type=submit]")
        link = page.inner_text("#account-link")
        page.screenshot(path=str(artifacts / "admin-invite-link-en.png"), full_page=True)
        other = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ru-RU")
        guest = other.new_page()
        guest.goto(link)
        guest.screenshot(path=str(artifacts / "account-set-password-ru.png"))
        other.close()
        # The operator's own canned responses, and a phone-sized admin page.
        page.goto(live_server.url + "/admin/inboxes")
        page.set_viewport_size({"width": 375, "height": 800})
        page.screenshot(path=str(artifacts / "admin-inboxes-375.png"), full_page=True)
        agent_page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        agent_page.goto(live_server.url + "/login?next=/app/canned-responses")
        agent_page.fill("input[name=email]", agent_email)
        agent_page.fill("input[name=password]", PASSWORD)
        agent_page.click("button[type=submit]")
        agent_page.wait_for_selector("td >> text=/bye")
        agent_page.screenshot(path=str(artifacts / "panel-my-canned-en.png"), full_page=True)
        assert re.search(r"/admin/", agent_page.goto(live_server.url + "/admin/").url)
        assert agent_page.goto(live_server.url + "/admin/").status == 403
        agent_page.context.close()
        assert not errors, errors
    finally:
        for p in context.pages:
            p.goto("about:blank")
        time.sleep(0.3)
        context.close()
