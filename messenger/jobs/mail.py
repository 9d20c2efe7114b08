"""E-mail jobs (queue ``default``). A failed SMTP send raises, so RQ retries it."""
from __future__ import annotations

from messenger.services import mail


def send_email(to: str, subject: str, text: str, html: str | None = None, reply_to: str | None = None) -> str:
    """Build and send one message; returns its Message-ID."""
    msg = mail.build_message(to, subject, text, html=html, reply_to=reply_to)
    mail.deliver(msg)
    return str(msg["Message-ID"])
