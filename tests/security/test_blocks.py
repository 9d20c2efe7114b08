"""Blocking abusive visitors (issue 14 "Spam controls", docs/security.md cases 13, 31): block a
contact or an address/range with an expiry, "mark as spam"; blocked visitors get a neutral
refusal on every call, no session, no stream, and their open streams close within a heartbeat."""
from __future__ import annotations

import time
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
import sqlalchemy as sa
from flask import g

from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.models import AuditLog
from messenger.models import Contact
from messenger.models import Conversation
from messenger.models import IpBlock
from messenger.services import blocks
from tests.factories import PASSWORD
from tests.factories import make_inbox
from tests.factories import make_user
from tests.helpers import csrf_token_from
from tests.helpers import login
from tests.realtime.conftest import World
from tests.realtime.conftest import fast_server  # noqa: F401  (fixture)
from tests.realtime.conftest import visitor_stream
from tests.realtime.conftest import world  # noqa: F401  (fixture)
from tests.test_widget_api import API
from tests.test_widget_api import SITE
from tests.test_widget_api import call
from tests.test_widget_api import send
from tests.test_widget_api import start

NEUTRAL = {"error": "blocked", "message": "This chat is not available."}


def _operator(client, inbox):  # type: ignore[no-untyped-def]
    user = make_user(inboxes=[inbox])
    login(client, user.email, PASSWORD)
    g.pop("csrf_token", None)
    token = csrf_token_from(client.get("/app").get_data(as_text=True))
    return user, {"X-CSRFToken": token}


def _in(days: int) -> str:
    return (datetime.now(timezone.utc) + timedelta(days=days)).isoformat()


def test_operator_blocks_a_contact_until_a_time_and_unblocks(client) -> None:
    inbox = make_inbox()
    visitor = start(client, inbox)
    conv = send(client, visitor["token"]).get_json()["conversation"]["id"]
    user, csrf = _operator(client, inbox)
    contact_id = visitor["contact"]["id"]
    resp = client.post(f"/api/v1/contacts/{contact_id}/block", json={"until": _in(7), "reason": "abuse"}, headers=csrf)
    assert resp.status_code == 200 and resp.get_json()["blocked"] is True
    for method, path, body in (("POST", "/messages", {"content": "x", "client_id": "c1" * 8}),
                               ("GET", "/contact", None), ("GET", f"/conversations/{conv}", None),
                               ("POST", "/stream-ticket", {}), ("GET", "/events?after=0", None)):
        refused = call(client, method, path, visitor["token"], body)
        assert (refused.status_code, refused.get_json()) == (403, NEUTRAL), path
    resumed = client.post(f"{API}/session", json={"inbox": inbox.website_token, "token": visitor["token"]},
                          headers={"Origin": SITE})
    assert (resumed.status_code, resumed.get_json()) == (403, NEUTRAL)
    assert client.delete(f"/api/v1/contacts/{contact_id}/block", headers=csrf).get_json()["blocked"] is False
    assert call(client, "GET", "/contact", visitor["token"]).status_code == 200
    actions = db.session.scalars(sa.select(AuditLog.action).where(AuditLog.actor_user_id == user.id)).all()
    assert {"block.contact", "unblock.contact"} <= set(actions)


def test_an_expired_block_lets_the_visitor_back(client) -> None:
    inbox = make_inbox()
    visitor = start(client, inbox)
    contact = db.session.get(Contact, visitor["contact"]["id"])
    contact.blocked, contact.blocked_until = True, datetime.now(timezone.utc) - timedelta(seconds=1)
    db.session.flush()
    assert call(client, "GET", "/contact", visitor["token"]).status_code == 200


def test_blocking_needs_csrf_access_and_valid_input(client) -> None:
    inbox, other_inbox = make_inbox(), make_inbox()
    mine = start(client, inbox)
    send(client, mine["token"])
    theirs = start(client, other_inbox)
    send(client, theirs["token"])
    user, csrf = _operator(client, inbox)
    assert client.post(f"/api/v1/contacts/{mine['contact']['id']}/block", json={}).status_code == 400  # no CSRF
    foreign = client.post(f"/api/v1/contacts/{theirs['contact']['id']}/block", json={}, headers=csrf)
    assert foreign.status_code == 404  # another inbox's contact
    for body, field in (({"until": "yesterday"}, "until"), ({"until": "2001-01-01T00:00:00Z"}, "until"),
                        ({"until": "2031-01-01T00:00:00"}, "until"), ({"reason": "x" * 300}, "reason"),
                        ({"block_address": "yes"}, "block_address")):
        bad = client.post(f"/api/v1/contacts/{mine['contact']['id']}/block", json=body, headers=csrf)
        assert bad.status_code == 422 and bad.get_json()["field"] == field, body
    assert db.session.get(Contact, mine["contact"]["id"]).blocked is False


