"""The operator's first hour, in real Chromium against the live gunicorn server (issue: panel).

Each test fails without its fix: the Waiting tab with counts, title and notification; the
Offline prompt and the remembered choice; visitor attachments rendered live from the
events; readable contact attributes and pre-chat answers; the CSAT rating; edit and delete
of my own messages, live in a colleague's panel; the panel in Russian.
"""
from __future__ import annotations

import io
import json
import urllib.request
import uuid

import pytest
import sqlalchemy as sa
from PIL import Image
from rq import Queue
from rq import SimpleWorker

from messenger.extensions import db
from messenger.models import Contact
from messenger.models import Conversation
from messenger.models import Message
from messenger.models import User
from messenger.services import conversations as conv_service
from messenger.services import messages as msg_service
from messenger.services import visitors as visitor_service
from tests.factories import make_inbox
from tests.factories import make_user
from tests.test_panel_browser import TOKENS
from tests.test_panel_browser import _sign_in
from tests.test_panel_browser import _visitor_conversation
from tests.test_panel_browser import close_quietly
from tests.test_panel_browser import wait_until

pytestmark = [pytest.mark.committing, pytest.mark.browser]

# The operator is in another window: the panel must raise a browser notification. The spy
# records what the panel asked the browser to show.
NOTIFICATION_SPY = """
Object.defineProperty(document, 'hasFocus', {value: () => false});
window.__notes = [];
window.Notification = class { constructor(title, opts) { window.__notes.push({title, body: opts && opts.body}); }
  close() {} static requestPermission() { return Promise.resolve('granted'); } };
window.Notification.permission = 'granted';
"""


def _widget(base: str, path: str, token: str | None, body: dict | None = None, method: str = "POST"):  # type: ignore
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", "Origin": base}
    if token:
        headers["X-Visitor-Token"] = token
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read() or b"null")


def _upload(base: str, conversation_id: int, token: str, name: str, mime: str, payload: bytes) -> str:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: {mime}\r\n\r\n").encode() + payload + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(f"{base}/widget/api/v1/conversations/{conversation_id}/attachments", data=body,
                                 method="POST", headers={"Content-Type": f"multipart/form-data; boundary={boundary}",
                                                         "X-Visitor-Token": token, "Origin": base})
    with urllib.request.urlopen(req, timeout=20) as resp:
        return str(json.loads(resp.read())["id"])


def _panel(browser, *, locale: str = "en-US", width: int = 1366, spy: bool = False):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": width, "height": 860}, locale=locale)
    page = context.new_page()
    if spy:
        page.add_init_script(NOTIFICATION_SPY)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


