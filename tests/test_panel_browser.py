"""The operator panel in real Chromium against a real gunicorn+gevent server."""
from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import CannedResponse
from messenger.models import Contact
from messenger.models import Conversation
from messenger.models import Label
from messenger.models import Message
from messenger.services import messages as msg_service
from messenger.services import visitors as visitor_service
from tests.factories import PASSWORD
from tests.factories import make_inbox
from tests.factories import make_user

pytestmark = [pytest.mark.committing, pytest.mark.browser]

FIRST_CARD_ID = """() => {
  const cards = Array.from(document.querySelectorAll('.card-c'));
  cards.sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top));
  return cards.length ? Number(cards[0].dataset.id) : null;
}"""


TOKENS: dict[int, str] = {}


def _visitor_conversation(inbox, name: str, email: str, text: str) -> int:  # type: ignore[no-untyped-def]
    visitor, token = visitor_service.start_session(inbox, ip="203.0.113.7",
                                                   user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/120")
    contact = db.session.get(Contact, visitor.contact_id)
    contact.name, contact.email = name, email
    db.session.commit()
    result = msg_service.send_visitor_message(visitor, None, text, str(uuid.uuid4()))
    TOKENS[result.message.conversation_id] = token
    return result.message.conversation_id


def widget_send(base: str, conversation_id: int, text: str) -> None:
    """The visitor writes through the public widget API, as the chat frame does."""
    body = json.dumps({"conversation_id": conversation_id, "content": text, "client_id": str(uuid.uuid4())})
    req = urllib.request.Request(base + "/widget/api/v1/messages", data=body.encode(), method="POST", headers={
        "Content-Type": "application/json", "X-Visitor-Token": TOKENS[conversation_id]})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 201


def wait_until(page, expression: str, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    """Poll a JS expression from Python (the panel's CSP forbids Playwright's eval-based waits)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        page.wait_for_timeout(50)


def close_quietly(context) -> None:  # type: ignore[no-untyped-def]
    """Leave the panel and let in-flight requests finish before the tables are truncated."""
    for page in context.pages:
        page.goto("about:blank")
    time.sleep(0.5)
    context.close()


def _sign_in(page, base: str, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#panel[data-ready='1']", timeout=15000)


@pytest.fixture
def team_setup(app):  # type: ignore[no-untyped-def]
    inbox = make_inbox(name="Website")
    me = make_user(name="Anna Operator", email=f"anna-{uuid.uuid4().hex[:6]}@example.com", inboxes=[inbox])
    colleague = make_user(name="Ben Colleague", inboxes=[inbox])
    db.session.add_all([CannedResponse(short_code="hello", content="Hello! Thanks for reaching out. How can I help?"),
                        CannedResponse(short_code="refund", content="Refunds reach your card within 5 working days."),
                        Label(name="billing", color="#d64f6a"), Label(name="vip", color="#6571d8")])
    db.session.commit()
    convs = [
        _visitor_conversation(inbox, "Grace Hopper", "grace@example.org",
                              "Hi, my invoice for March shows the wrong VAT."),
        _visitor_conversation(inbox, "Linus Berg", "linus@example.org", "Can I export my data as CSV?"),
        _visitor_conversation(inbox, "Ada Lovelace", "ada@example.org", "The checkout page keeps failing <b>ugh</b>"),
    ]
    return {"inbox": inbox, "me": me, "colleague": colleague, "convs": convs}


def test_panel_live_reply_resolve_draft_canned(live_server, browser, artifacts, team_setup):
    grace, linus, ada = team_setup["convs"]
    me = team_setup["me"]
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        _sign_in(page, live_server.url, me.email)
        page.click("[data-tab=all]")
        wait_until(page, "document.querySelectorAll('.card-c').length === 3")
        assert page.evaluate(FIRST_CARD_ID) == ada
        # Visitor text is text: markup in a message is shown, never parsed (cases 6-8 in docs/security.md).
        assert "<b>ugh</b>" in page.inner_text(f".card-c[data-id='{ada}'] .c-preview")
        assert page.evaluate("document.querySelectorAll('#list-scroll b').length") == 0
        wait_until(page, "document.querySelector('[data-count=all]').textContent === '3'")

        # A visitor writes in the oldest conversation: it moves to the top, live.
        page.click(f".card-c[data-id='{linus}']")
        page.wait_for_selector(".msg.incoming >> text=export my data")
        widget_send(live_server.url, grace, "Any news about the invoice?")
        wait_until(page, f"({FIRST_CARD_ID})() === {grace}")
        page.wait_for_selector(f".card-c[data-id='{grace}'] .c-unread")

        # Reply from the composer with Enter.
        page.click(f".card-c[data-id='{grace}']")
        page.wait_for_selector(".msg.incoming >> text=Any news about the invoice?")
        page.fill("#composer-input", "We are fixing the VAT line today.")
        page.press("#composer-input", "Enter")
        page.wait_for_selector(".msg.outgoing:not(.pending) >> text=We are fixing the VAT line today.")
        db.session.expire_all()
        assert db.session.scalar(sa.select(Message.content).where(
            Message.conversation_id == grace, Message.type == "outgoing")) == "We are fixing the VAT line today."

        # A private note looks different and never reaches the visitor.
        page.click(".mode [data-mode=note]")
        page.fill("#composer-input", "Finance confirmed the VAT fix ships tonight.")
        page.press("#composer-input", "Enter")
        page.wait_for_selector(".msg.note:not(.pending) >> text=Finance confirmed")
        page.click(".mode [data-mode=reply]")
        db.session.expire_all()
        assert db.session.scalar(sa.select(Message.type).where(
            Message.conversation_id == grace, Message.content.like("Finance confirmed%"))) == "note"

        # An attachment by the file button, with progress, sent with the reply.
        page.set_input_files("#attach-input", files=[{"name": "steps.txt", "mimeType": "text/plain",
                                                      "buffer": b"1. open settings\n2. click export\n"}])
        page.wait_for_selector("#uploads .upload.done")
        page.fill("#composer-input", "Here are the steps")
        page.press("#composer-input", "Enter")
        page.wait_for_selector(".msg.outgoing:not(.pending) .att >> text=steps.txt")

        # Canned response with "/" and keyboard selection.
        page.fill("#composer-input", "")
        page.type("#composer-input", "/ref")
        page.wait_for_selector("#canned:not([hidden]) .canned-item.active >> text=/refund")
        page.press("#composer-input", "Enter")
        assert page.input_value("#composer-input") == "Refunds reach your card within 5 working days."

        # The draft survives a reload.
        page.fill("#composer-input", "Draft: checking with finance")
        page.wait_for_timeout(600)
        page.reload()
        page.wait_for_selector("#panel[data-ready='1']")
        page.wait_for_selector(".msg.outgoing >> text=We are fixing the VAT line today.")
        assert page.input_value("#composer-input") == "Draft: checking with finance"

        page.click("#composer-input")
        page.keyboard.press("Escape")
        page.wait_for_timeout(200)
        page.screenshot(path=str(artifacts / "panel-conversation.png"))

        # Search overlay.
        page.keyboard.press("/")
        page.fill("#search-input", "invoice")
        page.wait_for_selector(".sr mark")
        page.screenshot(path=str(artifacts / "panel-search.png"))
        # A result links to its message: the conversation opens and the message is highlighted.
        page.click(".sr >> text=for March")
        page.wait_for_selector(".msg.flash >> text=my invoice for March")

        # Help overlay.
        page.keyboard.press("?")
        page.wait_for_selector("#help-overlay:not([hidden])")
        page.screenshot(path=str(artifacts / "panel-help.png"))
        page.keyboard.press("Escape")

        # Assign to me with the keyboard shortcut.
        page.keyboard.press("a")
        wait_until(page, f"document.querySelector('#act-assign').value === 'user:{me.id}'")
        db.session.expire_all()
        assert db.session.get(Conversation, grace).assignee_id == me.id

        # Resolve with the keyboard shortcut.
        page.keyboard.press("e")
        page.wait_for_selector("#act-status >> text=Reopen")
        db.session.expire_all()
        assert db.session.get(Conversation, grace).status == "resolved"
        # The header answers at once; the list drops the card at its next frame (Open tab).
        page.wait_for_selector(f".card-c[data-id='{grace}']", state="detached")

        # J / K and Alt+Down / Alt+Up move through the list.
        page.keyboard.press("j")
        wait_until(page, f"location.hash === '#c{ada}'")
        page.keyboard.press("Alt+ArrowDown")
        wait_until(page, f"location.hash === '#c{linus}'")
        page.keyboard.press("k")
        wait_until(page, f"location.hash === '#c{ada}'")
        page.wait_for_selector("#conv-name >> text=Ada Lovelace")

        # The emoji picker inserts at the caret.
        page.click("#emoji-btn")
        page.click("#emoji button >> nth=0")
        assert page.input_value("#composer-input") == "😀"
        page.fill("#composer-input", "")

        # Narrow screens show one column at a time.
        page.set_viewport_size({"width": 700, "height": 900})
        assert not page.is_visible("#col-list") and page.is_visible("#back-to-list")
        page.click("#back-to-list")
        assert page.is_visible("#col-list") and not page.is_visible("#col-conv")
        page.click(f".card-c[data-id='{ada}']")
        page.wait_for_selector(".msg.incoming >> text=checkout page")
        assert not page.is_visible("#col-list")
        page.screenshot(path=str(artifacts / "panel-narrow.png"))
        page.click("#toggle-details")
        page.wait_for_selector("#side h2 >> text=Ada Lovelace")
        page.screenshot(path=str(artifacts / "panel-narrow-details.png"))
        page.click("#close-details")
        assert not page.is_visible("#col-side")
        assert not errors, errors
    finally:
        close_quietly(context)


@contextmanager
def conversation_page(browser, live_server, user, conversation_id: int) -> Iterator[Any]:  # type: ignore
    """A signed-in panel with one conversation open; the browser context closes afterwards."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        _sign_in(page, live_server.url, user.email)
        page.goto(f"{live_server.url}/app#c{conversation_id}")
        page.wait_for_selector(".msg.incoming")
        yield page
    finally:
        close_quietly(context)


def test_colleague_resolves_while_i_type_then_reopen_and_send(live_server, browser, team_setup):
    grace = team_setup["convs"][0]
    with conversation_page(browser, live_server, team_setup["me"], grace) as page:
        page.fill("#composer-input", "Here is the corrected invoice")
        from messenger.services import conversations as conv_service
        from messenger.services import typing as typing_service

        # Typing is ephemeral (no replay): like a real composer, repeat it while "typing".
        banner = f"#collision >> text={team_setup['colleague'].name} is typing"
        for _ in range(8):
            typing_service.operator_typing(team_setup["colleague"], grace, True)
            page.wait_for_timeout(2100)  # past the typing service's throttle window
            if page.locator(banner).count():
                break
        page.wait_for_selector(banner)

        conv_service.change_status(team_setup["colleague"], grace, "resolved")
        page.wait_for_selector("#act-status >> text=Reopen", timeout=15000)  # live: they see it resolved
        page.press("#composer-input", "Enter")
        page.wait_for_selector("#conv-notice.danger >> text=resolved while you were typing")
        page.click("#conv-notice >> text=Reopen and send")
        page.wait_for_selector(".msg.outgoing:not(.pending) >> text=Here is the corrected invoice")
        page.wait_for_selector("#act-status >> text=Resolve")
        db.session.expire_all()
        assert db.session.get(Conversation, grace).status == "open"


def test_reply_to_a_conversation_a_colleague_just_took_is_sent_with_a_warning(live_server, browser, team_setup):
    grace = team_setup["convs"][0]
    colleague = team_setup["colleague"]
    with conversation_page(browser, live_server, team_setup["me"], grace) as page:
        from messenger.services import conversations as conv_service

        conv = db.session.get(Conversation, grace)
        conv.assignee_id = colleague.id
        conv_service.bump(conv)
        db.session.commit()
        page.wait_for_selector(f"#conv-notice >> text={colleague.name} is handling this conversation")
        page.fill("#composer-input", "Adding one detail for you")
        page.press("#composer-input", "Enter")
        page.wait_for_selector(".msg.outgoing:not(.pending) >> text=Adding one detail for you")
        db.session.expire_all()
        assert db.session.get(Conversation, grace).assignee_id == colleague.id


def test_stale_version_updates_the_ui(live_server, browser, team_setup):
    grace = team_setup["convs"][0]
    with conversation_page(browser, live_server, team_setup["me"], grace) as page:
        from messenger.services import conversations as conv_service

        conv_service.set_priority(team_setup["colleague"], grace, "urgent")
        wait_until(page, "document.querySelector('#act-priority').value === '4'")

        # My click races the colleague's change: the request carries the version I saw before it.
        def stale(route):  # type: ignore[no-untyped-def]
            body = json.loads(route.request.post_data or "{}")
            body["version"] -= 1
            route.continue_(post_data=json.dumps(body))

        page.route("**/api/v1/conversations/*/status", stale)
        page.evaluate("document.querySelector('#act-priority').value = '0'")
        page.click("#act-status")
        page.wait_for_selector("#toast >> text=changed this conversation")
        wait_until(page, "document.querySelector('#act-priority').value === '4'")
        db.session.expire_all()
        assert db.session.get(Conversation, grace).status == "open"


def test_ten_thousand_conversations_scroll_with_bounded_dom(live_server, browser, artifacts):
    from messenger.seeding import seed

    inbox = make_inbox(name="Scale")
    me = make_user(name="Scale Operator", inboxes=[inbox])
    seed(10_000, 0, inbox_ids=[inbox.id], operator_ids=[me.id])
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Conversation).where(
        Conversation.inbox_id == inbox.id, Conversation.status == "open"))
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        _sign_in(page, live_server.url, me.email)
        page.click("[data-tab=all]")
        page.wait_for_selector(".card-c")
        most = 0
        started = time.monotonic()
        while time.monotonic() - started < 240:
            page.evaluate("() => { const s = document.querySelector('#list-scroll'); s.scrollTop = s.scrollHeight; }")
            page.wait_for_timeout(60)
            most = max(most, page.evaluate("document.querySelectorAll('.card-c').length"))
            if page.evaluate("document.querySelector('#list-foot').textContent") == f"{total} conversations":
                break
        assert page.evaluate("document.querySelector('#list-foot').textContent") == f"{total} conversations"
        assert total > 5000
        assert most <= 40, most
        ids = page.evaluate("Array.from(document.querySelectorAll('.card-c'), c => Number(c.dataset.id))")
        assert len(ids) == len(set(ids))
        page.screenshot(path=str(artifacts / "panel-10k-end.png"))
    finally:
        close_quietly(context)


