"""What the visitor sees live in the widget (real Chromium, gunicorn+gevent, PostgreSQL, RQ).

- Activity lines: routing detail stays in the panel; the visitor sees "<name> joined the
  conversation" in their language (the server decides, ``services/activity.py``).
- An operator's files appear from the live events: "Scanning…", then the download link or
  the preview; edits and deletes show live; the list stays at the end after an image.
- The offline banner goes as soon as queued messages are delivered.
"""
from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from PIL import Image
from rq import Queue
from rq import SimpleWorker

from messenger.extensions import db
from messenger.models import Conversation
from messenger.models import Message
from messenger.models import User
from messenger.realtime.access import VISITOR
from messenger.realtime.access import payload_for
from messenger.realtime.log import events_after
from messenger.services import assignment
from messenger.services import attachments as attachment_service
from messenger.services import conversations as conv_service
from messenger.services import message_edits
from messenger.services import messages as msg_service
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user
from tests.realtime.helpers import wait_until
from tests.test_attachments import PDF
from tests.test_attachments import _Source
from tests.test_widget_browser import frame_of
from tests.test_widget_browser import launcher_of
from tests.test_widget_browser import open_and_send


def _png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buf, "PNG")
    return buf.getvalue()


def _side_by_side(path, left: bytes, right: bytes) -> None:  # type: ignore[no-untyped-def]
    """One picture of the visitor's phone next to the operator's panel (for looking at, not asserted)."""
    a, b = Image.open(io.BytesIO(left)), Image.open(io.BytesIO(right))
    both = Image.new("RGB", (a.width + b.width + 16, max(a.height, b.height)), (40, 40, 40))
    both.paste(a, (0, 0))
    both.paste(b, (a.width + 16, 0))
    both.save(path)


def _conversation(inbox_id: int) -> Conversation:
    db.session.expire_all()
    conv = db.session.scalar(sa.select(Conversation).where(Conversation.inbox_id == inbox_id))
    assert conv is not None
    return conv


def _route_internally(anna, bob, conv_id: int) -> None:  # type: ignore[no-untyped-def]
    """Anna takes the chat, snoozes it, reopens it and transfers it to Bob: four internal lines."""
    assignment.self_assign(anna, conv_id)
    conv_service.change_status(anna, conv_id, "snoozed", snoozed_until=conv_service.now() + timedelta(hours=2))
    conv_service.change_status(anna, conv_id, "open")
    assignment.assign_to(anna, conv_id, {"user_id": bob.id})


@pytest.mark.committing
def test_visitor_payloads_carry_only_the_joined_line(app) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox()
    anna = make_user(name="Anna", inboxes=[inbox])
    bob = make_user(name="Bob Agent", inboxes=[inbox])
    conv = make_conversation(inbox)
    _route_internally(anna, bob, conv.id)
    db.session.expire_all()
    lines = db.session.scalars(sa.select(Message).where(Message.conversation_id == conv.id,
                                                        Message.type == "activity").order_by(Message.id)).all()
    assert len(lines) == 4 and any("UTC" in m.content for m in lines)
    shown = msg_service.list_messages(conv, audience="visitor")
    assert [msg_service.message_to_dict(m, "visitor")["content"] for m in shown] == [
        "Anna joined the conversation", "Bob Agent joined the conversation"]
    assert all(msg_service.message_to_dict(m, "visitor")["content_attributes"] == {
        "visitor": {"key": "joined", "name": m.content_attributes["visitor"]["name"]}} for m in shown)
    assert len(msg_service.list_messages(conv, audience="operator")) == 4
    # The realtime path applies the same rule to the logged events.
    events = [e for e in events_after(0) if e.kind == "message.created" and e.conversation_id == conv.id]
    visible = [payload_for(VISITOR, e) for e in events]
    assert [v["content"] for v in visible if v] == ["Anna joined the conversation", "Bob Agent joined the conversation"]
    assert sum(v is None for v in visible) == 2



