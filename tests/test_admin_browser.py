"""The admin area in real Chromium against gunicorn+gevent: an owner sets up an inbox, embeds it on
another origin and a visitor there chats with an operator; labels and canned responses reach the panel;
screenshots of every admin page."""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import CannedResponse
from messenger.models import ConversationLabel
from messenger.models import Inbox
from messenger.models import Label
from messenger.models import Message
from messenger.models import User
from messenger.services import messages as msg_service
from messenger.services import visitors as visitor_service
from tests.factories import PASSWORD
from tests.factories import make_inbox
from tests.factories import make_user
from tests.test_panel_browser import wait_until

pytestmark = [pytest.mark.committing, pytest.mark.browser]


class _Site(BaseHTTPRequestHandler):
    """A customer's website on its own origin: serves whatever HTML the test pasted."""

    html = "<!doctype html><title>empty</title>"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = type(self).html.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[tuple[str, type[_Site]]]:
    handler = type("Site", (_Site,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def _sign_in(page, base: str, email: str, then: str = "/app") -> None:  # type: ignore[no-untyped-def]
    page.goto(base + "/login?next=" + then)
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base + then + "*")


def _wait(check, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        db.session.expire_all()
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def _close(*contexts) -> None:  # type: ignore[no-untyped-def]
    for context in contexts:
        for page in context.pages:
            page.goto("about:blank")
    time.sleep(0.5)
    for context in contexts:
        context.close()


def test_owner_embeds_a_new_inbox_on_another_origin_and_a_visitor_chats_with_an_operator(
        live_server, browser, artifacts, site) -> None:  # type: ignore[no-untyped-def]
    site_url, site_handler = site
    admin = make_user(role="admin", name="Olga Owner")
    agent = make_user(name="Andy Agent", email=f"andy-{uuid.uuid4().hex[:6]}@example.com")
    owner = browser.new_context(viewport={"width": 1280, "height": 900})
    owner.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    visitor = browser.new_context(viewport={"width": 1280, "height": 800})
    operator = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = owner.new_page()
        _sign_in(page, live_server.url, admin.email, "/admin/")
        page.click("text=Inboxes")
        page.click("a.primary-btn >> text=New inbox")
        page.fill("#name", "Acme shop")
        page.fill("#allowed_origins", site_url)
        page.fill("#greeting", "Hi! Ask us anything.")
        page.check(f"input[name=members][value='{agent.id}']")
        page.click("button[type=submit] >> text=Create inbox")
        page.wait_for_selector("#hmac-secret")  # shown once, right after creation
        inbox = db.session.scalar(sa.select(Inbox).where(Inbox.name == "Acme shop"))
        assert inbox.allowed_origins == [site_url]
        assert page.inner_text("#hmac-secret") == inbox.hmac_secret
        page.screenshot(path=str(artifacts / "admin-inbox-created.png"), full_page=True)

        page.click("button[data-copy='#embed-code']")
        page.wait_for_selector("button[data-copy='#embed-code'] >> text=Copied")
        embed = page.evaluate("navigator.clipboard.readText()")
        assert inbox.website_token in embed and live_server.url in embed
        site_handler.html = f"<!doctype html><title>Acme</title><h1>Acme shop</h1>{embed}"

        shop = visitor.new_page()
        shop.goto(site_url + "/")
        shop.locator(f"button[data-inbox='{inbox.website_token}']").click()
        chat = shop.frame_locator(f"iframe[src*='inbox={inbox.website_token}']")
        chat.locator("text=Hi! Ask us anything.").wait_for()
        chat.locator("#input").fill("Do you ship to Norway?")
        chat.locator("#input").press("Enter")
        chat.locator(".msg.me .meta", has_text="Sent").wait_for()
        conversation_id = _wait(lambda: db.session.scalar(sa.select(Message.conversation_id).where(
            Message.content == "Do you ship to Norway?")))

        panel = operator.new_page()
        _sign_in(panel, live_server.url, agent.email)
        panel.wait_for_selector("#panel[data-ready='1']", timeout=15000)
        panel.click("[data-tab=all]")
        panel.click(f".card-c[data-id='{conversation_id}']")
        panel.wait_for_selector(".msg.incoming >> text=Do you ship to Norway?")
        panel.fill("#composer-input", "Yes, in 3 days.")
        panel.press("#composer-input", "Enter")
        panel.wait_for_selector(".msg.outgoing:not(.pending) >> text=Yes, in 3 days.")
        chat.locator("text=Yes, in 3 days.").wait_for(timeout=15000)
        shop.screenshot(path=str(artifacts / "admin-embedded-chat.png"))
    finally:
        _close(owner, visitor, operator)


def _support_chat(text: str) -> tuple[User, Inbox, User, int]:
    """An admin, a "Support" inbox with agent Petra, and a visitor's conversation saying ``text``."""
    admin = make_user(role="admin")
    inbox = make_inbox(name="Support")
    agent = make_user(name="Petra Agent", inboxes=[inbox])
    visitor, _ = visitor_service.start_session(inbox, ip="203.0.113.9", user_agent="Chrome")
    conv_id = msg_service.send_visitor_message(visitor, None, text, str(uuid.uuid4())).message.conversation_id
    return admin, inbox, agent, conv_id


def _create_label_and_canned(page, base: str, admin: User, label: str, code: str,  # type: ignore[no-untyped-def]
                             content: str) -> Label:
    """Through the admin pages: a label, then a shared canned response; returns the label."""
    _sign_in(page, base, admin.email, "/admin/labels")
    page.fill("#name", label)
    page.click("button[type=submit] >> text=Create label")
    page.wait_for_selector(f"td >> text={label}")
    page.goto(base + "/admin/canned-responses")
    page.fill("#short_code", code)
    page.fill("#content", content)
    page.click("button[type=submit] >> text=Create canned response")
    page.wait_for_selector(f"td >> text=/{code}")
    row = db.session.scalar(sa.select(Label).where(Label.name == label))
    assert row is not None
    assert db.session.scalar(sa.select(CannedResponse.content).where(CannedResponse.short_code == code)) == content
    return row


def _open_in_panel(page, base: str, agent: User, conv_id: int, text: str) -> None:  # type: ignore[no-untyped-def]
    _sign_in(page, base, agent.email)
    page.wait_for_selector("#panel[data-ready='1']", timeout=15000)
    page.click("[data-tab=all]")
    page.click(f".card-c[data-id='{conv_id}']")
    page.wait_for_selector(f".msg.incoming >> text={text}")


def test_admin_creates_a_label_and_a_canned_response_and_an_operator_uses_both(
        live_server, browser, artifacts) -> None:  # type: ignore[no-untyped-def]
    admin, _, agent, conv_id = _support_chat("My order is late")
    owner = browser.new_context(viewport={"width": 1280, "height": 900})
    operator = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        label = _create_label_and_canned(owner.new_page(), live_server.url, admin, "Late delivery", "sorry",
                                         "Sorry for the delay: your parcel leaves today.")
        panel = operator.new_page()
        _open_in_panel(panel, live_server.url, agent, conv_id, "My order is late")
        panel.click("#act-labels")
        panel.check(f"#labels-menu input[value='{label.id}']")
        panel.wait_for_selector("#conv-labels .label-chip >> text=Late delivery")
        _wait(lambda: db.session.get(ConversationLabel, (conv_id, label.id)))
        panel.click("#composer-input")
        panel.type("#composer-input", "/sor")
        panel.wait_for_selector("#canned:not([hidden]) .canned-item.active >> text=/sorry")
        panel.press("#composer-input", "Enter")
        assert panel.input_value("#composer-input") == "Sorry for the delay: your parcel leaves today."
        panel.press("#composer-input", "Enter")
        panel.wait_for_selector(".msg.outgoing:not(.pending) >> text=Sorry for the delay")
        assert _wait(lambda: db.session.scalar(sa.select(Message.id).where(
            Message.conversation_id == conv_id, Message.type == "outgoing",
            Message.content == "Sorry for the delay: your parcel leaves today.")))
        panel.screenshot(path=str(artifacts / "admin-label-canned-in-panel.png"))
    finally:
        _close(owner, operator)


def test_an_open_panel_follows_the_admins_setup_without_a_reload(
        live_server, browser, artifacts) -> None:  # type: ignore[no-untyped-def]
    """The operator's panel is already open when the admin adds a label and a canned response and
    renames the inbox: the panel's pickers, header and composer follow (``directory.changed``)."""
    admin, inbox, agent, conv_id = _support_chat("Where is my parcel?")
    owner = browser.new_context(viewport={"width": 1280, "height": 900})
    operator = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        panel = operator.new_page()
        _open_in_panel(panel, live_server.url, agent, conv_id, "Where is my parcel?")
        assert panel.locator("#conv-inbox").inner_text() == "Support"
        assert panel.evaluate("document.querySelector('#f-label').hidden")  # no labels yet: no label filter

        label = _create_label_and_canned(owner.new_page(), live_server.url, admin, "Lost parcel", "track",
                                         "Here is your tracking link.")
        db.session.execute(sa.update(Inbox).where(Inbox.id == inbox.id).values(name="Customer care"))
        db.session.commit()  # a rename as the inbox form saves it (the form's own tests cover the form)

        # No reload: the header, the label filter, the labels menu and the composer follow.
        panel.wait_for_selector("#conv-inbox >> text=Customer care")
        wait_until(panel, "!document.querySelector('#f-label').hidden")  # the panel's CSP forbids eval-based waits
        assert "Lost parcel" in panel.evaluate("document.querySelector('#f-label').textContent")
        panel.click("#act-labels")
        panel.check(f"#labels-menu input[value='{label.id}']")
        panel.wait_for_selector("#conv-labels .label-chip >> text=Lost parcel")
        assert _wait(lambda: db.session.get(ConversationLabel, (conv_id, label.id)))
        panel.keyboard.press("Escape")
        panel.click("#composer-input")
        panel.type("#composer-input", "/tra")
        panel.wait_for_selector("#canned:not([hidden]) .canned-item.active >> text=/track")
        panel.press("#composer-input", "Enter")
        assert panel.input_value("#composer-input") == "Here is your tracking link."
        panel.screenshot(path=str(artifacts / "panel-follows-admin-setup.png"))
    finally:
        _close(owner, operator)
