"""Outbound e-mail over SMTP (settings ``SMTP_*``, ``MAIL_FROM``; docs/integrations.md).

Mail is always sent by an RQ job (queue ``default``), after the commit that made its
content visible, never inside a request or a transaction. Without ``SMTP_HOST`` nothing
is sent and ``configured()`` is False (the widget then promises no e-mail reply).
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr
from email.utils import make_msgid

import sqlalchemy as sa
from flask import current_app
from flask import has_request_context
from flask import request

from messenger.extensions import db
from messenger.jobs import catalog
from messenger.models import User
from messenger.models import Webhook

logger = logging.getLogger(__name__)



def configured() -> bool:
    """True when an SMTP server is set: e-mail features are on."""
    return bool(current_app.config.get("SMTP_HOST"))


def build_message(to: str, subject: str, text: str, *, html: str | None = None, reply_to: str | None = None,
                  from_name: str | None = None) -> EmailMessage:
    """A plain-text message with an optional HTML alternative (HTML must already be safe)."""
    cfg = current_app.config
    msg = EmailMessage()
    sender = str(cfg["MAIL_FROM"])
    msg["From"] = formataddr((from_name, sender)) if from_name else sender
    msg["To"] = to
    # Header values never carry line breaks from user text (header injection).
    msg["Subject"] = " ".join(subject.split())[:200]
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg


def deliver(msg: EmailMessage) -> None:
    """Send one message through the configured SMTP server (raises on failure: the job retries)."""
    cfg = current_app.config
    host, port = str(cfg["SMTP_HOST"]), int(cfg["SMTP_PORT"])
    timeout = float(cfg["SMTP_TIMEOUT_S"])
    smtp: smtplib.SMTP
    if cfg["SMTP_SSL"]:
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        if cfg["SMTP_STARTTLS"] and not cfg["SMTP_SSL"]:
            smtp.starttls(context=ssl.create_default_context())
        if cfg["SMTP_USER"]:
            smtp.login(str(cfg["SMTP_USER"]), str(cfg["SMTP_PASSWORD"]))
        smtp.send_message(msg)


def queue_email(to: str, subject: str, text: str, *, html: str | None = None, reply_to: str | None = None) -> bool:
    """Enqueue a simple e-mail (call after commit); False when SMTP is not configured."""
    if not configured():
        return False
    return catalog.SEND_EMAIL.delay(to, subject, text, html, reply_to) is not None


def notify_admins_webhook_disabled(webhook_id: int) -> None:
    """E-mail every active admin that a webhook was switched off (when SMTP is configured)."""
    if not configured():
        return
    hook = db.session.get(Webhook, webhook_id)
    if hook is None:
        return
    base = str(current_app.config.get("BASE_URL") or "").rstrip("/")
    text = (f"The webhook {hook.name or hook.url} was disabled: {hook.disabled_reason}.\n\n"
            f"Check the receiver, then enable it again in {base}/admin/webhooks/{hook.id}\n")
    for email in db.session.scalars(sa.select(User.email).where(User.role == "admin", User.active)):
        queue_email(email, "Messenger: a webhook was disabled", text)



def base_url() -> str:
    """The public URL for links in e-mails: ``BASE_URL``, else the current request's host."""
    configured_url = str(current_app.config.get("BASE_URL") or "")
    if configured_url:
        return configured_url.rstrip("/")
    return request.host_url.rstrip("/") if has_request_context() else "http://localhost:8000"


def queue_account_link(user_id: int, link: str, purpose: str) -> bool:
    """After an invitation or reset link is issued: e-mail it when SMTP is configured."""
    if not configured():
        return False
    return catalog.SEND_ACCOUNT_LINK.delay(user_id, link, purpose) is not None


def send_account_link(user_id: int, link: str, purpose: str) -> str:
    """Send one invitation / password-reset e-mail (``link``: the one-time URL); returns its Message-ID."""
    user = db.session.get(User, user_id)
    if user is None:
        return ""
    if purpose == "invite":
        subject = "You are invited to Messenger"
        text = (f"Hello {user.name},\n\nYou were invited to answer visitors in Messenger. Choose your password "
                f"here (the link works once, for 72 hours):\n\n{link}\n")
    else:
        subject = "Reset your Messenger password"
        text = (f"Hello {user.name},\n\nChoose a new password here (the link works once, for 72 hours):\n\n"
                f"{link}\n\nIf you did not expect this e-mail, tell your administrator.\n")
    msg = build_message(user.email, subject, text)
    deliver(msg)
    return str(msg["Message-ID"])
