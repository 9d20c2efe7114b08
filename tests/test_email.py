"""E-mail against a real local SMTP server (aiosmtpd): offline replies, the reply back into the chat, transcripts,
invitations, admin notices."""
from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from rq import SimpleWorker

from messenger.extensions import db
from messenger.jobs import get_queue
from messenger.models import ContactSession
from messenger.models import Conversation
from messenger.models import EmailedMessage
from messenger.models import Message
from messenger.services import email_replies
from messenger.services import messages as msg_service
from messenger.services import widget as widget_service
from tests.factories import make_inbox
from tests.factories import make_user
from tests.factories import make_visitor
from tests.helpers import free_port

SECRET = "inbound-test-secret"
SITE = "http://127.0.0.1"


class Sink:
    """What the SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd API)
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


@pytest.fixture
def smtp(app) -> Iterator[Sink]:  # type: ignore[no-untyped-def]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    keys = ("SMTP_HOST", "SMTP_PORT", "SMTP_STARTTLS", "MAIL_FROM", "INBOUND_EMAIL_DOMAIN", "INBOUND_EMAIL_SECRET",
            "EMAIL_REPLY_DELAY_S")
    saved = {k: app.config[k] for k in keys}
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port, SMTP_STARTTLS=False,
                      MAIL_FROM="support@shop.example", INBOUND_EMAIL_DOMAIN="reply.shop.example",
                      INBOUND_EMAIL_SECRET=SECRET, EMAIL_REPLY_DELAY_S=0)
    try:
        yield sink
    finally:
        app.config.update(saved)
        controller.stop()


def work(app) -> None:  # type: ignore[no-untyped-def]
    """Run the queued e-mail jobs (queue ``default``) in this process."""
    SimpleWorker([get_queue("default")], connection=app.extensions["redis"]).work(burst=True)


def _away(contact_id: int, minutes: int) -> None:
    db.session.execute(sa.update(ContactSession).where(ContactSession.contact_id == contact_id)
                       .values(online=False, last_seen_at=datetime.now(timezone.utc) - timedelta(minutes=minutes)))
    db.session.commit()


def _offline_visitor_conversation(email: str = "ada@example.org"):  # type: ignore[no-untyped-def]
    inbox = make_inbox(name="Shop support", email_offline_minutes=5)
    op = make_user(name="Olga Operator", inboxes=[inbox])
    visitor, token = make_visitor(inbox)
    conv, _ = widget_service.submit_offline(visitor, {"email": email, "name": "Ada", "message": "Where is my order?"})
    return inbox, op, visitor, token, conv


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return str(text.get_content()).replace("\r\n", "\n"), str(html.get_content()).replace("\r\n", "\n")


def _post_reply(client, raw: bytes, secret: str = SECRET):  # type: ignore[no-untyped-def]
    auth = base64.b64encode(f"inbound:{secret}".encode()).decode()
    return client.post("/email/inbound", data=raw, headers={"Content-Type": "message/rfc822",
                                                            "Authorization": f"Basic {auth}"})


def test_reply_to_an_offline_visitor_goes_by_email_and_their_answer_continues_the_chat(app, client, smtp) -> None:
    inbox, op, visitor, _, conv = _offline_visitor_conversation()
    _away(visitor.contact_id, 10)
    msg_service.send_operator_message(op, conv.id, "Hi <b>Ada</b> & welcome!\nIt ships today.", str(uuid.uuid4()))
    msg_service.send_operator_message(op, conv.id, "VIP: refund if late", str(uuid.uuid4()), private=True)
    assert email_replies.sweep() == 1
    work(app)
    assert len(smtp.messages) == 1
    sent = smtp.messages[0]
    assert sent["To"] == "ada@example.org" and sent["From"] == "support@shop.example"
    assert f"[#{conv.display_id}]" in sent["Subject"] and "Shop support" in sent["Subject"]
    reply_to = str(sent["Reply-To"])
    assert reply_to.startswith(f"reply+{conv.id}-{visitor.contact_id}-") and reply_to.endswith("@reply.shop.example")
    text, html = _parts(sent)
    assert "Hi <b>Ada</b> & welcome!\nIt ships today." in text and "Olga Operator" in text
    assert "Hi &lt;b&gt;Ada&lt;/b&gt; &amp; welcome!<br>" in html and "<b>Ada" not in html
    assert "VIP" not in text + html  # notes never leave
    assert email_replies.sweep() == 0  # sent once
    # The visitor answers from their mail client, quoting our e-mail.
    answer = EmailMessage()
    answer["From"], answer["To"], answer["Subject"] = "Ada <ada@example.org>", reply_to, f"Re: {sent['Subject']}"
    answer.set_content("Great, thanks!\nSee you.\n\nOn Sat, 28 Nov 2026 Shop support wrote:\n> Hi <b>Ada</b>\n")
    resp = _post_reply(client, answer.as_bytes())
    assert resp.status_code == 201 and resp.get_json()["conversation_id"] == conv.id
    again = _post_reply(client, answer.as_bytes())  # the provider retries: still one message
    assert again.get_json()["message_id"] == resp.get_json()["message_id"]
    incoming = db.session.scalars(sa.select(Message).where(Message.conversation_id == conv.id,
                                                           Message.type == "incoming").order_by(Message.id)).all()
    assert [m.content for m in incoming] == ["Where is my order?", "Great, thanks!\nSee you."]
    assert incoming[-1].sender_contact_id == visitor.contact_id


def test_inbound_refuses_forged_addresses_and_wrong_secrets(app, client, smtp) -> None:
    _, _, visitor, _, conv = _offline_visitor_conversation()
    good = email_replies.reply_address(conv.id, visitor.contact_id)
    forged = f"reply+{conv.id}-{visitor.contact_id}-{'0' * 24}@reply.shop.example"
    other = email_replies.reply_address(conv.id, visitor.contact_id + 1)
    for to, status in ((forged, 404), (other, 404)):
        msg = EmailMessage()
        msg["To"] = to
        msg.set_content("let me in")
        assert _post_reply(client, msg.as_bytes()).status_code == status
    msg = EmailMessage()
    msg["To"] = good
    msg.set_content("hello")
    assert _post_reply(client, msg.as_bytes(), secret="wrong").status_code == 401
    assert client.post("/email/inbound", data={"recipient": good, "text": "no auth"}).status_code == 401
    # Parsed fields (Mailgun-style) work as well as the raw message.
    auth = {"X-Messenger-Inbound-Secret": SECRET}
    ok = client.post("/email/inbound", data={"recipient": good, "body-plain": "From the form fields"}, headers=auth)
    assert ok.status_code == 201
    assert client.post("/email/inbound", data={"recipient": good, "body-plain": "> only quote"},
                       headers=auth).status_code == 422
    app.config["INBOUND_EMAIL_SECRET"] = ""
    assert _post_reply(client, msg.as_bytes()).status_code == 404  # off without a secret
    contents = db.session.scalars(sa.select(Message.content).where(Message.conversation_id == conv.id)).all()
    assert "let me in" not in contents and "hello" not in contents and "From the form fields" in contents


@pytest.mark.parametrize("situation", ["online", "recently_seen", "read_it", "no_smtp", "inbox_off"])
def test_no_email_when_the_visitor_is_around_or_email_is_off(app, smtp, situation: str) -> None:
    inbox, op, visitor, _, conv = _offline_visitor_conversation()
    _away(visitor.contact_id, 2 if situation == "recently_seen" else 10)
    if situation == "online":
        db.session.execute(sa.update(ContactSession).values(online=True))
    if situation == "inbox_off":
        inbox.email_replies = False
    if situation == "no_smtp":
        app.config["SMTP_HOST"] = ""
    db.session.commit()
    msg_service.send_operator_message(op, conv.id, "Are you there?", str(uuid.uuid4()))
    if situation == "read_it":
        db.session.execute(sa.update(Conversation).where(Conversation.id == conv.id)
                           .values(contact_last_seen_at=datetime.now(timezone.utc) + timedelta(seconds=1)))
        db.session.commit()
    assert email_replies.sweep() == 0
    work(app)
    assert smtp.messages == []


def test_a_failed_smtp_send_is_retried_by_the_next_sweep(app, smtp) -> None:
    _, op, visitor, _, conv = _offline_visitor_conversation()
    _away(visitor.contact_id, 10)
    msg_service.send_operator_message(op, conv.id, "Retry me", str(uuid.uuid4()))
    port = app.config["SMTP_PORT"]
    app.config["SMTP_PORT"] = free_port()  # nothing listens there
    with pytest.raises(OSError):
        email_replies.send_reply_email(conv.id)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EmailedMessage)) == 0
    app.config["SMTP_PORT"] = port
    assert email_replies.sweep() == 1
    work(app)
    assert len(smtp.messages) == 1 and "Retry me" in _parts(smtp.messages[0])[0]


def test_visitor_asks_for_a_transcript_from_the_widget(app, client, smtp) -> None:
    inbox, op, visitor, token, conv = _offline_visitor_conversation()
    msg_service.send_operator_message(op, conv.id, "Here is <your> answer", str(uuid.uuid4()))
    msg_service.send_operator_message(op, conv.id, "internal note", str(uuid.uuid4()), private=True)
    headers = {"X-Visitor-Token": token, "Origin": SITE}
    config = client.get(f"/widget/api/v1/config?inbox={inbox.website_token}", headers={"Origin": SITE}).get_json()
    assert config["email_enabled"] is True
    resp = client.post(f"/widget/api/v1/conversations/{conv.id}/transcript", json={}, headers=headers)
    assert resp.status_code == 202 and resp.get_json()["email"] == "ada@example.org"
    work(app)
    (sent,) = smtp.messages
    text, html = _parts(sent)
    assert sent["To"] == "ada@example.org" and "Where is my order?" in text and "Here is <your> answer" in text
    assert "&lt;your&gt;" in html and "internal note" not in text + html
    other_inbox = make_inbox()
    other_visitor, _ = make_visitor(other_inbox)
    from messenger.services import conversations as conv_service

    foreign, _ = conv_service.create_conversation(other_visitor)
    assert client.post(f"/widget/api/v1/conversations/{foreign.id}/transcript", json={},
                       headers=headers).status_code == 404
    bad = client.post(f"/widget/api/v1/conversations/{conv.id}/transcript", json={"email": "not-an-email"},
                      headers=headers)
    assert bad.status_code == 422 and bad.get_json()["field"] == "email"
    app.config["SMTP_HOST"] = ""
    off = client.post(f"/widget/api/v1/conversations/{conv.id}/transcript", json={}, headers=headers)
    assert off.status_code == 422 and off.get_json()["error"] == "email_unavailable"
    config = client.get(f"/widget/api/v1/config?inbox={inbox.website_token}", headers={"Origin": SITE}).get_json()
    assert config["email_enabled"] is False


def test_invitations_and_password_resets_go_by_email(app, client, smtp) -> None:
    from messenger.services import operators

    admin = make_user(role="admin")
    link = operators.invite_operator(admin.id, name="Nina New", email="nina@shop.example", role="agent", capacity=5,
                                     inbox_ids=[], team_ids=[])
    work(app)
    (invite,) = smtp.messages
    assert invite["To"] == "nina@shop.example" and "invited" in invite["Subject"]
    body = _parts_text(invite)
    assert f"/account/{link.token}" in body
    assert client.get(f"/account/{link.token}").status_code == 200
    operators.reset_password(admin.id, link.user_id)
    work(app)
    assert len(smtp.messages) == 2 and "/account/" in _parts_text(smtp.messages[1])


def _parts_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def test_admins_are_emailed_when_a_webhook_is_disabled(app, smtp) -> None:
    from messenger.models import Webhook
    from messenger.services import mail

    admin = make_user(role="admin", email=f"boss-{uuid.uuid4().hex[:6]}@shop.example")
    make_user(role="agent")
    hook = Webhook(url="https://hooks.example.com/x", events=["message.created"], secret="s", active=False,
                   disabled_reason="20 consecutive failed deliveries (last: HTTP 500)")
    db.session.add(hook)
    db.session.commit()
    mail.notify_admins_webhook_disabled(hook.id)
    work(app)
    recipients = sorted(str(m["To"]) for m in smtp.messages)
    assert admin.email in recipients and all("@shop.example" in r or "@example.com" in r for r in recipients)
    assert all("disabled" in m["Subject"] for m in smtp.messages)