@pytest.mark.committing
@pytest.mark.browser
def test_routing_detail_stays_in_the_panel_and_joins_show_in_russian(live_server, browser, artifacts) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox(name="Поддержка", origins=[live_server.url])
    anna = make_user(name="Anna", inboxes=[inbox])
    bob = make_user(name="Bob Agent", inboxes=[inbox])
    context = browser.new_context(viewport={"width": 375, "height": 740}, locale="ru-RU", is_mobile=True)
    try:
        page = context.new_page()
        page.goto(live_server.url + "/demo")
        launcher_of(page, inbox).click()
        chat = frame_of(page, inbox)
        chat.locator("#input").fill("Здравствуйте")
        chat.locator("#input").press("Enter")
        chat.locator(".msg.me .meta", has_text="Отправлено").wait_for()
        conv = _conversation(inbox.id)
        _route_internally(anna, bob, conv.id)
        msg_service.send_operator_message(bob, conv.id, "Добрый день! Чем помочь?", str(uuid.uuid4()))
        chat.locator(".msg.them", has_text="Чем помочь").wait_for(timeout=15000)
        assert chat.locator(".sys").all_inner_texts() == ["Вам отвечает Anna", "Вам отвечает Bob Agent"]
        text = chat.locator("#list").inner_text()
        for leak in ("UTC", "snoozed", "took the conversation", "Bob Agent (", "transferred", "reopened"):
            assert leak not in text, leak
        page.screenshot(path=str(artifacts / "widget-joined-ru-375.png"))
        page.reload()
        launcher_of(page, inbox).click()
        chat = frame_of(page, inbox)
        chat.locator(".msg.them", has_text="Чем помочь").wait_for()
        assert chat.locator(".sys").all_inner_texts() == ["Вам отвечает Anna", "Вам отвечает Bob Agent"]
    finally:
        context.close()


@pytest.mark.committing
@pytest.mark.browser
def test_operator_files_edits_and_deletes_arrive_live_and_the_list_stays_at_the_end(live_server, browser, app,
                                                                                     artifacts) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox(name="Acme support", origins=[live_server.url])
    olga = make_user(name="Olga", inboxes=[inbox])
    context = browser.new_context(viewport={"width": 375, "height": 740}, locale="en-US", is_mobile=True)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(live_server.url + "/demo")
        chat = open_and_send(page, inbox, "Can you send the offer?")
        conv = _conversation(inbox.id)
        for i in range(12):  # enough to overflow the list before the picture arrives
            msg_service.send_operator_message(olga, conv.id, f"Let me check that for you, step {i}.", str(uuid.uuid4()))
        pdf = attachment_service.upload_by_operator(olga, conv.id, _Source("offer.pdf", PDF)).key
        photo = attachment_service.upload_by_operator(olga, conv.id, _Source("shelf.png", _png(640, 480))).key
        msg_service.send_operator_message(olga, conv.id, "Here it is", str(uuid.uuid4()), attachment_keys=[pdf, photo])
        bubble = chat.locator(".msg.them", has_text="Here it is")
        bubble.locator(".meta", has_text="Scanning").first.wait_for(timeout=15000)
        assert bubble.locator(".att").all_inner_texts()[:1] == ["offer.pdf"]
        # The picture's first download fails (a network blip): the next redraw fetches it again.
        failed: list[str] = []
        page.route("**/thumb**", lambda route: (failed.append(route.request.url), route.abort())
                   if not failed else route.continue_())
        redis = app.extensions["redis"]
        SimpleWorker([Queue("scanning", connection=redis)], connection=redis).work(burst=True)
        bubble.locator("a.att", has_text="offer.pdf").wait_for(timeout=15000)
        bubble.locator("a.att img").wait_for()

        def download_failed() -> bool:
            page.wait_for_timeout(50)  # Playwright runs the route handler while the page is waited on
            return bool(failed)

        assert wait_until(download_failed)
        msg_service.send_operator_message(olga, conv.id, "One moment.", str(uuid.uuid4()))
        chat.locator(".msg.them", has_text="One moment.").wait_for()
        assert wait_until(lambda: bubble.locator("a.att img").evaluate("(img) => img.complete && img.naturalWidth > 0"))
        assert bubble.locator(".meta", has_text="Scanning").count() == 0 and len(failed) == 1

        # A reply after the picture: the list shows the end, and the picture stays as it was (the
        # redraw keeps its element, so the list never shrinks while a copy decodes).
        chat.locator("a.att img").evaluate("(img) => { img.dataset.shown = 'yes'; }")
        msg_service.send_operator_message(olga, conv.id, "Anything else?", str(uuid.uuid4()))
        chat.locator(".msg.them", has_text="Anything else?").wait_for()
        page.wait_for_timeout(300)
        gap = chat.locator("#list").evaluate("(l) => l.scrollHeight - l.scrollTop - l.clientHeight")
        assert gap < 5, gap
        assert bubble.locator("a.att img[data-shown=yes]").count() == 1

        # Edit and delete by the operator, live.
        step = db.session.scalar(sa.select(Message).where(Message.content == "Let me check that for you, step 5."))
        message_edits.edit_message(olga, conv.id, step.id, "Checked: it is in stock.")
        chat.locator(".msg.them", has_text="Checked: it is in stock.").locator(".meta", has_text="edited").wait_for()
        first = db.session.scalar(sa.select(Message).where(Message.content == "Let me check that for you, step 0."))
        message_edits.delete_message(olga, conv.id, first.id)
        chat.locator(".msg.them.deleted", has_text="Message deleted").wait_for()
        assert chat.locator(".msg", has_text="step 0").count() == 0
        page.screenshot(path=str(artifacts / "widget-files-en-375.png"))
        assert errors == []
    finally:
        context.close()