def test_title_unread_count_contact_edit_shared_drafts_and_availability(live_server, browser, team_setup):
    grace, _, ada = team_setup["convs"]
    with conversation_page(browser, live_server, team_setup["me"], grace) as page:
        # The title counts what needs me: the three chats nobody took yet...
        wait_until(page, "document.title === '(3) Messenger'")
        from messenger.services import conversations as conv_service

        conv = db.session.get(Conversation, ada)
        conv.assignee_id = team_setup["me"].id
        conv_service.bump(conv)
        db.session.commit()
        wait_until(page, "document.querySelector('[data-count=mine]').textContent === '1'")
        wait_until(page, "document.querySelector('[data-count=waiting]').textContent === '2'")
        # ... then two waiting + my one conversation with an unread message; a resolved one drops out.
        conv_service.change_status(team_setup["colleague"], team_setup["convs"][1], "resolved")
        wait_until(page, "document.title === '(2) Messenger'")

        # Editing the contact from the sidebar updates the header and the card.
        page.click("#side >> text=Edit contact")
        page.fill("#side input[name=name]", "Grace B. Hopper")
        page.fill("#side input[name=phone]", "+1 202 555 0147")
        page.click("#side >> text=Save")
        page.wait_for_selector("#side h2 >> text=Grace B. Hopper")
        page.wait_for_selector("#side >> text=+1 202 555 0147")
        contact = db.session.get(Contact, db.session.get(Conversation, grace).contact_id)
        db.session.refresh(contact)
        assert contact.name == "Grace B. Hopper"

        # Drafts are shared across tabs of the same browser.
        other = page.context.new_page()
        other.goto(f"{live_server.url}/app#c{grace}")
        other.wait_for_selector(".msg.incoming")
        page.fill("#composer-input", "Half-written answer")
        wait_until(other, "document.querySelector('#composer-input').value === 'Half-written answer'")
        other.close()

        # The availability switch.
        page.select_option("#availability", "busy")
        wait_until(page, "document.querySelector('#avail-dot').className === 'dot busy'")
        from messenger.models import User

        db.session.expire_all()
        assert db.session.get(User, team_setup["me"].id).availability == "busy"