def test_a_fresh_operator_sees_every_waiting_chat_and_is_told_they_are_offline(live_server, browser, artifacts):
    inbox = make_inbox(name="Website", origins=[live_server.url])
    me = make_user(name="Olga Fresh", inboxes=[inbox], availability="offline")
    queued = _visitor_conversation(inbox, "Queued Quinn", "quinn@example.org", "Is anyone there?")
    conv = db.session.get(Conversation, queued)
    conv.status = "pending"  # what the router does when nobody is online
    conv_service.bump(conv)
    db.session.commit()
    context, page, errors = _panel(browser, spy=True)
    try:
        _sign_in(page, live_server.url, me.email)
        # The default view is Waiting: the pending chat is there, counted, in the title.
        wait_until(page, "document.querySelector('[data-tab=waiting]').classList.contains('active')")
        page.wait_for_selector(f".card-c[data-id='{queued}']")
        wait_until(page, "document.querySelector('[data-count=waiting]').textContent === '1'")
        wait_until(page, "document.title === '(1) Messenger'")
        # Offline is said plainly, with what going online does.
        assert page.is_visible("#offline-banner")
        assert "not routed to you" in page.inner_text("#offline-banner")
        page.screenshot(path=str(artifacts / "panel-waiting-offline-en.png"))

        # A visitor writes: the new chat appears live, counted, with a browser notification.
        visitor, token = visitor_service.start_session(inbox, ip="203.0.113.9", user_agent="Mozilla/5.0 Chrome/120")
        contact = db.session.get(Contact, visitor.contact_id)
        contact.name = "New Nina"
        db.session.commit()
        sent = _widget(live_server.url, "/widget/api/v1/messages", token,
                       {"content": "Hello, I need help with my order", "client_id": str(uuid.uuid4())})
        new_id = sent["message"]["conversation_id"]
        page.wait_for_selector(f".card-c[data-id='{new_id}']")
        wait_until(page, "document.querySelector('[data-count=waiting]').textContent === '2'")
        wait_until(page, "document.title === '(2) Messenger'")
        wait_until(page, "window.__notes.some((n) => n.title === 'New conversation waiting' && n.body === 'New Nina')")

        # Going online from the prompt: routed from now on, and remembered.
        page.click("#go-online")
        wait_until(page, "document.querySelector('#offline-banner').hidden")
        db.session.expire_all()
        user = db.session.get(User, me.id)
        assert (user.availability, user.availability_choice) == ("online", "online")
        # Streams gone for a while: the presence sweep turns them offline; the next visit restores online.
        user.availability = "offline"
        db.session.commit()
        page.reload()
        page.wait_for_selector("#panel[data-ready='1']")
        page.wait_for_selector("#toast >> text=You are online again")
        wait_until(page, "document.querySelector('#availability').value === 'online'")
        db.session.expire_all()
        assert db.session.get(User, me.id).availability == "online"
        assert page.is_hidden("#offline-banner")
        assert not errors, errors
    finally:
        close_quietly(context)


def test_staying_offline_is_remembered_and_stays_visible(live_server, browser):
    inbox = make_inbox(name="Website")
    me = make_user(name="Stay Offline", inboxes=[inbox], availability="offline")
    context, page, errors = _panel(browser)
    try:
        _sign_in(page, live_server.url, me.email)
        page.click("#stay-offline")
        wait_until(page, "document.querySelector('#offline-banner').classList.contains('compact')")
        db.session.expire_all()
        assert db.session.get(User, me.id).availability_choice == "offline"
        page.reload()
        page.wait_for_selector("#panel[data-ready='1']")
        # Still clearly offline (compact banner, red select), never switched on behind their back.
        assert page.is_visible("#offline-banner.compact") and page.is_visible("#go-online")
        assert page.is_hidden("#stay-offline")
        assert page.evaluate("document.querySelector('.pbar-avail').classList.contains('is-offline')")
        db.session.expire_all()
        assert db.session.get(User, me.id).availability == "offline"
        assert not errors, errors
    finally:
        close_quietly(context)


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (480, 320), (200, 80, 40)).save(buf, "PNG")
    return buf.getvalue()


PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj "
       b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


