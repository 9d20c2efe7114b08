"""Inbound e-mail: an MTA or a mail provider posts a visitor's reply here (``POST /email/inbound``).

Authentication is the shared secret ``INBOUND_EMAIL_SECRET``, as HTTP basic auth (any user
name; ``https://inbound:SECRET@chat.example.com/email/inbound`` in the provider's
settings) or an ``X-Messenger-Inbound-Secret`` header. Without the setting the endpoint
is off (404). Bodies: the raw message (``Content-Type: message/rfc822``, or a form field
``email`` / ``message`` with the raw message), or parsed fields (``recipient`` or ``to``,
and ``text`` / ``body-plain`` / ``stripped-text``). The reply address carries an HMAC,
so only replies to our own e-mails reach a conversation.
"""
from __future__ import annotations

import hmac
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from flask import Blueprint
from flask import current_app
from flask import jsonify
from flask import request
from flask.typing import ResponseReturnValue

from messenger.errors import NotFound
from messenger.errors import Unauthorized
from messenger.errors import ValidationError
from messenger.extensions import csrf
from messenger.extensions import limiter
from messenger.services import email_replies

bp = Blueprint("inbound", __name__)
csrf.exempt(bp)

RECIPIENT_FIELDS = ("recipient", "to", "To")
TEXT_FIELDS = ("stripped-text", "body-plain", "text")
RAW_FIELDS = ("email", "message")


def _check_secret() -> None:
    secret = str(current_app.config.get("INBOUND_EMAIL_SECRET") or "")
    if not secret:
        raise NotFound("Inbound e-mail is not configured.")
    auth = request.authorization
    given = (auth.password if auth is not None and auth.type == "basic" else None) or \
        request.headers.get("X-Messenger-Inbound-Secret", "")
    if not hmac.compare_digest(str(given or "").encode(), secret.encode()):
        raise Unauthorized("Wrong inbound e-mail secret.")


def _plain_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    if part is None:
        raise ValidationError("The e-mail has no plain-text part.", field="text")
    return str(part.get_content())


def _from_raw(raw: bytes) -> tuple[str, str]:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    recipients = " ".join(str(message.get(h, "")) for h in ("To", "Cc", "Delivered-To", "X-Original-To"))
    return recipients, _plain_text(message)


def _parsed() -> tuple[str, str]:
    """Recipients and text of the posted e-mail, whatever shape the poster used."""
    if request.mimetype == "message/rfc822":
        return _from_raw(request.get_data())
    for name in RAW_FIELDS:
        raw = request.files.get(name) or request.form.get(name)
        if raw:
            return _from_raw(raw.read() if hasattr(raw, "read") else raw.encode())
    recipients = " ".join(request.form.get(f, "") for f in RECIPIENT_FIELDS)
    text = next((request.form[f] for f in TEXT_FIELDS if request.form.get(f)), "")
    if not recipients.strip():
        raise ValidationError("Post the raw e-mail (message/rfc822) or recipient and text fields.", field="recipient")
    return recipients, text


@bp.route("/email/inbound", methods=["POST"])
@limiter.limit("120 per minute")
def inbound_email() -> ResponseReturnValue:
    """One e-mailed reply: 201 with the new message id; 404 when the address is not one of ours."""
    _check_secret()
    recipients, text = _parsed()
    message = email_replies.receive(recipients, text)
    return jsonify({"message_id": message.id, "conversation_id": message.conversation_id}), 201
