"""Data requests: export a contact's data, erase a contact, and the retention job.

- **Export** (any operator who may see the contact): profile, browser sessions,
  conversations with their visitor-visible messages (notes and activity lines are internal
  and stay out), the attachments list, CSAT answers. Audited (``contact.exported``).
- **Erase** (admins): the contact's text and files are gone, statistics stay. Every message
  of the contact's conversations loses its text, the conversations their attributes and
  previews, CSAT answers their comment (the rating stays), attachments their row and file
  (quarantined copies too), the contact its profile (``erased_at`` set) and browser
  sessions (their visitor tokens die with them). The event log and the webhook delivery
  log keep only ids for those conversations, and audit lines about the contact lose their
  details. Counts, timestamps, statuses and ratings remain for reports. Audited
  (``contact.erased``, with counts only).
- **Retention** (``RETENTION_DAYS``, off by default): conversations resolved more than N
  days ago are erased the same way (contact profiles stay), by a job the worker's
  integration loop enqueues hourly.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from typing import Any

import sqlalchemy as sa
from flask import current_app

from messenger.db import after_commit
from messenger.db import transaction
from messenger.errors import Forbidden
from messenger.extensions import db
from messenger.jobs import catalog
from messenger.models import Attachment
from messenger.models import AuditLog
from messenger.models import ContactSession
from messenger.models import Conversation
from messenger.models import CsatResponse
from messenger.models import Event
from messenger.models import Message
from messenger.models import User
from messenger.models import WebhookDelivery
from messenger.realtime.sequencer import sequence_pending
from messenger.services import audit
from messenger.services.contact_profile import get_contact_for_operator
from messenger.services.storage import get_storage

logger = logging.getLogger(__name__)

RETENTION_BATCH = 200
ERASED = "erased_at"  # conversations.custom_attributes key marking an erased conversation


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat() if value is not None else None


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --- export --------------------------------------------------------------------------------------------

def export_contact(actor: User, contact_id: object, *, ip: str | None = None) -> dict[str, Any]:
    """Everything Messenger holds about a contact, as JSON-ready data (404 if not visible to ``actor``)."""
    with transaction():
        contact = get_contact_for_operator(actor, contact_id)
        sessions = db.session.scalars(sa.select(ContactSession).where(ContactSession.contact_id == contact.id)
                                      .order_by(ContactSession.id)).all()
        convs = db.session.scalars(sa.select(Conversation).where(Conversation.contact_id == contact.id)
                                   .order_by(Conversation.id)).all()
        data = {
            "exported_at": _iso(_now()),
            "profile": {"id": contact.id, "name": contact.name, "email": contact.email, "phone": contact.phone,
                        "identifier": contact.identifier, "custom_attributes": contact.custom_attributes,
                        "blocked": contact.blocked, "created_at": _iso(contact.created_at),
                        "last_seen_at": _iso(contact.last_seen_at), "erased_at": _iso(contact.erased_at)},
            "sessions": [_session(s) for s in sessions],
            "conversations": [_conversation(c) for c in convs],
        }
        audit.record(actor.id, "contact.exported", "contact", contact.id, ip=ip, conversations=len(convs))
    return data


def _session(s: ContactSession) -> dict[str, Any]:
    return {"id": s.id, "inbox_id": s.inbox_id, "ip": s.ip, "user_agent": s.user_agent, "browser": s.browser,
            "os": s.os, "locale": s.locale, "timezone": s.timezone, "referrer": s.referrer,
            "current_url": s.current_url, "pages": s.pages, "created_at": _iso(s.created_at),
            "last_seen_at": _iso(s.last_seen_at)}


def _conversation(c: Conversation) -> dict[str, Any]:
    messages = db.session.scalars(sa.select(Message).where(
        Message.conversation_id == c.id, Message.type.in_(("incoming", "outgoing")), Message.deleted_at.is_(None))
        .order_by(Message.id)).all()
    attachments = db.session.scalars(sa.select(Attachment).where(
        Attachment.conversation_id == c.id, Attachment.message_id.in_([m.id for m in messages] or [-1]))
        .order_by(Attachment.id)).all()
    csat = db.session.scalar(sa.select(CsatResponse).where(CsatResponse.conversation_id == c.id))
    return {
        "id": c.id, "inbox_id": c.inbox_id, "display_id": c.display_id, "status": c.status,
        "created_at": _iso(c.created_at), "resolved_at": _iso(c.resolved_at),
        "custom_attributes": c.custom_attributes,
        "messages": [{"id": m.id, "from": "contact" if m.type == "incoming" else "operator", "content": m.content,
                      "created_at": _iso(m.created_at), "edited_at": _iso(m.edited_at)} for m in messages],
        "attachments": [{"id": a.key, "message_id": a.message_id, "filename": a.filename,
                         "content_type": a.content_type, "size": a.size, "status": a.status,
                         "created_at": _iso(a.created_at)} for a in attachments],
        "csat": {"rating": csat.rating, "comment": csat.comment, "created_at": _iso(csat.created_at)} if csat else None,
    }


# --- erase ----------------------------------------------------------------------------------------------

def erase_contact(actor: User, contact_id: object, *, ip: str | None = None) -> dict[str, int]:
    """Erase a contact's text and files (admins only); returns what was erased, by kind."""
    if actor.role != "admin":
        raise Forbidden("Only admins can erase a contact.")
    with transaction():
        contact = get_contact_for_operator(actor, contact_id, lock=True)
        conv_ids = list(db.session.scalars(sa.select(Conversation.id).where(Conversation.contact_id == contact.id)))
        counts = _erase_conversations(conv_ids)
        counts["sessions"] = len(db.session.execute(sa.delete(ContactSession).where(
            ContactSession.contact_id == contact.id).returning(ContactSession.id)).all())
        contact.name = contact.email = contact.phone = contact.identifier = None
        contact.custom_attributes = {}
        contact.erased_at = _now()
        _scrub_logs(sa.or_(Event.contact_id == contact.id, Event.conversation_id.in_(conv_ids or [-1])))
        db.session.execute(sa.update(AuditLog).where(AuditLog.target_type == "contact",
                                                     AuditLog.target_id == str(contact.id)).values(data={}))
        audit.record(actor.id, "contact.erased", "contact", contact.id, ip=ip, **counts)
    logger.info("contact %s erased by %s: %s", contact.id, actor.id, counts)
    return counts