def test_visitor_attachments_render_live_from_scanning_to_preview_and_download(live_server, browser, app,
                                                                               artifacts):
    inbox = make_inbox(name="Shop", origins=[live_server.url])
    me = make_user(name="Live Files", inboxes=[inbox])
    conv_id = _visitor_conversation(inbox, "Pia Photo", "pia@example.org", "I will send a photo and the invoice")
    for i in range(14):  # enough to overflow the list before the picture arrives
        msg_service.send_operator_message(me, conv_id, f"Noted, step {i}.", str(uuid.uuid4()))
    context, page, errors = _panel(browser)
    try:
        _sign_in(page, live_server.url, me.email)
        page.goto(f"{live_server.url}/app#c{conv_id}")
        page.wait_for_selector(".msg.incoming >> text=send a photo")
        token = TOKENS[conv_id]
        keys = [_upload(live_server.url, conv_id, token, "broken-part.png", "image/png", _png()),
                _upload(live_server.url, conv_id, token, "invoice.pdf", "application/pdf", PDF)]
        _widget(live_server.url, "/widget/api/v1/messages", token,
                {"conversation_id": conv_id, "content": "", "client_id": str(uuid.uuid4()), "attachments": keys})
        # No empty bubble: both files show, scanning, from the live events alone.
        page.wait_for_selector(".msg .att >> text=broken-part.png: Scanning…")
        page.wait_for_selector(".msg .att >> text=invoice.pdf: Scanning…")
        # The picture's first download fails (a network blip): the next redraw fetches it again.
        failed: list[str] = []
        page.route("**/thumb", lambda route: (failed.append(route.request.url), route.abort())
                   if not failed else route.continue_())
        redis = app.extensions["redis"]
        SimpleWorker([Queue("scanning", connection=redis)], connection=redis).work(burst=True)
        wait_until(page, "(() => { const i = document.querySelector('.msg .att.img img');"
                         " return !!i && i.complete; })()", timeout=30)
        assert failed
        msg_service.send_operator_message(me, conv_id, "One moment.", str(uuid.uuid4()))
        page.wait_for_selector(".msg >> text=One moment.")
        wait_until(page, "(() => { const i = document.querySelector('.msg .att.img img');"
                         " return !!i && i.complete && i.naturalWidth > 0; })()", timeout=30)
        assert len(failed) == 1
        page.wait_for_selector(".msg a.att[href*='/api/v1/attachments/'] >> text=invoice.pdf")
        assert page.locator(".msg.incoming .bubble:empty").count() == 0
        # The picture grew the list after it was drawn: the end is still in view.
        gap = ("(() => { const b = document.querySelector('#messages');"
               " return b.scrollHeight - b.scrollTop - b.clientHeight; })()")
        wait_until(page, f"{gap} < 5")
        # A reply redraws the list: the picture is the same element (not reloaded), the end in view.
        page.evaluate("document.querySelector('.msg .att.img img').dataset.shown = 'yes'")
        msg_service.send_operator_message(me, conv_id, "Thanks, got both.", str(uuid.uuid4()))
        page.wait_for_selector(".msg >> text=Thanks, got both.")
        page.wait_for_timeout(300)
        assert page.evaluate(gap) < 5
        assert page.locator(".msg .att.img img[data-shown=yes]").count() == 1
        # The contact's conversations in the sidebar follow live: the last message, then the status.
        page.wait_for_selector("#side a.prev >> text=Thanks, got both.")
        conv_service.change_status(me, conv_id, "resolved")
        page.wait_for_selector("#side a.prev >> text=Resolved")
        # Opening the conversation afresh shows its end once the picture has loaded.
        page.reload()
        page.wait_for_selector(".msg >> text=Thanks, got both.")
        wait_until(page, "(() => { const i = document.querySelector('.msg .att.img img');"
                         " return !!i && i.complete && i.naturalWidth > 0; })()")
        wait_until(page, f"{gap} < 5")
        page.screenshot(path=str(artifacts / "panel-attachments-live.png"))
        assert not errors, errors
    finally:
        close_quietly(context)


