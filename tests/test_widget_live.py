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
from tests.test_attachments import PDF
from tests.test_attachments import _Source
from tests.test_widget_browser import frame_of
from tests.test_widget_browser import launcher_of
from tests.test_widget_browser import open_and_send


def _png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buf, "PNG")
    return buf.getvalue()


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
        for i in range(6):
            msg_service.send_operator_message(olga, conv.id, f"Let me check that for you, step {i}.", str(uuid.uuid4()))
        pdf = attachment_service.upload_by_operator(olga, conv.id, _Source("offer.pdf", PDF)).key
        photo = attachment_service.upload_by_operator(olga, conv.id, _Source("shelf.png", _png(640, 480))).key
        msg_service.send_operator_message(olga, conv.id, "Here it is", str(uuid.uuid4()), attachment_keys=[pdf, photo])
        bubble = chat.locator(".msg.them", has_text="Here it is")
        bubble.locator(".meta", has_text="Scanning").first.wait_for(timeout=15000)
        assert bubble.locator(".att").all_inner_texts()[:1] == ["offer.pdf"]
        redis = app.extensions["redis"]
        SimpleWorker([Queue("scanning", connection=redis)], connection=redis).work(burst=True)
        bubble.locator("a.att", has_text="offer.pdf").wait_for(timeout=15000)
        bubble.locator("a.att img").wait_for()
        chat.locator("a.att img").evaluate("(img) => img.complete || new Promise((r) => { img.onload = r; })")
        assert bubble.locator(".meta", has_text="Scanning").count() == 0

        # A reply after the picture: the list shows the end.
        msg_service.send_operator_message(olga, conv.id, "Anything else?", str(uuid.uuid4()))
        chat.locator(".msg.them", has_text="Anything else?").wait_for()
        page.wait_for_timeout(300)
        gap = chat.locator("#list").evaluate("(l) => l.scrollHeight - l.scrollTop - l.clientHeight")
        assert gap < 5, gap

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
