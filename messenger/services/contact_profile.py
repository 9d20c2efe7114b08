"""The contact sidebar: profile, browser session metadata, previous conversations, edits.

A contact is visible to an operator only through a conversation in an inbox the
operator may see; otherwise NotFound. Visitor-supplied metadata (user agent, referrer,
page titles) is returned as data and rendered as text by the panel (case 8 in docs/security.md).
"""
from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from messenger.db import transaction
from messenger.errors import Conflict
from messenger.errors import NotFound
from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.models import Contact
from messenger.models import ContactSession
from messenger.models import Conversation
from messenger.models import User
from messenger.services import audit
from messenger.services.inboxes import visible_inbox_ids
from messenger.services.visitors import is_blocked

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
PHONE_RE = re.compile(r"^\+?[0-9 ()./-]{3,32}$")
ATTR_KEY_RE = re.compile(r"^[a-z0-9_]{1,64}$")
MAX_ATTRS = 50
MAX_ATTR_VALUE = 500
EDITABLE = ("name", "email", "phone", "custom_attributes")


def _visible_conversations(user: User) -> list[sa.ColumnElement[bool]]:
    if user.role == "admin":
        return []
    return [Conversation.inbox_id.in_(visible_inbox_ids(user) or [-1])]


def get_contact_for_operator(user: User, contact_id: object, *, lock: bool = False) -> Contact:
    """The contact if ``user`` sees at least one of its conversations; NotFound otherwise."""
    if not isinstance(contact_id, int) or isinstance(contact_id, bool) or contact_id <= 0:
        raise NotFound("No such contact.")
    seen = db.session.scalar(sa.select(sa.exists().where(Conversation.contact_id == contact_id,
                                                         *_visible_conversations(user))))
    contact = db.session.get(Contact, contact_id, with_for_update=lock or None) if seen else None
    if contact is None or contact.erased_at is not None:
        raise NotFound("No such contact.")
    return contact


def contact_to_dict(contact: Contact) -> dict[str, Any]:
    """Profile fields shown (and editable) in the sidebar."""
    return {"id": contact.id, "name": contact.name, "email": contact.email, "phone": contact.phone,
            "identifier": contact.identifier, "custom_attributes": contact.custom_attributes,
            "blocked": is_blocked(contact),
            "blocked_until": contact.blocked_until.isoformat() if contact.blocked_until else None,
            "last_seen_at": contact.last_seen_at.isoformat() if contact.last_seen_at else None,
            "created_at": contact.created_at.isoformat() if contact.created_at else None}


def session_to_dict(s: ContactSession) -> dict[str, Any]:
    """Browser metadata of one visitor session."""
    return {"id": s.id, "inbox_id": s.inbox_id, "ip": s.ip, "browser": s.browser, "os": s.os,
            "user_agent": s.user_agent, "locale": s.locale, "timezone": s.timezone, "referrer": s.referrer,
            "current_url": s.current_url, "current_title": s.current_title, "online": s.online,
            "pages": s.pages[-20:] if isinstance(s.pages, list) else [], "hmac_verified": s.hmac_verified,
            "last_seen_at": s.last_seen_at.isoformat() if s.last_seen_at else None}


def contact_detail(user: User, contact_id: int) -> dict[str, Any]:
    """Profile, latest visible session and up to 20 previous visible conversations."""
    contact = get_contact_for_operator(user, contact_id)
    inbox_filter = [] if user.role == "admin" else [ContactSession.inbox_id.in_(visible_inbox_ids(user) or [-1])]
    session = db.session.scalar(sa.select(ContactSession).where(ContactSession.contact_id == contact.id, *inbox_filter)
                                .order_by(ContactSession.last_seen_at.desc()).limit(1))
    convs = db.session.execute(
        sa.select(Conversation.id, Conversation.display_id, Conversation.status, Conversation.created_at,
                  Conversation.last_message_preview, Conversation.inbox_id)
        .where(Conversation.contact_id == contact.id, *_visible_conversations(user))
        .order_by(Conversation.created_at.desc()).limit(20)).all()
    return {"contact": contact_to_dict(contact), "session": session_to_dict(session) if session else None,
            "conversations": [{"id": r[0], "display_id": r[1], "status": r[2], "created_at": r[3].isoformat(),
                               "last_message_preview": r[4], "inbox_id": r[5]} for r in convs]}


def _text(value: object, field: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be text.", field=field)
    value = " ".join(value.split())
    if len(value) > limit:
        raise ValidationError(f"{field} is limited to {limit} characters.", field=field, limit=limit)
    return value or None


def _attributes(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError("custom_attributes must be an object.", field="custom_attributes")
    if len(value) > MAX_ATTRS:
        raise ValidationError(f"At most {MAX_ATTRS} custom attributes.", field="custom_attributes")
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not ATTR_KEY_RE.match(key):
            raise ValidationError("Attribute names use a-z, 0-9 and _ (at most 64).", field="custom_attributes")
        if isinstance(item, str):
            if len(item) > MAX_ATTR_VALUE:
                raise ValidationError(f"Attribute values are limited to {MAX_ATTR_VALUE} characters.",
                                      field="custom_attributes")
        elif item is not None and not isinstance(item, (bool, int, float)):
            raise ValidationError("Attribute values must be text, numbers or true/false.", field="custom_attributes")
        out[key] = item
    return out


def update_contact(user: User, contact_id: int, changes: dict[str, Any]) -> Contact:
    """Edit name, email, phone or custom attributes; a taken email is 409 ``email_taken``."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationError(f"{sorted(unknown)[0]} cannot be edited.", field=sorted(unknown)[0])
    values: dict[str, Any] = {}
    if "name" in changes:
        values["name"] = _text(changes["name"], "name", 255)
    if "email" in changes:
        email = _text(changes["email"], "email", 254)
        if email is not None:
            email = email.lower()
            if not EMAIL_RE.match(email):
                raise ValidationError("That email address does not look right.", field="email")
        values["email"] = email
    if "phone" in changes:
        phone = _text(changes["phone"], "phone", 32)
        if phone is not None and not PHONE_RE.match(phone):
            raise ValidationError("Phone numbers use digits, spaces and + ( ) - . /", field="phone")
        values["phone"] = phone
    if "custom_attributes" in changes:
        values["custom_attributes"] = _attributes(changes["custom_attributes"])
    with transaction():
        contact = get_contact_for_operator(user, contact_id, lock=True)
        for key, value in values.items():
            setattr(contact, key, value)
        try:
            with db.session.begin_nested():
                db.session.flush()
        except IntegrityError:
            raise Conflict("Another contact already has this email.", code="email_taken", field="email") from None
        audit.record(user.id, "contact.update", "contact", contact.id, fields=sorted(values))
    return contact