def test_contact_attributes_and_prechat_answers_read_as_rows(live_server, browser, artifacts):
    fields = [{"name": "name", "label": "Your name", "type": "text", "required": True},
              {"name": "order_number", "label": "Order number", "type": "text", "required": True},
              {"name": "newsletter", "label": "Send me news", "type": "checkbox", "required": False}]
    inbox = make_inbox(name="Prechat", origins=[live_server.url], prechat_enabled=True, prechat_fields=fields)
    me = make_user(name="Attr Reader", inboxes=[inbox])
    session = _widget(live_server.url, "/widget/api/v1/session", None, {"inbox": inbox.website_token})
    token = session["token"]
    answer = _widget(live_server.url, "/widget/api/v1/prechat", token, {
        "fields": {"name": "Rita Rows", "order_number": "A-1042", "newsletter": True},
        "message": "Where is my parcel?", "client_id": str(uuid.uuid4())})
    conv_id = answer["conversation"]["id"]
    contact = db.session.get(Contact, db.session.get(Conversation, conv_id).contact_id)
    contact.custom_attributes = dict(contact.custom_attributes, plan={"tier": "pro", "seats": 5}, vip=False)
    db.session.commit()
    context, page, errors = _panel(browser)
    try:
        _sign_in(page, live_server.url, me.email)
        page.goto(f"{live_server.url}/app#c{conv_id}")
        page.wait_for_selector(".msg.incoming >> text=Where is my parcel?")
        # The answers are the first lines of the conversation, with the form's labels.
        assert page.evaluate("document.querySelector('#messages > :first-child .box-title').textContent") == \
            "Pre-chat form"
        rows = page.evaluate("Array.from(document.querySelectorAll('.prechat-box dt'), (dt) => "
                             "dt.textContent + ': ' + dt.nextElementSibling.textContent)")
        assert rows == ["Your name: Rita Rows", "Order number: A-1042", "Send me news: Yes"]
        # The sidebar shows readable rows, never "[object HTMLElement]".
        page.wait_for_selector("#side .attrs dt >> text=Order number")
        side = page.inner_text("#side")
        assert "[object" not in side, side
        attrs = page.evaluate("Array.from(document.querySelectorAll('#side .attrs dt'), (dt) => "
                              "dt.textContent + ': ' + dt.nextElementSibling.textContent)")
        assert "Order number: A-1042" in attrs and "Send me news: Yes" in attrs and "Vip: No" in attrs
        plan = next(row for row in attrs if row.startswith("Plan: "))
        assert "tier: pro" in plan and "seats: 5" in plan
        page.screenshot(path=str(artifacts / "panel-prechat-attributes.png"))
        assert not errors, errors
    finally:
        close_quietly(context)


def test_csat_rating_and_comment_show_in_the_conversation_live(live_server, browser, artifacts):
    inbox = make_inbox(name="Rated", origins=[live_server.url])
    me = make_user(name="Rated Operator", inboxes=[inbox])
    conv_id = _visitor_conversation(inbox, "Carla Csat", "carla@example.org", "Thanks for the help!")
    conv_service.change_status(me, conv_id, "resolved")
    context, page, errors = _panel(browser)
    try:
        _sign_in(page, live_server.url, me.email)
        page.goto(f"{live_server.url}/app#c{conv_id}")
        page.wait_for_selector(".msg.incoming >> text=Thanks for the help!")
        assert page.locator(".csat-box").count() == 0
        _widget(live_server.url, f"/widget/api/v1/conversations/{conv_id}/csat", TOKENS[conv_id],
                {"rating": 4, "comment": "Quick and kind <b>thanks</b>"})
        page.wait_for_selector(".csat-box >> text=4 of 5")
        assert page.inner_text(".csat-box .stars").startswith("★★★★☆")
        assert page.inner_text(".csat-box .csat-comment") == "Quick and kind <b>thanks</b>"  # text, never markup
        page.reload()
        page.wait_for_selector(".csat-box >> text=Quick and kind")
        page.screenshot(path=str(artifacts / "panel-csat.png"))
        assert not errors, errors
    finally:
        close_quietly(context)


