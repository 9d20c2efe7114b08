"""E-mail continuity: operator replies to an offline visitor by e-mail, their answer back into the chat, transcripts.

- **Out.** An operator's reply that the visitor has not seen is e-mailed when the visitor
  left an address (offline form ``reply_to``, the contact's e-mail, or an unverified one
  they typed) and has had no open widget for the inbox's ``email_offline_minutes``.
  ``sweep()`` (the worker's integration loop, from PostgreSQL alone) finds such
  conversations once their newest reply is ``EMAIL_REPLY_DELAY_S`` old (so a burst of
  replies is one e-mail) and enqueues ``jobs.mail.send_reply_email``; the job claims the
  messages in ``emailed_messages`` (the primary key makes a message go out once), sends
  one plain-text + HTML e-mail (escaped, then sanitised by nh3), and releases the claim if
  SMTP fails so the next sweep retries.
- **Back in.** The e-mail's ``Reply-To`` is ``reply+<conversation>-<contact>-<hmac>@``
  ``INBOUND_EMAIL_DOMAIN``. ``receive(recipient, text)`` (the ``/email/inbound`` endpoint
  that an MTA or provider posts to) checks the HMAC and adds the reply, quoted history
  removed, as the visitor's message in the same conversation (reopening it by the usual rule).
- **Transcript.** A visitor can have their conversation e-mailed to their address.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import uuid
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from html import escape
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import insert as pg_insert

from messenger.db import after_commit
from messenger.db import transaction
from messenger.errors import NotFound
from messenger.errors import ValidationError
from messenger.errors import found
from messenger.extensions import db
from messenger.jobs import catalog
from messenger.models import Contact
from messenger.models import ContactSession
from messenger.models import Conversation
from messenger.models import EmailedMessage
from messenger.models import Inbox
from messenger.models import Message
from messenger.models import User
from messenger.security.html import text_to_html
from messenger.services import contacts as contact_service
from messenger.services import conversations as conv_service
from messenger.services import mail
from messenger.services import messages as msg_service
from messenger.services.visitors import Visitor

logger = logging.getLogger(__name__)

LOOKBACK = timedelta(days=7)  # replies older than this are not e-mailed any more
MAX_INBOUND_CHARS = 20000
_ADDRESS = re.compile(r"reply\+(\d+)-(\d+)-([0-9a-f]{24})@", re.IGNORECASE)
_QUOTE_HEADER = re.compile(r"^(On .+wrote:|-{2,}\s*Original Message\s*-{2,}|From: .+|.+ написал\(а\):)\s*$",
                           re.IGNORECASE)


def enabled(inbox: Inbox | None = None) -> bool:
    """SMTP is configured (and, for an inbox, it sends replies by e-mail)."""
    return mail.configured() and (inbox is None or bool(inbox.email_replies))


# --- the signed reply address ------------------------------------------------------------------

def _mac(conversation_id: int, contact_id: int) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"email-reply:{conversation_id}:{contact_id}".encode(), hashlib.sha256).hexdigest()[:24]


def reply_address(conversation_id: int, contact_id: int) -> str | None:
    """The signed ``Reply-To`` of a conversation (None when no inbound domain is set)."""
    domain = str(current_app.config.get("INBOUND_EMAIL_DOMAIN") or "")
    if not domain:
        return None
    return f"reply+{conversation_id}-{contact_id}-{_mac(conversation_id, contact_id)}@{domain}"


def parse_reply_address(recipients: str) -> tuple[int, int] | None:
    """(conversation id, contact id) from the first validly signed reply address in ``recipients``."""
    for match in _ADDRESS.finditer(recipients or ""):
        conversation_id, contact_id, mac = int(match.group(1)), int(match.group(2)), match.group(3).lower()
        if conversation_id < 2**31 and contact_id < 2**31 and hmac.compare_digest(
                mac, _mac(conversation_id, contact_id)):
            return conversation_id, contact_id
    return None


# --- out: replies to offline visitors ---------------------------------------------------------------

def recipient(conv: Conversation, contact: Contact) -> str | None:
    """Where the visitor asked to be answered: the offline form's address, else the contact's."""
    attrs = conv.custom_attributes or {}
    candidates = [attrs.get("reply_to"), contact.email, (contact.custom_attributes or {}).get("unverified_email")]
    return next((c for c in candidates if isinstance(c, str) and "@" in c and len(c) <= 254), None)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def due_conversations(limit: int = 200, conversation_id: int | None = None) -> list[int]:
    """Conversations with unseen, not yet e-mailed replies whose visitor is away long enough."""
    delay = timedelta(seconds=int(current_app.config["EMAIL_REPLY_DELAY_S"]))
    now = _now()
    session_seen = (sa.select(sa.func.max(ContactSession.last_seen_at))
                    .where(ContactSession.contact_id == Conversation.contact_id,
                           ContactSession.inbox_id == Conversation.inbox_id).scalar_subquery())
    online = sa.exists().where(ContactSession.contact_id == Conversation.contact_id,
                               ContactSession.inbox_id == Conversation.inbox_id, ContactSession.online)
    unsent = sa.exists().where(
        Message.conversation_id == Conversation.id, Message.type == "outgoing", Message.deleted_at.is_(None),
        Message.created_at > now - LOOKBACK,
        sa.or_(Conversation.contact_last_seen_at.is_(None), Message.created_at > Conversation.contact_last_seen_at),
        ~sa.exists().where(EmailedMessage.message_id == Message.id))
    newest_reply = (sa.select(sa.func.max(Message.created_at))
                    .where(Message.conversation_id == Conversation.id, Message.type == "outgoing").scalar_subquery())
    query = (sa.select(Conversation.id).join(Inbox, Inbox.id == Conversation.inbox_id)
             .join(Contact, Contact.id == Conversation.contact_id)
             .where(Conversation.last_activity_at > now - LOOKBACK, Inbox.email_replies, Contact.erased_at.is_(None),
                    unsent, ~online, newest_reply <= now - delay,
                    sa.func.coalesce(session_seen, Contact.created_at)
                    <= now - sa.func.make_interval(0, 0, 0, 0, 0, Inbox.email_offline_minutes))
             .order_by(Conversation.id).limit(limit))
    if conversation_id is not None:
        query = query.where(Conversation.id == conversation_id)
    return list(db.session.scalars(query))


def sweep() -> int:
    """Enqueue one reply e-mail job per due conversation (the job re-checks and claims)."""
    if not enabled():
        return 0
    with transaction():
        ids = due_conversations()
    for conversation_id in ids:
        catalog.SEND_REPLY_EMAIL.delay(conversation_id)
    return len(ids)


def _claim(conversation_id: int) -> tuple[list[int], dict[str, Any]] | None:
    """Claim the unseen replies of a due conversation; returns their ids and the e-mail to send."""
    with transaction():
        if not due_conversations(conversation_id=conversation_id):
            return None  # the visitor came back, saw the replies, or another job sent them
        conv = db.session.get(Conversation, conversation_id)
        contact = db.session.get(Contact, conv.contact_id) if conv is not None else None
        if conv is None or contact is None or (to := recipient(conv, contact)) is None:
            return None
        seen = conv.contact_last_seen_at
        rows = db.session.execute(
            sa.select(Message.id, Message.content, Message.created_at, User.name)
            .join(User, User.id == Message.sender_user_id)
            .where(Message.conversation_id == conv.id, Message.type == "outgoing", Message.deleted_at.is_(None),
                   Message.created_at > _now() - LOOKBACK, *([Message.created_at > seen] if seen else []),
                   ~sa.exists().where(EmailedMessage.message_id == Message.id))
            .order_by(Message.id)).all()
        if not rows:
            return None
        claimed = set(db.session.scalars(
            pg_insert(EmailedMessage).values([{"message_id": r.id, "conversation_id": conv.id} for r in rows])
            .on_conflict_do_nothing().returning(EmailedMessage.message_id)))
        replies = [r for r in rows if r.id in claimed]
        if not replies:
            return None  # another job took them
        inbox = found(db.session.get(Inbox, conv.inbox_id), "inbox")
        return [r.id for r in replies], _reply_email(inbox, conv, contact, to, replies)


def _render(intro: list[str], blocks: list[tuple[str, str]], outro: list[str]) -> tuple[str, str]:
    """Plain text and HTML of an e-mail: every user text escaped (then sanitised by nh3)."""
    text = "\n\n".join([*intro, *[f"{head}\n{body}" for head, body in blocks], *outro])
    html = "".join([*map(text_to_html, intro),
                    *[f"<p><strong>{escape(head)}</strong></p><blockquote>{text_to_html(body)}</blockquote>"
                      for head, body in blocks],
                    *map(text_to_html, outro)])
    return text, html


def _stamp(when: datetime) -> str:
    return f"{when.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC"


def _reply_email(inbox: Inbox, conv: Conversation, contact: Contact, to: str, replies: list[Any]) -> dict[str, Any]:
    hello = f"Hello{' ' + contact.name if contact.name else ''},"
    text, html = _render([hello, f"{inbox.name} answered your message:"],
                         [(f"{r.name} ({_stamp(r.created_at)}):", r.content) for r in replies],
                         ["Reply to this e-mail to continue the conversation."])
    return {"to": to, "subject": f"Re: your conversation with {inbox.name} [#{conv.display_id}]", "text": text,
            "html": html, "reply_to": reply_address(conv.id, contact.id)}


def send_reply_email(conversation_id: int) -> int:
    """Job: e-mail a due conversation's unseen replies; returns how many messages went out."""
    claimed = _claim(conversation_id)
    if claimed is None:
        return 0
    ids, email = claimed
    try:
        mail.deliver(mail.build_message(email["to"], email["subject"], email["text"], html=email["html"],
                                        reply_to=email["reply_to"]))
    except Exception:
        with transaction():  # give them back: the next sweep retries
            db.session.execute(sa.delete(EmailedMessage).where(EmailedMessage.message_id.in_(ids)))
        raise
    logger.info("e-mailed %s replies of conversation %s", len(ids), conversation_id)
    return len(ids)