@pytest.mark.committing
@pytest.mark.browser
def test_offline_banner_goes_when_queued_messages_are_delivered(live_server, browser) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox(origins=[live_server.url])
    context = browser.new_context(locale="en-US")
    try:
        page = context.new_page()
        page.goto(live_server.url + "/demo")
        chat = open_and_send(page, inbox, "hello")
        # The stream stays down (its ticket never comes back); sending works again.
        page.route("**/widget/api/v1/stream-ticket", lambda route: None)
        context.set_offline(True)
        chat.locator("#banner", has_text="offline").wait_for()
        chat.locator("#input").fill("written offline")
        chat.locator("#input").press("Enter")
        chat.locator(".msg.me", has_text="written offline").locator(".meta", has_text="Sending").wait_for()
        context.set_offline(False)
        chat.locator(".msg.me", has_text="written offline").locator(".meta", has_text="Sent").wait_for(timeout=20000)
        chat.locator("#banner", has_text="offline").wait_for(state="hidden", timeout=3000)
    finally:
        context.close()


def _opened_while_away(page, live_server, inbox):  # type: ignore[no-untyped-def]
    """The demo page's chat opened while nobody can answer: the away header and the offline offer."""
    page.goto(live_server.url + "/demo")
    launcher_of(page, inbox).click()
    chat = frame_of(page, inbox)
    chat.locator("#subtitle", has_text="We're away right now.").wait_for()
    chat.locator("#panel", has_text="Nobody is online right now.").wait_for()
    return chat


@pytest.mark.committing
@pytest.mark.browser
def test_nobody_online_offers_the_offline_form_and_promises_no_email(live_server, browser, client, app,
                                                                     artifacts) -> None:  # type: ignore[no-untyped-def]
    from messenger.models import Contact

    inbox = make_inbox(name="Acme support", origins=[live_server.url],
                       greeting="Hi! We usually reply in a few minutes.")
    make_user(name="Sleeping", inboxes=[inbox], availability="offline")
    config = client.get(f"/widget/api/v1/config?inbox={inbox.website_token}").get_json()
    assert (config["available"], config["email_enabled"]) == (False, False)
    smtp_host, app.config["SMTP_HOST"] = app.config["SMTP_HOST"], "smtp.example"
    try:
        assert client.get(f"/widget/api/v1/config?inbox={inbox.website_token}").get_json()["email_enabled"] is True
    finally:
        app.config["SMTP_HOST"] = smtp_host  # restored, not removed: later tests read it
    context = browser.new_context(viewport={"width": 375, "height": 740}, locale="en-US", is_mobile=True)
    try:
        page = context.new_page()
        chat = _opened_while_away(page, live_server, inbox)
        assert chat.locator(".msg", has_text="few minutes").count() == 0, "the greeting must not promise minutes"
        assert chat.locator("#composer").is_visible(), "the visitor may still write"
        chat.locator("#panel button", has_text="Leave your email").click()
        assert "by email" not in chat.locator("#panel").inner_text()
        chat.locator("#f-email").fill("lea@example.com")
        chat.locator("#f-message").fill("Do you ship to Norway?")
        page.screenshot(path=str(artifacts / "widget-away-form-en-375.png"))
        chat.locator("#panel button.primary").click()
        chat.locator("#panel .notice", has_text="We got your message").wait_for()
        assert "by email" not in chat.locator("#app").inner_text()
        conv = _conversation(inbox.id)
        assert conv.custom_attributes["offline_form"] is True
        assert db.session.get(Contact, conv.contact_id).email == "lea@example.com"
    finally:
        context.close()


