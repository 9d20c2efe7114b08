"""The widget in real Chromium against a real gunicorn+gevent server: /demo as a customer site."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import Attachment
from messenger.models import Conversation
from messenger.models import Message
from messenger.services import messages as msg_service
from tests.factories import make_inbox
from tests.factories import make_user

pytestmark = [pytest.mark.committing, pytest.mark.browser]


def launcher_of(page, inbox):  # type: ignore[no-untyped-def]
    return page.locator(f"button[data-inbox='{inbox.website_token}']")


def frame_of(page, inbox):  # type: ignore[no-untyped-def]
    return page.frame_locator(f"iframe[src*='inbox={inbox.website_token}']")


def open_and_send(page, inbox, text: str):  # type: ignore[no-untyped-def]
    """Open the inbox's widget, send ``text`` and wait until it shows as sent; returns the frame."""
    launcher_of(page, inbox).click()
    chat = frame_of(page, inbox)
    chat.locator("#input").fill(text)
    chat.locator("#input").press("Enter")
    chat.locator(".msg.me .meta", has_text="Sent").wait_for()
    return chat


def incoming(inbox_id: int) -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(
        sa.select(Message.content).join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.inbox_id == inbox_id, Message.type == "incoming").order_by(Message.id)))


def test_demo_widget_chat_reload_offline_and_two_inboxes(live_server, browser, artifacts) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox(name="Acme support", origins=[live_server.url], greeting="Hi! How can we help?")
    second = make_inbox(name="Wholesale", origins=[live_server.url], color="#0a7d32")
    admin = make_user(role="admin", name="Olga")
    context = browser.new_context(viewport={"width": 1200, "height": 800}, locale="en-US")
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(live_server.url + "/demo")
        launchers = page.locator("button[data-inbox]")
        launcher_of(page, inbox).wait_for()
        launcher_of(page, second).wait_for()
        assert launchers.count() == 2
        page.wait_for_timeout(300)
        assert page.locator("iframe").count() == 0, "the frame must wait for a click"
        page.screenshot(path=str(artifacts / "widget-closed.png"))

        launcher_of(page, inbox).click()
        chat = frame_of(page, inbox)
        chat.locator(".msg.them", has_text="How can we help").wait_for()
        chat.locator("#input").fill("Hello from the widget")
        chat.locator("#input").press("Enter")
        chat.locator(".msg.me", has_text="Hello from the widget").locator(".meta", has_text="Sent").wait_for()
        assert incoming(inbox.id) == ["Hello from the widget"]

        conv = db.session.scalar(sa.select(Conversation).where(Conversation.inbox_id == inbox.id))
        msg_service.send_operator_message(admin, conv.id, "Hi, Olga here. <b>not bold</b>", str(uuid.uuid4()))
        chat.locator(".msg.them", has_text="Olga here").wait_for(timeout=15000)
        assert chat.locator(".msg.them b").count() == 0, "operator text must be rendered as text"
        assert chat.locator(".who").all_inner_texts() == [admin.name], "the reply shows who wrote it"
        page.screenshot(path=str(artifacts / "widget-open.png"))

        # Reload: the same browser sees its history.
        page.reload()
        launcher_of(page, inbox).click()
        chat = frame_of(page, inbox)
        chat.locator(".msg.them", has_text="Olga here").wait_for()
        chat.locator(".msg.me", has_text="Hello from the widget").wait_for()
        assert chat.locator(".who").all_inner_texts() == [admin.name]

        # Offline: two messages wait as "sending", then arrive exactly once, in order.
        context.set_offline(True)
        chat.locator("#banner", has_text="offline").wait_for()
        for text in ("first while offline", "second while offline"):
            chat.locator("#input").fill(text)
            chat.locator("#input").press("Enter")
        chat.locator(".msg.me", has_text="second while offline").locator(".meta", has_text="Sending").wait_for()
        assert incoming(inbox.id) == ["Hello from the widget"]
        context.set_offline(False)
        chat.locator(".msg.me", has_text="second while offline").locator(".meta", has_text="Sent").wait_for(
            timeout=20000)
        page.wait_for_timeout(1500)
        assert incoming(inbox.id) == ["Hello from the widget", "first while offline", "second while offline"]

        # The second launcher is an independent chat with its own session and conversation.
        launcher_of(page, second).click()
        other = frame_of(page, second)
        other.locator("#input").fill("Wholesale question")
        other.locator("#input").press("Enter")
        other.locator(".msg.me", has_text="Wholesale question").locator(".meta", has_text="Sent").wait_for()
        assert other.locator(".msg", has_text="Olga here").count() == 0
        assert incoming(second.id) == ["Wholesale question"]
        contacts = db.session.scalars(sa.select(Conversation.contact_id).where(
            Conversation.inbox_id.in_([inbox.id, second.id]))).all()
        assert len(set(contacts)) == 2
        assert errors == []
    finally:
        context.close()


