"""E-mail jobs (queue ``default``). A failed SMTP send raises, so RQ retries it."""
from __future__ import annotations

from messenger.extensions import db
from messenger.jobs import catalog
from messenger.jobs import job
from messenger.services import email_replies
from messenger.services import mail


@job(catalog.SEND_EMAIL)
def send_email(to: str, subject: str, text: str, html: str | None = None, reply_to: str | None = None) -> str:
    """Build and send one message; returns its Message-ID."""
    msg = mail.build_message(to, subject, text, html=html, reply_to=reply_to)
    mail.deliver(msg)
    return str(msg["Message-ID"])


@job(catalog.SEND_REPLY_EMAIL)
def send_reply_email(conversation_id: int) -> int:
    """E-mail an offline visitor the replies they have not seen (claims them first)."""
    try:
        return email_replies.send_reply_email(conversation_id)
    finally:
        db.session.rollback()


@job(catalog.SEND_TRANSCRIPT)
def send_transcript(conversation_id: int, to: str) -> int:
    """E-mail a conversation's transcript to the visitor who asked for it."""
    try:
        return email_replies.send_transcript(conversation_id, to)
    finally:
        db.session.rollback()


@job(catalog.SEND_ACCOUNT_LINK)
def send_account_link(user_id: int, link: str, purpose: str) -> str:
    """E-mail an operator their invitation or password-reset link."""
    try:
        return mail.send_account_link(user_id, link, purpose)
    finally:
        db.session.rollback()