def test_scroll_up_loads_older_messages_and_columns_resize(live_server, browser, team_setup):
    grace = team_setup["convs"][0]
    conv = db.session.get(Conversation, grace)
    db.session.execute(sa.insert(Message), [
        {"conversation_id": grace, "type": "incoming", "sender_contact_id": conv.contact_id,
         "content": f"older line {i}"} for i in range(120)])
    db.session.commit()
    with conversation_page(browser, live_server, team_setup["me"], grace) as page:
        wait_until(page, "document.querySelectorAll('#messages .msg').length === 50")
        counts = []
        for _ in range(40):  # the operator keeps scrolling up: older pages load (50 at a time)
            page.evaluate("document.querySelector('#messages').scrollTop = 0")
            page.wait_for_timeout(250)
            counts.append(page.evaluate("document.querySelectorAll('#messages .msg').length"))
            if counts[-1] == 121:
                break
        assert counts[-1] == 121, counts
        page.wait_for_selector(".msg >> text=Hi, my invoice for March")
        assert page.locator("#messages .load-older").count() == 0, page.inner_text("#messages .load-older")

        before = page.evaluate("document.querySelector('#col-list').getBoundingClientRect().width")
        box = page.locator(".resizer[data-resize=list]").bounding_box()
        page.mouse.move(box["x"] + 2, box["y"] + 200)
        page.mouse.down()
        page.mouse.move(box["x"] + 120, box["y"] + 200, steps=5)
        page.mouse.up()
        after = page.evaluate("document.querySelector('#col-list').getBoundingClientRect().width")
        assert after > before + 80