@pytest.mark.committing
@pytest.mark.browser
def test_an_open_widget_notices_an_operator_coming_back_and_keeps_a_half_written_form(
        live_server, browser) -> None:  # type: ignore[no-untyped-def]
    """While the chat is open and nobody can answer, the widget asks again every 30 s: the offline
    offer gives way to the chat when an operator is back, but a form being filled in stays."""
    inbox = make_inbox(name="Acme support", origins=[live_server.url])
    operator = make_user(name="Back soon", inboxes=[inbox], availability="offline")
    context = browser.new_context(locale="en-US")
    try:
        context.clock.install()  # the page's timers and Date, moved forward by the test
        page = context.new_page()
        chat = _opened_while_away(page, live_server, inbox)

        chat.locator("#panel button", has_text="Leave your email").click()
        chat.locator("#f-email").fill("half@example.com")  # the visitor is writing
        db.session.execute(sa.update(User).where(User.id == operator.id).values(availability="online"))
        db.session.commit()
        context.clock.fast_forward(31_000)
        chat.locator("#subtitle", has_text="We're online").wait_for()
        assert chat.locator("#f-email").input_value() == "half@example.com"  # not wiped under their hands

        chat.locator("#f-email").fill("")  # they give up on the form

        launcher_of(page, inbox).click()  # closed; the operator leaves meanwhile
        db.session.execute(sa.update(User).where(User.id == operator.id).values(availability="offline"))
        db.session.commit()
        context.clock.fast_forward(61_000)  # no check while closed (or while someone can answer)
        assert chat.locator("#subtitle").inner_text() == "We're online"
        launcher_of(page, inbox).click()  # opening asks again: the config is a minute old
        chat.locator("#subtitle", has_text="We're away right now.").wait_for()
        chat.locator("#panel", has_text="Nobody is online right now.").wait_for()
    finally:
        context.close()


@pytest.mark.committing
@pytest.mark.browser
def test_header_shows_the_measured_wait_when_known(live_server, browser) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox(name="Поддержка", origins=[live_server.url], greeting="Здравствуйте!")
    make_user(name="Anna", inboxes=[inbox])
    start = conv_service.now() - timedelta(hours=3)
    for i in range(5):
        make_conversation(inbox, created_at=start, first_reply_at=start + timedelta(seconds=170 + i * 5))
    context = browser.new_context(locale="ru-RU")
    try:
        page = context.new_page()
        page.goto(live_server.url + "/demo")
        launcher_of(page, inbox).click()
        chat = frame_of(page, inbox)
        chat.locator("#subtitle", has_text="Обычно отвечаем примерно за 3 мин").wait_for()
        chat.locator(".msg.them", has_text="Здравствуйте!").wait_for()
        assert chat.locator("#panel").inner_text() == ""
    finally:
        context.close()


@pytest.mark.committing
@pytest.mark.browser
def test_two_inboxes_get_named_launchers_in_their_colours_where_the_page_puts_them(live_server, browser,
                                                                                  artifacts) -> None:  # type: ignore[no-untyped-def]
    sales = make_inbox(name="Sales", origins=[live_server.url], color="#0a7d32")
    help_desk = make_inbox(name="Help desk", origins=[live_server.url], color="#8a3ffc")
    shop = (f'<!doctype html><title>Shop</title><p>Two chats</p>'
            f'<script async src="/widget/loader.js" data-inbox="{sales.website_token}"></script>'
            f'<script async src="/widget/loader.js" data-inbox="{help_desk.website_token}" data-position="left">'
            f'</script>')
    context = browser.new_context(viewport={"width": 1000, "height": 700}, locale="en-US")
    try:
        page = context.new_page()
        page.route(live_server.url + "/shop", lambda route: route.fulfill(status=200, body=shop,
                                                                         content_type="text/html"))
        page.goto(live_server.url + "/shop")
        right, left = launcher_of(page, sales), launcher_of(page, help_desk)
        right.locator("span", has_text="Sales").wait_for()
        left.locator("span", has_text="Help desk").wait_for()
        assert (right.get_attribute("aria-label"), right.get_attribute("title")) == ("Sales", "Sales")
        assert left.get_attribute("aria-label") == "Help desk"
        colours = [b.evaluate("(b) => getComputedStyle(b).backgroundColor") for b in (right, left)]
        assert colours == ["rgb(10, 125, 50)", "rgb(138, 63, 252)"]
        rbox, lbox = right.bounding_box(), left.bounding_box()
        assert rbox is not None and lbox is not None
        assert rbox["x"] > 1000 - 100 and lbox["x"] < 100, (rbox, lbox)
        page.screenshot(path=str(artifacts / "widget-two-launchers.png"))
        left.click()
        frame = page.locator(f"iframe[src*='inbox={help_desk.website_token}']")
        frame.wait_for(state="visible")
        fbox = frame.bounding_box()
        assert fbox is not None and fbox["x"] < 100, fbox
    finally:
        context.close()