def test_edit_and_delete_my_reply_live_in_a_colleagues_panel(live_server, browser, artifacts):
    inbox = make_inbox(name="Edits")
    me = make_user(name="Eda Editor", inboxes=[inbox])
    colleague = make_user(name="Carl Colleague", inboxes=[inbox])
    conv_id = _visitor_conversation(inbox, "Vera Visitor", "vera@example.org", "When do you open?")
    theirs = msg_service.send_operator_message(colleague, conv_id, "Hi, Carl here", str(uuid.uuid4())).message
    context, page, errors = _panel(browser)
    other_ctx, other, other_errors = _panel(browser)
    try:
        _sign_in(page, live_server.url, me.email)
        page.goto(f"{live_server.url}/app#c{conv_id}")
        _sign_in(other, live_server.url, colleague.email)
        other.goto(f"{live_server.url}/app#c{conv_id}")
        page.fill("#composer-input", "We open at 9 on weekdys")
        page.press("#composer-input", "Enter")
        mine = page.locator(".msg.outgoing:not(.pending)", has_text="weekdys")
        mine.wait_for()
        other.wait_for_selector(".msg.outgoing >> text=We open at 9 on weekdys")
        # Only my own message offers Edit / Delete.
        assert page.locator(f".msg[data-mid='{theirs.id}'] .msg-actions").count() == 0
        mine.hover()
        mine.locator("button >> text=Edit").click()
        page.fill(".edit-box textarea", "We open at 9 on weekdays")
        page.press(".edit-box textarea", "Enter")
        page.wait_for_selector(".msg.outgoing .bubble >> text=We open at 9 on weekdays")
        page.wait_for_selector(".msg.outgoing .edited")
        other.wait_for_selector(".msg.outgoing .bubble >> text=We open at 9 on weekdays")
        other.wait_for_selector(".msg.outgoing .edited")
        db.session.expire_all()
        stored = db.session.scalar(sa.select(Message).where(Message.content.like("We open at 9%")))
        assert stored.content == "We open at 9 on weekdays" and stored.edited_at is not None
        page.screenshot(path=str(artifacts / "panel-edited.png"))
        # Delete, confirmed inline: both panels show "This message was deleted." live.
        mine = page.locator(f".msg[data-mid='{stored.id}']")
        mine.hover()
        mine.locator("button >> text=Delete").click()
        page.click(".edit-box .danger-btn")
        page.wait_for_selector(f".msg[data-mid='{stored.id}'] >> text=This message was deleted.")
        other.wait_for_selector(f".msg[data-mid='{stored.id}'] >> text=This message was deleted.")
        assert "weekdays" not in other.inner_text("#messages")
        db.session.expire_all()
        assert db.session.get(Message, stored.id).deleted_at is not None
        assert not errors and not other_errors, errors + other_errors
    finally:
        close_quietly(other_ctx)
        close_quietly(context)


def test_the_panel_speaks_russian_from_the_browser_and_remembers_english(live_server, browser, artifacts):
    inbox = make_inbox(name="Сайт")
    me = make_user(name="Ирина Оператор", inboxes=[inbox], availability="offline")
    conv_id = _visitor_conversation(inbox, "Пётр Покупатель", "petr@example.org", "Здравствуйте! Где мой заказ?")
    conv_service.change_status(me, conv_id, "pending")
    context, page, errors = _panel(browser, locale="ru-RU")
    try:
        _sign_in(page, live_server.url, me.email)
        wait_until(page, "document.documentElement.lang === 'ru'")
        assert page.inner_text("[data-tab=waiting]").startswith("Ожидают")
        assert "Вы не в сети." in page.inner_text("#offline-banner")
        page.click(f".card-c[data-id='{conv_id}']")
        page.wait_for_selector(".msg.incoming >> text=Где мой заказ?")
        page.wait_for_selector("#messages .day >> text=Сегодня")
        assert page.inner_text("#act-status") == "Решить"
        # Activity lines come from their data, in the reader's language.
        page.wait_for_selector(".activity >> text=Ирина Оператор: диалог переведён в ожидание")
        wait_until(page, "document.querySelector('[data-count=waiting]').textContent === '1'")
        # Every tab with its count fits the list column: none hides off to the side.
        assert page.evaluate("(t => t.scrollWidth <= t.clientWidth)(document.querySelector('#tabs'))"), \
            page.evaluate("(t => [t.scrollWidth, t.clientWidth])(document.querySelector('#tabs'))")
        page.screenshot(path=str(artifacts / "panel-ru.png"))
        page.set_viewport_size({"width": 375, "height": 760})
        page.wait_for_timeout(200)
        page.screenshot(path=str(artifacts / "panel-ru-375.png"))
        page.click("#back-to-list")
        page.screenshot(path=str(artifacts / "panel-ru-375-list.png"))
        page.set_viewport_size({"width": 1366, "height": 860})
        # The operator picks English: saved on the server, kept on the next visit.
        page.click("#open-settings")
        with page.expect_navigation():  # the panel reloads in the new language
            page.select_option("#set-lang", "en")
        page.wait_for_selector("#panel[data-ready='1']")
        wait_until(page, "document.documentElement.lang === 'en'")
        assert page.inner_text("[data-tab=waiting]").startswith("Waiting")
        db.session.expire_all()
        assert db.session.get(User, me.id).locale == "en"
        page.click(f".card-c[data-id='{conv_id}']")
        page.wait_for_selector(".activity >> text=Ирина Оператор marked the conversation as pending")
        page.screenshot(path=str(artifacts / "panel-en.png"))
        page.set_viewport_size({"width": 375, "height": 760})
        page.wait_for_timeout(200)
        page.screenshot(path=str(artifacts / "panel-en-375.png"))
        assert not errors, errors
    finally:
        close_quietly(context)