# --- back in: the visitor answers by e-mail --------------------------------------------------------------

def strip_quoted(text: str) -> str:
    """The new part of an e-mail reply: stops at the quoted history ("On … wrote:", "> …")."""
    lines: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if _QUOTE_HEADER.match(line.strip()) or line.startswith(">"):
            break
        lines.append(line)
    return "\n".join(lines).strip()


def receive(recipients: str, text: str) -> Message:
    """Add an e-mailed reply to its conversation as the visitor's message; 404 if the address is not ours."""
    address = parse_reply_address(recipients)
    if address is None:
        raise NotFound("Unknown or forged reply address.")
    conversation_id, contact_id = address
    content = strip_quoted(text)[:MAX_INBOUND_CHARS]
    if not content:
        raise ValidationError("The e-mail has no new text.", field="text")
    conv = db.session.get(Conversation, conversation_id)
    if conv is None or conv.contact_id != contact_id:
        raise NotFound("Unknown conversation.")
    session_id = db.session.scalar(
        sa.select(ContactSession.id).where(ContactSession.contact_id == contact_id,
                                           ContactSession.inbox_id == conv.inbox_id)
        .order_by(ContactSession.last_seen_at.desc()).limit(1))
    if session_id is None:
        raise NotFound("Unknown conversation.")
    visitor = Visitor(session_id=session_id, contact_id=contact_id, inbox_id=conv.inbox_id, token_id="email")
    # A deterministic client id: the same e-mail posted twice (provider retry) is one message.
    client_id = uuid.uuid5(uuid.NAMESPACE_URL, f"email:{conversation_id}:{hashlib.sha256(text.encode()).hexdigest()}")
    sent = msg_service.send_visitor_message(visitor, conversation_id, content, str(client_id))
    return sent.message


