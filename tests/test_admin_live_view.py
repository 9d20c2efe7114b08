"""Admin live view: operators against capacity and the queue, kept current from the event stream in Chromium."""
from __future__ import annotations

import re
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest

from messenger.services import live
from messenger.services import presence
from tests.admin_helpers import chromium_admin
from tests.admin_helpers import signed_in
from tests.admin_helpers import text
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user


def test_snapshot_counts_open_conversations_and_orders_the_queue(app) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox(name="Shop")
    ann = make_user(name="Ann", capacity=3, availability="online")
    make_user(name="Zed", availability="offline")
    now = datetime.now(timezone.utc)
    make_conversation(inbox, assignee_id=ann.id, status="open")
    make_conversation(inbox, assignee_id=ann.id, status="pending")
    make_conversation(inbox, assignee_id=ann.id, status="resolved", resolved_at=now)  # not load
    newer = make_conversation(inbox, waiting_since=now - timedelta(minutes=1))
    older = make_conversation(inbox, waiting_since=now - timedelta(minutes=5))
    make_conversation(inbox, assignee_id=ann.id, waiting_since=now - timedelta(minutes=9))  # assigned: not queued
    state = live.snapshot()
    by_name = {o["name"]: o for o in state["operators"]}
    assert (by_name["Ann"]["open"], by_name["Ann"]["capacity"]) == (3, 3)
    assert [o["name"] for o in state["operators"]][:1] == ["Ann"]  # online first
    assert [q["id"] for q in state["queue"]] == [older.id, newer.id]
    assert 299 <= state["queue"][0]["waiting_s"] <= 330
    assert (state["online"], state["waiting"]) == (1, 2)


def test_page_and_json_for_admins_only(app) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox(name="Shop")
    make_conversation(inbox, waiting_since=datetime.now(timezone.utc) - timedelta(seconds=90))
    client, _admin = signed_in(app, name="Olga")
    html = text(client.get("/admin/live"))
    assert "Olga" in html and 'class="muted">Nobody is waiting' not in html
    assert re.search(r'data-since="[^"]+">1:3\d<', html)
    assert client.get("/admin/live.json").get_json()["waiting"] == 1
    agent_client, _agent = signed_in(app, role="agent")
    assert agent_client.get("/admin/live").status_code == 403
    assert agent_client.get("/admin/live.json").status_code == 403


@pytest.mark.committing
@pytest.mark.browser
def test_live_view_follows_presence_and_the_queue_in_chromium(live_server, browser, artifacts, app) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox(name="Acme shop")
    vera = make_user(name="Vera Agent", availability="offline", capacity=4, inboxes=[inbox])
    make_conversation(inbox, assignee_id=vera.id, status="open")
    admin = make_user(role="admin", name="Olga Owner", availability="offline")
    context, page, errors = chromium_admin(browser, live_server.url, admin.email)
    try:
        page.goto(live_server.url + "/admin/live")
        page.wait_for_selector("#live-status[data-state=live]", timeout=15000)
        row = f'#operators tr[data-user="{vera.id}"]'
        assert page.get_attribute(row, "data-availability") == "offline"
        assert page.inner_text(f"{row} [data-load]") == "1 / 4"
        presence.set_availability(None, vera.id, "online")
        page.wait_for_selector(f'{row}[data-availability="online"]', timeout=10000)
        assert page.inner_text("#online-count") == "1 online"
        conv = make_conversation(inbox, waiting_since=datetime.now(timezone.utc) - timedelta(seconds=65))
        page.wait_for_selector(f'#queue tr[data-conversation="{conv.id}"]', timeout=10000)
        assert page.inner_text("#waiting-count") == "1 waiting"
        waited = page.inner_text(f'#queue tr[data-conversation="{conv.id}"] [data-since]')
        assert re.fullmatch(r"1:\d\d", waited), waited
        page.screenshot(path=str(artifacts / "admin-live-en.png"), full_page=True)
        page.click(".abar-lang button[value=ru]")
        page.wait_for_selector("#live-status[data-state=live]", timeout=15000)
        assert "в сети: 1" in page.inner_text("#online-count")
        page.screenshot(path=str(artifacts / "admin-live-ru.png"), full_page=True)
    finally:
        context.close()
    assert errors == []
