"""Spam controls on the widget: a honeypot, a minimum time before the first message, a cap on
open conversations per address (issue 14 "Spam controls", docs/security.md case 31).

- Honeypot: the frame's forms carry a field that people never see or fill (``hp``); a
  request that fills it is refused with the same neutral answer as a block, and audited.
- Minimum time: a new chat's first message less than ``SPAM_MIN_FIRST_MESSAGE_S``
  seconds after the visitor's session started is refused with 429 and ``Retry-After``
  (a person needs longer to open the chat and type; a script does not wait).
- Open conversations: a browser holds one conversation in progress per inbox (a unique
  index); a script that resets its session to get a new one is stopped by
  ``SPAM_MAX_OPEN_PER_IP`` open conversations per inbox from one address.

Checked only when a request would start a new conversation, so an ongoing chat never pays.
"""
from __future__ import annotations

import math
from datetime import datetime
from datetime import timezone
from typing import Any

import sqlalchemy as sa
from flask import current_app

from messenger.db import transaction
from messenger.errors import DomainError
from messenger.extensions import db
from messenger.models import ContactSession
from messenger.models import Conversation
from messenger.services import audit
from messenger.services import conversations as conv_service
from messenger.services.visitors import Visitor
from messenger.services.visitors import blocked_error


class TooSoon(DomainError):
    """A first message too soon after the chat opened (or too many open chats): retry later."""

    status = 429
    code = "rate_limited"


def refuse(visitor: Visitor, reason: str, ip: str | None, **data: Any) -> DomainError:
    """Audit a spam refusal and return the neutral error to raise."""
    with transaction():
        audit.record(None, f"spam.{reason}", "contact", visitor.contact_id, ip=ip, inbox_id=visitor.inbox_id, **data)
    return blocked_error()


def check_honeypot(visitor: Visitor, data: dict[str, Any], ip: str | None) -> None:
    """A filled honeypot field is a bot: neutral refusal."""
    trap = data.get("hp")
    if trap not in (None, ""):
        raise refuse(visitor, "honeypot", ip)


def check_new_chat(visitor: Visitor, data: dict[str, Any], ip: str | None) -> None:
    """Before a request that may start a conversation: honeypot, minimum time, open conversations per address."""
    check_honeypot(visitor, data, ip)
    if conv_service.get_active_for_contact(visitor.inbox_id, visitor.contact_id) is not None:
        return
    cfg = current_app.config
    started = db.session.scalar(sa.select(ContactSession.created_at).where(ContactSession.id == visitor.session_id))
    minimum = float(cfg.get("SPAM_MIN_FIRST_MESSAGE_S", 2) or 0)
    if started is not None and minimum > 0:
        waited = (datetime.now(timezone.utc) - started).total_seconds()
        if waited < minimum:
            raise TooSoon("Please wait a moment before sending.", retry_after=math.ceil(minimum - waited))
    cap = int(cfg.get("SPAM_MAX_OPEN_PER_IP", 10) or 0)
    if cap and ip and _open_from(visitor.inbox_id, ip) >= cap:
        raise refuse(visitor, "too_many_open", ip, cap=cap)


def _open_from(inbox_id: int, ip: str) -> int:
    """Conversations in progress in the inbox whose contact has a session from ``ip``."""
    from_ip = sa.select(ContactSession.contact_id).where(ContactSession.ip == ip[:64],
                                                         ContactSession.inbox_id == inbox_id)
    return int(db.session.scalar(
        sa.select(sa.func.count()).select_from(Conversation).where(
            Conversation.inbox_id == inbox_id, Conversation.status != "resolved",
            Conversation.contact_id.in_(from_ip))) or 0)