# --- transcript ----------------------------------------------------------------------------------------------

def request_transcript(visitor: Visitor, conversation_id: int, email: object = None) -> str:
    """Queue the conversation's transcript to the visitor's address (or the one given); returns it."""
    conv = conv_service.get_for_visitor(visitor, conversation_id)
    contact = found(db.session.get(Contact, visitor.contact_id), "contact")
    to = contact_service.clean_email(email) if email not in (None, "") else recipient(conv, contact)
    if to is None:
        raise ValidationError("Enter your e-mail address.", field="email")
    if not enabled():
        raise ValidationError("E-mail is not available.", code="email_unavailable", field="email")
    after_commit(lambda: catalog.SEND_TRANSCRIPT.delay(conv.id, to))
    return to


def send_transcript(conversation_id: int, to: str) -> int:
    """Job: e-mail the visible messages of a conversation (never notes or internal activity)."""
    with transaction():
        conv = db.session.get(Conversation, conversation_id)
        if conv is None:
            return 0
        inbox = found(db.session.get(Inbox, conv.inbox_id), "inbox")
        rows = db.session.execute(
            sa.select(Message.type, Message.content, Message.created_at, User.name)
            .outerjoin(User, User.id == Message.sender_user_id)
            .where(Message.conversation_id == conv.id, Message.type.in_(("incoming", "outgoing")),
                   Message.deleted_at.is_(None)).order_by(Message.id)).all()
    text, html = _render([f"Your conversation with {inbox.name}:"],
                         [(f"{'You' if r.type == 'incoming' else r.name} ({_stamp(r.created_at)}):", r.content)
                          for r in rows], [])
    mail.deliver(mail.build_message(to, f"Transcript of your conversation with {inbox.name} [#{conv.display_id}]",
                                    text, html=html, reply_to=reply_address(conv.id, conv.contact_id)))
    return len(rows)