def test_attachments_mobile_and_russian(live_server, browser, artifacts, tmp_path) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox(name="Поддержка", origins=[live_server.url], greeting="Здравствуйте! Чем помочь?",
                       color="#8a3ffc")
    make_user(inboxes=[inbox])  # someone online: the greeting shows
    context = browser.new_context(viewport={"width": 375, "height": 740}, locale="ru-RU", is_mobile=True,
                                  has_touch=True)
    try:
        page = context.new_page()
        page.goto(live_server.url + "/demo")
        launcher_of(page, inbox).click()
        chat = frame_of(page, inbox)
        chat.locator(".msg.them", has_text="Чем помочь").wait_for()
        box = page.locator("iframe").bounding_box()
        assert box is not None and box["width"] == 375 and box["height"] == 740, box
        assert chat.locator("#input").get_attribute("placeholder") == "Напишите сообщение…"
        chat.locator("#input").fill("Привет! <script>alert(1)</script>")
        chat.locator("#input").press("Enter")
        chat.locator(".msg.me", has_text="<script>alert(1)</script>").locator(".meta", has_text="Отправлено").wait_for()
        # A file by the button: progress, then the message with the attachment.
        png = tmp_path / "photo.png"
        from PIL import Image

        Image.new("RGB", (40, 30), (200, 40, 40)).save(png)
        chat.locator("#file").set_input_files(str(png))
        chat.locator(".msg.me", has_text="photo.png").locator(".meta", has_text="Отправлено").wait_for()
        assert "photo.png" in [a.filename for a in db.session.scalars(sa.select(Attachment))]
        # A forbidden type: a clear error, nothing sent.
        bad = tmp_path / "page.html"
        bad.write_text("<html><script>alert(1)</script></html>")
        chat.locator("#file").set_input_files(str(bad))
        chat.locator("#banner", has_text="page.html").wait_for()
        assert chat.locator(".msg.me", has_text="page.html").count() == 0
        page.screenshot(path=str(artifacts / "widget-mobile-ru.png"))
        chat.locator("#close").click()
        page.locator("iframe").wait_for(state="hidden")
        assert launcher_of(page, inbox).get_attribute("aria-expanded") == "false"
    finally:
        context.close()


