"""The widget's "Email me this conversation" in real Chromium, against a server with SMTP (aiosmtpd) configured."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from messenger.extensions import db
from messenger.models import Conversation
from messenger.services import conversations as conv_service
from tests.factories import make_inbox
from tests.factories import make_user
from tests.helpers import LiveServer
from tests.helpers import free_port
from tests.test_email import Sink
from tests.test_email import _parts
from tests.test_email import work
from tests.test_widget_browser import open_and_send

pytestmark = [pytest.mark.committing, pytest.mark.browser]


def test_visitor_emails_themselves_the_transcript(app, env_for_servers, browser, artifacts) -> None:
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    smtp = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(controller.port), "SMTP_STARTTLS": "false"}
    server = LiveServer(dict(env_for_servers, **smtp))
    saved = {k: app.config[k] for k in smtp}
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port, SMTP_STARTTLS=False)
    context = browser.new_context(locale="en-US", viewport={"width": 420, "height": 760})
    try:
        inbox = make_inbox(origins=[server.url], name="Shop")
        admin = make_user(role="admin", name="Olga")
        page = context.new_page()
        page.goto(server.url + "/demo")
        chat = open_and_send(page, inbox, "Can I change my order?")
        conv = db.session.scalar(sa.select(Conversation).where(Conversation.inbox_id == inbox.id))
        conv_service.change_status(admin, conv.id, "resolved")
        button = chat.locator("#panel form.transcript button", has_text="Email me this conversation")
        button.click()
        chat.locator("#panel form.transcript input[name=email]").fill("visitor@example.org")  # none on file yet
        button.click()
        chat.locator("#panel", has_text="Sent to visitor@example.org.").wait_for()
        page.screenshot(path=str(artifacts / "widget-transcript.png"))
        deadline = time.monotonic() + 10
        while not sink.messages and time.monotonic() < deadline:
            work(app)
            time.sleep(0.1)
        (sent,) = sink.messages
        assert sent["To"] == "visitor@example.org" and "Can I change my order?" in _parts(sent)[0]
    finally:
        context.close()
        app.config.update(saved)
        server.stop()
        controller.stop()