def _side_by_side(path, *shots: bytes) -> None:  # type: ignore[no-untyped-def]
    """One PNG with the screenshots next to each other (visitor left, operator right)."""
    images = [Image.open(io.BytesIO(s)) for s in shots]
    out = Image.new("RGB", (sum(i.width for i in images) + 16 * (len(images) - 1), max(i.height for i in images)),
                    (60, 60, 60))
    x = 0
    for img in images:
        out.paste(img, (x, 0))
        x += img.width + 16
    out.save(path)


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_walkthrough_visitor_and_operator_side_by_side(live_server, browser, artifacts, lang):
    from tests.test_widget_browser import frame_of
    from tests.test_widget_browser import launcher_of

    words = {"en": ("Hello, my order 1042 is late", "Sorry about that, checking now", "Found it: it ships today",
                    "Waiting", "took the conversation"),
             "ru": ("Здравствуйте, заказ 1042 опаздывает", "Извините, сейчас проверю", "Нашла: отправим сегодня",
                    "Ожидают", "диалог взят в работу")}[lang]
    hello, reply, edited, waiting_tab, took = words
    inbox = make_inbox(name="Shop" if lang == "en" else "Магазин", origins=[live_server.url])
    me = make_user(name="Anna Agent" if lang == "en" else "Анна Оператор", inboxes=[inbox])
    locale = "en-US" if lang == "en" else "ru-RU"
    visitor_ctx = browser.new_context(viewport={"width": 420, "height": 760}, locale=locale)
    context, page, errors = _panel(browser, locale=locale, width=1280)
    try:
        visitor = visitor_ctx.new_page()
        visitor.goto(live_server.url + "/demo")
        launcher_of(visitor, inbox).click()
        chat = frame_of(visitor, inbox)
        chat.locator("#input").fill(hello)
        chat.locator("#input").press("Enter")
        chat.locator(".msg.me .meta", has_text="Sent" if lang == "en" else "Отправлено").wait_for()
        _sign_in(page, live_server.url, me.email)
        assert page.inner_text("[data-tab=waiting]").startswith(waiting_tab)
        card = page.locator(".card-c", has_text=hello[:12])
        card.wait_for()
        card.click()
        page.keyboard.press("a")  # take it
        page.wait_for_selector(f".activity >> text={took}")
        page.fill("#composer-input", reply)
        page.press("#composer-input", "Enter")
        chat.locator(".msg", has_text=reply).wait_for()
        # The operator corrects the reply: the visitor sees the new text, live.
        mine = page.locator(".msg.outgoing:not(.pending)", has_text=reply)
        mine.hover()
        mine.locator(".msg-actions button").first.click()
        page.fill(".edit-box textarea", edited)
        page.press(".edit-box textarea", "Enter")
        chat.locator(".msg", has_text=edited).wait_for()
        assert chat.locator(".msg", has_text=reply).count() == 0
        assert took not in frame_of(visitor, inbox).locator("body").inner_text()  # routing detail stays in the panel
        _side_by_side(artifacts / f"walkthrough-{lang}.png", visitor.screenshot(), page.screenshot())
        visitor.set_viewport_size({"width": 375, "height": 740})
        page.set_viewport_size({"width": 375, "height": 740})
        page.wait_for_timeout(300)
        _side_by_side(artifacts / f"walkthrough-{lang}-375.png", visitor.screenshot(), page.screenshot())
        assert not errors, errors
    finally:
        close_quietly(context)
        visitor_ctx.close()