def wait_until(check, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + timeout
    while True:
        db.session.expire_all()
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_js_api_identity_navigation_and_operator_typing(live_server, browser) -> None:  # type: ignore[no-untyped-def]
    import hashlib
    import hmac
    import json

    from messenger.models import Contact
    from messenger.models import ContactSession
    from messenger.services import typing as typing_service

    inbox = make_inbox(name="Acme support", origins=[live_server.url])
    admin = make_user(role="admin", name="Olga")
    context = browser.new_context(locale="en-US")
    try:
        page = context.new_page()
        page.goto(live_server.url + "/demo")
        chat = open_and_send(page, inbox, "hi")

        # Single-page-app navigation reaches the session (operators see the current page).
        page.evaluate("history.pushState({}, '', '/demo?step=2'); document.title = 'Step 2'")
        page.evaluate("history.pushState({}, '', '/demo?step=3')")
        session = wait_until(lambda: db.session.scalar(sa.select(ContactSession).where(
            ContactSession.current_url.like("%step=3"))))
        assert session is not None and session.browser and session.browser.startswith("Chrome")
        assert [p["url"].split("?")[-1] for p in session.pages][-2:] == ["step=2", "step=3"]

        # Operator typing shows in the frame; the reply hides it.
        conv = db.session.scalar(sa.select(Conversation).where(Conversation.inbox_id == inbox.id))
        typing_service.operator_typing(admin, conv.id, True)
        chat.locator("#typing", has_text="Olga is typing").wait_for()

        # setUser through the JS API, with the HMAC a site backend computes.
        user = {"identifier": "user-1", "name": "Ann", "email": "ann@example.com",
                "identifier_hash": hmac.new(inbox.hmac_secret.encode(), b"user-1", hashlib.sha256).hexdigest()}
        page.evaluate(f"Messenger.setUser({json.dumps(user)})")
        contact = wait_until(lambda: db.session.scalar(sa.select(Contact).where(Contact.identifier == "user-1")))
        assert contact is not None and contact.name == "Ann" and contact.email == "ann@example.com"
        assert wait_until(lambda: db.session.scalar(sa.select(ContactSession.hmac_verified).where(
            ContactSession.contact_id == contact.id)))
        # A forged hash through the API changes nothing and tells the page.
        page.evaluate("window.errs = []; Messenger.on('error', (e) => window.errs.push(e.code))")
        page.evaluate("Messenger.setUser({identifier: 'user-2', identifier_hash: 'f00'})")
        for _ in range(50):
            if page.evaluate("window.errs.length"):
                break
            page.wait_for_timeout(100)
        assert page.evaluate("window.errs") == ["identity_invalid"]
        assert db.session.scalar(sa.select(Contact).where(Contact.identifier == "user-2")) is None
    finally:
        context.close()


def test_proactive_greeting_opens_once_per_period(live_server, browser) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox(origins=[live_server.url], proactive={
        "enabled": True, "delay_s": 1, "url_pattern": "/demo*", "message": "Need help choosing beans?",
        "period_s": 3600})
    context = browser.new_context(locale="en-US")
    try:
        page = context.new_page()
        page.goto(live_server.url + "/demo")
        chat = frame_of(page, inbox)
        chat.locator(".msg.them", has_text="Need help choosing beans?").wait_for(timeout=15000)
        page.locator("iframe").wait_for(state="visible")
        assert launcher_of(page, inbox).get_attribute("aria-expanded") == "true"
        page.reload()
        page.wait_for_timeout(2500)
        assert not page.locator("iframe").is_visible(), "shown again within the period"
    finally:
        context.close()


def test_unread_badge_csat_and_failed_retry(live_server, browser, artifacts) -> None:  # type: ignore[no-untyped-def]
    from messenger.models import CsatResponse
    from messenger.services import conversations as conv_service

    inbox = make_inbox(origins=[live_server.url])
    admin = make_user(role="admin", name="Olga")
    context = browser.new_context(locale="en-US")
    try:
        page = context.new_page()
        page.goto(live_server.url + "/demo")
        chat = open_and_send(page, inbox, "question")
        conv = db.session.scalar(sa.select(Conversation).where(Conversation.inbox_id == inbox.id))

        # Closed widget: an operator reply raises the unread badge.
        chat.locator("#close").click()
        page.locator("iframe").wait_for(state="hidden")
        msg_service.send_operator_message(admin, conv.id, "answer", str(uuid.uuid4()))
        launcher_of(page, inbox).locator("span", has_text="1").wait_for()
        launcher_of(page, inbox).click()
        chat.locator(".msg.them", has_text="answer").wait_for()
        launcher_of(page, inbox).locator("span").wait_for(state="hidden")

        # Server errors: "Not sent" after repeated failures, then Retry sends it once.
        page.route("**/widget/api/v1/messages", lambda route: route.fulfill(status=503, body="{}"))
        chat.locator("#input").fill("flaky")
        chat.locator("#input").press("Enter")
        chat.locator(".msg.me.failed", has_text="flaky").locator("button", has_text="Retry").wait_for(timeout=40000)
        page.unroute("**/widget/api/v1/messages")
        chat.locator(".msg.me.failed button", has_text="Retry").click()
        chat.locator(".msg.me", has_text="flaky").locator(".meta", has_text="Sent").wait_for()
        assert incoming(inbox.id) == ["question", "flaky"]

        # Resolve: the frame asks for a rating; 4 stars and a comment are stored once.
        conv_service.change_status(admin, conv.id, "resolved")
        chat.locator("#panel", has_text="How did we do?").wait_for()
        chat.locator(".stars button").nth(3).click()
        chat.locator("#panel textarea").fill("quick, thanks")
        page.screenshot(path=str(artifacts / "widget-csat.png"))
        chat.locator("#panel button.primary").click()
        chat.locator("#panel", has_text="Thank you").wait_for()
        rating = db.session.scalar(sa.select(CsatResponse).where(CsatResponse.conversation_id == conv.id))
        assert (rating.rating, rating.comment) == (4, "quick, thanks")
    finally:
        context.close()


def test_offline_form_outside_business_hours_in_the_frame(live_server, browser, artifacts) -> None:  # type: ignore[no-untyped-def]
    from messenger.models import Contact

    inbox = make_inbox(origins=[live_server.url], business_hours_enabled=True, timezone="Europe/Moscow",
                       business_hours={}, away_message="We are closed today.")
    context = browser.new_context(locale="en-US")
    try:
        page = context.new_page()
        page.goto(live_server.url + "/demo")
        launcher_of(page, inbox).click()
        chat = frame_of(page, inbox)
        chat.locator("#subtitle", has_text="We are closed today.").wait_for()
        assert not chat.locator("#composer").is_visible()
        chat.locator("#f-email").fill("not-an-email")
        chat.locator("#f-message").fill("Please call me back")
        chat.locator("#panel button.primary").click()
        page.screenshot(path=str(artifacts / "widget-offline-form.png"))
        chat.locator("#f-email").fill("lea@example.com")
        chat.locator("#panel button.primary").click()
        chat.locator("#panel .notice", has_text="answer in this chat").wait_for()  # no e-mail configured: no promise
        conv = db.session.scalar(sa.select(Conversation).where(Conversation.inbox_id == inbox.id))
        assert conv is not None and conv.custom_attributes["offline_form"] is True
        assert db.session.get(Contact, conv.contact_id).email == "lea@example.com"
        assert incoming(inbox.id) == ["Please call me back"]
    finally:
        context.close()


def test_unsent_messages_survive_a_reload(live_server, browser) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox(origins=[live_server.url])
    context = browser.new_context(locale="en-US")
    try:
        page = context.new_page()
        page.goto(live_server.url + "/demo")
        launcher_of(page, inbox).click()
        chat = frame_of(page, inbox)
        chat.locator("#input").wait_for()
        # The server is unreachable for sends: the message waits in localStorage.
        page.route("**/widget/api/v1/messages", lambda route: route.abort("connectionrefused"))
        chat.locator("#input").fill("kept across reload")
        chat.locator("#input").press("Enter")
        chat.locator(".msg.me", has_text="kept across reload").wait_for()
        page.reload()
        launcher_of(page, inbox).click()
        chat = frame_of(page, inbox)
        chat.locator(".msg.me", has_text="kept across reload").locator(".meta", has_text="Sending").wait_for()
        assert incoming(inbox.id) == []
        page.unroute("**/widget/api/v1/messages")
        chat.locator(".msg.me", has_text="kept across reload").locator(".meta", has_text="Sent").wait_for(
            timeout=20000)
        page.wait_for_timeout(1000)
        assert incoming(inbox.id) == ["kept across reload"]
        assert chat.locator(".msg.me", has_text="kept across reload").count() == 1
    finally:
        context.close()


def test_history_scrolls_up_and_read_ticks(live_server, browser) -> None:  # type: ignore[no-untyped-def]
    from messenger.services import conversations as conv_service

    inbox = make_inbox(origins=[live_server.url])
    admin = make_user(role="admin", name="Olga")
    context = browser.new_context(locale="en-US")
    try:
        page = context.new_page()
        page.goto(live_server.url + "/demo")
        chat = open_and_send(page, inbox, "first")
        conv = db.session.scalar(sa.select(Conversation).where(Conversation.inbox_id == inbox.id))
        # The operator reads: the visitor's message gets a read tick live.
        conv_service.mark_read_by_operator(admin, conv.id)
        chat.locator(".msg.me .meta", has_text="Read").wait_for()
        msg_service.send_operator_message(admin, conv.id, "See https://shop.example/faq. Not javascript:alert(1) "
                                          "nor data:text/html,x", str(uuid.uuid4()))
        links = chat.locator(".msg.them a")
        links.first.wait_for()
        assert links.count() == 1 and links.first.get_attribute("href") == "https://shop.example/faq"
        assert "noopener" in links.first.get_attribute("rel")
        for i in range(45):
            msg_service.send_operator_message(admin, conv.id, f"line {i:02d}", str(uuid.uuid4()))
        page.reload()
        launcher_of(page, inbox).click()
        chat = frame_of(page, inbox)
        chat.locator(".msg.them", has_text="line 44").wait_for()
        assert chat.locator(".msg.me", has_text="first").count() == 0, "only the latest page at first"
        for _ in range(20):
            chat.locator("#list").evaluate("(el) => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); }")
            if chat.locator(".msg.me", has_text="first").count():
                break
            page.wait_for_timeout(250)
        chat.locator(".msg.me", has_text="first").wait_for()
        assert chat.locator(".msg.them", has_text="line ").count() == 45
    finally:
        context.close()