def test_mark_as_spam_resolves_blocks_and_optionally_blocks_the_address(client) -> None:
    inbox = make_inbox()
    visitor = start(client, inbox)
    conv = send(client, visitor["token"], "cheap pills").get_json()["conversation"]["id"]
    user, csrf = _operator(client, inbox)
    resp = client.post(f"/api/v1/conversations/{conv}/spam", json={"block_address": True}, headers=csrf)
    assert resp.status_code == 200 and resp.get_json()["status"] == "resolved"
    db.session.expire_all()
    assert db.session.get(Conversation, conv).status == "resolved"
    assert db.session.get(Contact, visitor["contact"]["id"]).blocked is True
    assert [str(b.network) for b in db.session.scalars(sa.select(IpBlock))] == ["127.0.0.1/32"]
    # A fresh browser from the same address gets nothing either: no new session.
    fresh = client.post(f"{API}/session", json={"inbox": inbox.website_token}, headers={"Origin": SITE})
    assert (fresh.status_code, fresh.get_json()) == (403, NEUTRAL)
    actions = set(db.session.scalars(sa.select(AuditLog.action)).all())
    assert {"spam.marked", "block.contact", "block.ip"} <= actions


def test_address_ranges_block_new_sessions_and_expire(client) -> None:
    inbox = make_inbox()
    admin = make_user(role="admin")
    block = blocks.block_network(admin, "127.0.0.0/24", until=_in(1), reason="botnet")
    fresh = client.post(f"{API}/session", json={"inbox": inbox.website_token}, headers={"Origin": SITE})
    assert (fresh.status_code, fresh.get_json()) == (403, NEUTRAL)
    other = client.post(f"{API}/session", json={"inbox": inbox.website_token}, headers={"Origin": SITE},
                        environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert other.status_code == 201
    blocks.unblock_network(admin, block.id)
    assert client.post(f"{API}/session", json={"inbox": inbox.website_token},
                       headers={"Origin": SITE}).status_code == 201
    for bad in ("0.0.0.0/0", "10.0.0.0/4", "not-an-ip", "::/0", ""):
        with pytest.raises(ValidationError) as err:
            blocks.block_network(admin, bad)
        assert err.value.details["field"] == "network", bad


def test_an_address_block_refuses_a_visitor_already_chatting_from_it(client) -> None:
    """The block list is read in the same statement as the visitor: a new block applies to the very next call."""
    inbox = make_inbox()
    visitor = start(client, inbox)
    conv = send(client, visitor["token"], "hi").get_json()["conversation"]["id"]
    admin = make_user(role="admin")
    elsewhere = blocks.block_network(admin, "198.51.100.0/24")
    assert send(client, visitor["token"], "still here", conv).status_code == 201  # another range
    block = blocks.block_network(admin, "127.0.0.0/24")
    for method, path, body in (("POST", "/messages", {"content": "x", "conversation_id": conv,
                                                       "client_id": "b1b1b1b1-0000-4000-8000-000000000001"}),
                               ("POST", "/stream-ticket", {})):
        refused = call(client, method, path, visitor["token"], body)
        assert (refused.status_code, refused.get_json()) == (403, NEUTRAL), path
    db.session.execute(sa.update(IpBlock).where(IpBlock.id == block.id)
                       .values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    db.session.commit()
    assert send(client, visitor["token"], "expired block", conv).status_code == 201
    blocks.unblock_network(admin, elsewhere.id)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Conversation)) == 1


@pytest.mark.committing
def test_open_streams_of_a_blocked_visitor_close_within_a_heartbeat(fast_server, world: World) -> None:  # noqa: F811
    mine = visitor_stream(fast_server, world.visitor_token)
    other = visitor_stream(fast_server, world.other_token)
    try:
        mine.wait_count("ready", 1)
        other.wait_count("ready", 1)
        blocks.block_contact(world.agent, world.visitor.contact_id, reason="abuse")
        blocked_at = time.monotonic()
        assert mine.wait_for(lambda s: s.ended, 5)
        assert time.monotonic() - blocked_at < 3  # heartbeat is 1 s on this server
        assert mine.named("closed")[-1].data == {"reason": "revoked"}
        time.sleep(1.5)
        assert not other.ended
        # An address block closes the streams of everyone last seen there.
        blocks.block_network(world.admin, "127.0.0.1")
        assert other.wait_for(lambda s: s.ended, 5)
    finally:
        mine.close()
        other.close()