@pytest.mark.committing
@pytest.mark.browser
def test_visit_and_readable_name_reach_the_panel_sidebar_live(live_server, browser, artifacts) -> None:  # type: ignore[no-untyped-def]
    from messenger.services.visitors import anonymous_name
    from tests.test_panel_browser import _sign_in
    from tests.test_panel_browser import close_quietly
    from tests.test_panel_browser import wait_until

    inbox = make_inbox(name="Acme support", origins=[live_server.url])
    anna = make_user(name="Anna", inboxes=[inbox], email=f"anna-{uuid.uuid4().hex[:6]}@example.com")
    visitor_context = browser.new_context(viewport={"width": 375, "height": 740}, locale="en-US")
    panel_context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = visitor_context.new_page()
        # Landing from a search result, a single-page-app step, then a full page load.
        page.goto(live_server.url + "/demo?from=ad", referer="https://news.example/story")
        launcher_of(page, inbox).wait_for()
        page.wait_for_timeout(1200)
        page.evaluate("history.pushState({}, '', '/demo?step=2')")
        page.wait_for_timeout(300)
        page.goto(live_server.url + "/demo?page=3")
        chat = open_and_send(page, inbox, "Which grinder do you recommend?")
        conv = _conversation(inbox.id)
        name = anonymous_name(conv.contact_id)
        assert " " in name and "#" not in name

        panel = panel_context.new_page()
        _sign_in(panel, live_server.url, anna.email)
        panel.goto(f"{live_server.url}/app#c{conv.id}")
        wait_until(panel, "!!document.querySelector('#side .visit')")
        assert panel.inner_text("#conv-name") == name
        side = panel.inner_text("#side")
        assert name in side and "Visitor #" not in side
        assert "pages visited (3)" in side.lower() and "https://news.example/story" in side
        rows = panel.evaluate("Array.from(document.querySelectorAll('#side .visit li'), (li) => li.title)")
        assert [r.split("/demo")[-1] for r in rows] == ["?from=ad", "?step=2", "?page=3"]
        first = panel.inner_text("#side .visit li:first-child .muted")
        assert first.endswith(" s") and int(first.split()[0]) >= 1, first
        assert "here now" in panel.inner_text("#side .visit li:last-child")
        # The visitor moves on: the sidebar follows without a reload.
        page.evaluate("history.pushState({}, '', '/demo?checkout=1')")
        wait_until(panel, "document.querySelectorAll('#side .visit li').length === 4")
        panel.screenshot(path=str(artifacts / "panel-visit-sidebar.png"))
        _side_by_side(artifacts / "walkthrough-visitor-operator.png", page.screenshot(), panel.screenshot())
        assert chat.locator("#input").is_visible()
    finally:
        close_quietly(panel_context)
        visitor_context.close()


def test_the_visit_is_validated_field_by_field_and_stored_whole(client) -> None:  # type: ignore[no-untyped-def]
    from messenger.models import ContactSession
    from tests.test_widget_api import SITE
    from tests.test_widget_api import call
    from tests.test_widget_api import start

    inbox = make_inbox(origins=[SITE])
    session = start(client, inbox)
    at = 1_800_000_000_000
    visit = [{"url": f"{SITE}/", "title": "Home", "at": at, "s": 12, "ref": "https://news.example/a"},
             {"url": f"{SITE}/pricing", "title": "Pricing", "at": at + 12_000}]
    for bad, field in ((["x"], "pages[0]"), ([{"url": "javascript:alert(1)", "at": at}], "pages[0].url"),
                       ([{"url": f"{SITE}/", "at": "yesterday"}], "pages[0].at"),
                       ([{"url": f"{SITE}/", "at": at, "s": -1}], "pages[0].s"),
                       ([{"url": f"{SITE}/", "at": at}] * 21, "pages")):
        resp = call(client, "POST", "/page", session["token"], {"url": f"{SITE}/pricing", "pages": bad})
        assert resp.status_code == 422 and resp.get_json()["field"] == field, (bad, resp.get_json())
    db.session.expire_all()
    stored = db.session.scalar(sa.select(ContactSession).where(ContactSession.contact_id == session["contact"]["id"]))
    assert stored.pages == [] and stored.referrer is None, "a refused report writes nothing"
    resp = call(client, "POST", "/page", session["token"], {"url": f"{SITE}/pricing", "title": "Pricing",
                                                            "pages": visit})
    assert resp.status_code == 200, resp.get_json()
    db.session.expire_all()
    stored = db.session.get(ContactSession, stored.id)
    assert stored.referrer == "https://news.example/a" and stored.current_url == f"{SITE}/pricing"
    assert [(p["url"], p["seconds"], p["landing"]) for p in stored.pages] == [
        (f"{SITE}/", 12, True), (f"{SITE}/pricing", None, False)]
    assert stored.pages[0]["at"].startswith("2027-01-15T08:00:00")