RENDER_JS = """
async (cases) => {
  // The page's own module instance (same versioned URL as main.js), so the directory is loaded.
  const main = document.querySelector('script[type=module]').src;
  const {activityLine} = await import(new URL('activity.js', main).href);
  return cases.map((a) => activityLine({content: 'fallback', content_attributes: a}));
}
"""


def test_activity_lines_render_from_their_data_in_both_languages(live_server, browser):
    from datetime import timedelta

    from messenger.models import Team
    from messenger.services import assignment

    inbox = make_inbox(name="Lines")
    anna = make_user(name="Anna", inboxes=[inbox])
    bob = make_user(name="Bob", inboxes=[inbox])
    team = Team(name=f"Billing {uuid.uuid4().hex[:4]}")
    db.session.add(team)
    db.session.commit()
    conv_id = _visitor_conversation(inbox, "Lena Lines", "lena@example.org", "Hello?")
    assignment.self_assign(anna, conv_id)
    assignment.assign_to(anna, conv_id, {"team_id": team.id})
    assignment.assign_to(anna, conv_id, {"user_id": bob.id})
    db.session.execute(sa.update(User).where(User.id == bob.id).values(availability="offline"))
    db.session.commit()
    assert assignment.requeue_operator(bob.id) == 1
    conv_service.change_status(anna, conv_id, "snoozed", snoozed_until=conv_service.now() + timedelta(hours=3))
    conv_service.change_status(anna, conv_id, "resolved")
    lines = list(db.session.scalars(sa.select(Message.content).where(
        Message.conversation_id == conv_id, Message.type == "activity").order_by(Message.id)))
    ru = {
        "en-US": lines[:4] + ["Anna resolved the conversation"],
        "ru-RU": ["Anna: диалог взят в работу",
                  f"Anna: исполнитель Anna снят, диалог снова в очереди; Anna: диалог передан команде «{team.name}»",
                  "Anna: назначен исполнитель — Bob", "Bob не в сети: диалог снова в очереди",
                  "Anna: диалог решён"],
    }
    synthetic = [{"event": "escalation", "timeout_s": 300, "previous_assignee_id": anna.id, "assignee_id": bob.id},
                 {"event": "escalation", "timeout_s": 300, "previous_assignee_id": anna.id, "outcome": "nobody_free"},
                 {"event": "merged", "into": 9, "into_display_id": 42}, {"event": "something_new"}]
    expected_synthetic = {
        "en-US": ["No reply within 5 min: reassigned from Anna to Bob",
                  "No reply within 5 min from Anna: nobody else is free",
                  "The visitor signed in; the chat continues in #42", "fallback"],
        "ru-RU": ["Нет ответа за 5 мин: диалог переназначен (Anna → Bob)",
                  "Anna не ответил(а) за 5 мин: других свободных операторов нет",
                  "Посетитель вошёл в аккаунт; диалог продолжается в #42", "fallback"],
    }
    for locale, expected in ru.items():
        context, page, errors = _panel(browser, locale=locale)
        try:
            _sign_in(page, live_server.url, anna.email)
            page.goto(f"{live_server.url}/app#c{conv_id}")
            page.wait_for_selector(".msg.incoming >> text=Hello?")
            shown = page.evaluate("Array.from(document.querySelectorAll('#messages .activity span'),"
                                  " (s) => s.textContent.replace(/ · [^·]+$/, ''))")
            snooze = shown.pop(4)  # "until <date>" in the reader's language and time zone
            assert ("snoozed the conversation until" if locale == "en-US" else "диалог отложен до") in snooze
            assert shown == expected, shown
            assert page.evaluate(RENDER_JS, synthetic) == expected_synthetic[locale]
            assert not errors, errors
        finally:
            close_quietly(context)