@pytest.mark.committing
@pytest.mark.browser
def test_panel_blocks_and_marks_spam_from_the_sidebar(live_server, browser, artifacts) -> None:  # type: ignore[no-untyped-def]
    from tests.test_panel_browser import TOKENS
    from tests.test_panel_browser import _visitor_conversation
    from tests.test_panel_browser import conversation_page

    inbox = make_inbox(name="Website")
    user = make_user(name="Anna Operator", inboxes=[inbox])
    conv = _visitor_conversation(inbox, "Spam Bot", "bot@spam.example", "CHEAP PILLS http://spam.example")
    with conversation_page(browser, live_server, user, conv) as page:
        page.get_by_role("button", name="Block…").click()
        page.select_option("select[name=until]", "7")
        page.check("input[name=block_address]")
        page.screenshot(path=str(artifacts / "panel-block-form.png"))
        page.get_by_role("button", name="Mark conversation as spam").click()
        page.locator(".blocked-note").wait_for()
        page.screenshot(path=str(artifacts / "panel-blocked-contact.png"))
        assert "Unblock" in page.locator("#side").inner_text()
    db.session.expire_all()
    conversation = db.session.get(Conversation, conv)
    assert conversation.status == "resolved"
    contact = db.session.get(Contact, conversation.contact_id)
    assert contact.blocked and contact.blocked_until is None  # spam: for good
    assert [str(b.network) for b in db.session.scalars(sa.select(IpBlock))] == ["203.0.113.7/32"]
    from tests.realtime.helpers import Http

    status, body = Http(live_server.url).request("GET", "/widget/api/v1/contact",
                                                 headers={"X-Visitor-Token": TOKENS[conv]})
    assert (status, body) == (403, NEUTRAL)


def test_admin_blocks_page_lists_adds_validates_and_unblocks(client) -> None:
    inbox = make_inbox()
    visitor = start(client, inbox)
    send(client, visitor["token"])
    admin = make_user(role="admin")
    blocks.block_contact(admin, visitor["contact"]["id"], until=_in(3), reason="rude")
    login(client, admin.email, PASSWORD)
    g.pop("csrf_token", None)
    page = client.get("/admin/blocks")
    assert page.status_code == 200 and "rude" in page.get_data(as_text=True)
    token = csrf_token_from(page.get_data(as_text=True))
    bad = client.post("/admin/blocks", data={"network": "10.0.0.0/4", "days": "7", "csrf_token": token})
    assert bad.status_code == 422 and 'id="network-error"' in bad.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IpBlock)) == 0
    ok = client.post("/admin/blocks", data={"network": "198.51.100.0/24", "days": "", "reason": "botnet",
                                            "csrf_token": token})
    assert ok.status_code == 302
    listed = client.get("/admin/blocks").get_data(as_text=True)
    assert "198.51.100.0/24" in listed and "no expiry" in listed
    block = db.session.scalars(sa.select(IpBlock)).one()
    assert client.post(f"/admin/blocks/networks/{block.id}/unblock", data={"csrf_token": token}).status_code == 302
    assert client.post(f"/admin/blocks/contacts/{visitor['contact']['id']}/unblock",
                       data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(IpBlock)) == 0
    assert db.session.get(Contact, visitor["contact"]["id"]).blocked is False
    actions = set(db.session.scalars(sa.select(AuditLog.action)).all())
    assert {"block.contact", "block.ip", "unblock.ip", "unblock.contact"} <= actions


@pytest.mark.committing
@pytest.mark.browser
def test_admin_blocks_page_in_chromium(live_server, browser, artifacts) -> None:  # type: ignore[no-untyped-def]
    from tests.test_panel_browser import _visitor_conversation
    from tests.test_panel_browser import close_quietly

    inbox = make_inbox(name="Website")
    admin = make_user(role="admin", name="Olga Admin", inboxes=[inbox])
    conv = _visitor_conversation(inbox, "Rude Visitor", "rude@example.com", "…")
    blocks.block_contact(admin, db.session.get(Conversation, conv).contact_id, until=_in(7), reason="insults")
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    try:
        page.goto(live_server.url + "/login")
        page.fill("input[name=email]", admin.email)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/app**")
        page.goto(live_server.url + "/admin/blocks")
        page.fill("input[name=network]", "10.0.0.0/4")
        page.click("form.card button[type=submit]")
        page.locator("#network-error").wait_for()
        page.fill("input[name=network]", "198.51.100.0/24")
        page.fill("input[name=reason]", "scraper")
        page.click("form.card button[type=submit]")
        page.locator("code", has_text="198.51.100.0/24").wait_for()
        assert "Rude Visitor" in page.locator("main").inner_text()
        page.screenshot(path=str(artifacts / "admin-blocks.png"), full_page=True)
    finally:
        close_quietly(context)