def _erase_conversations(conv_ids: list[int]) -> dict[str, int]:
    """Blank the text of these conversations and delete their files (inside the caller's transaction)."""
    if not conv_ids:
        return {"conversations": 0, "messages": 0, "attachments": 0}
    messages = db.session.execute(sa.update(Message).where(Message.conversation_id.in_(conv_ids))
                                  .values(content="", content_attributes={"erased": True})
                                  .returning(Message.id)).all()
    files = db.session.execute(sa.delete(Attachment).where(Attachment.conversation_id.in_(conv_ids))
                               .returning(Attachment.key, Attachment.thumb_key)).all()
    db.session.execute(sa.update(Conversation).where(Conversation.id.in_(conv_ids)).values(
        custom_attributes={ERASED: _iso(_now())}, last_message_preview=""))
    db.session.execute(sa.update(CsatResponse).where(CsatResponse.conversation_id.in_(conv_ids)).values(comment=""))
    keys = [k for row in files for k in row if k]
    after_commit(lambda: _delete_files(keys))
    return {"conversations": len(conv_ids), "messages": len(messages), "attachments": len(files)}


def _delete_files(keys: list[str]) -> None:
    storage = get_storage()
    for key in keys:
        storage.erase(key)


def _scrub_logs(which: sa.ColumnElement[bool]) -> None:
    """The event log and webhook deliveries of erased data keep ids only."""
    sequence_pending(db.engine)  # events committed but not yet numbered are scrubbed too
    event_ids = sa.select(Event.id).where(which).scalar_subquery()
    db.session.execute(sa.update(WebhookDelivery).where(WebhookDelivery.event_id.in_(event_ids)).values(
        payload=sa.func.jsonb_build_object("event", WebhookDelivery.kind, "id", WebhookDelivery.event_id,
                                           "erased", True), response_body=None))
    db.session.execute(sa.update(Event).where(which).values(
        payload=sa.func.jsonb_build_object("id", Event.payload["id"], "erased", True)))


# --- retention --------------------------------------------------------------------------------------------

def retention_days() -> int:
    """``RETENTION_DAYS`` (0: retention is off)."""
    return max(0, int(current_app.config.get("RETENTION_DAYS") or 0))


def expired_conversations(days: int, limit: int = RETENTION_BATCH) -> list[int]:
    """Resolved more than ``days`` days ago and not erased yet."""
    return list(db.session.scalars(
        sa.select(Conversation.id).where(Conversation.status == "resolved",
                                         Conversation.resolved_at < _now() - timedelta(days=days),
                                         ~Conversation.custom_attributes.has_key(ERASED))
        .order_by(Conversation.resolved_at).limit(limit)))


def apply_retention() -> int:
    """Job: erase conversations past the retention period, in batches; returns how many."""
    days = retention_days()
    if not days:
        return 0
    total = 0
    while True:
        with transaction():
            ids = expired_conversations(days)
            if not ids:
                break
            _erase_conversations(ids)
            _scrub_logs(Event.conversation_id.in_(ids))
            audit.record(None, "retention.erased", "conversation", None, conversations=len(ids), days=days)
        total += len(ids)
    if total:
        logger.info("retention: erased %s conversations resolved more than %s days ago", total, days)
    return total


_last_retention: float = 0.0


def sweep() -> int:
    """Integration-loop hook: enqueue the retention job at most once an hour (when retention is on)."""
    global _last_retention
    if not retention_days() or time.monotonic() - _last_retention < 3600:
        return 0
    _last_retention = time.monotonic()
    return 1 if catalog.APPLY_RETENTION.delay() is not None else 0
