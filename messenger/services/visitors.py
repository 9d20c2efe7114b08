"""Visitors: contact sessions behind the widget's visitor token.

A visitor principal is plain values (``Visitor``), resolved from the token once per
request by the widget views and passed to services as the actor.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone

import sqlalchemy as sa

from messenger.db import transaction
from messenger.errors import Forbidden
from messenger.extensions import db
from messenger.models import Contact
from messenger.models import ContactSession
from messenger.models import Inbox
from messenger.security.tokens import VisitorClaims
from messenger.security.tokens import sign_visitor_token


@dataclass(frozen=True, slots=True)
class Visitor:
    """The acting visitor: one contact session in one inbox."""

    session_id: int
    contact_id: int
    inbox_id: int
    token_id: str


def _now() -> datetime:
    return datetime.now(timezone.utc)


def is_blocked(contact: Contact) -> bool:
    """Blocked visitors get no widget; a block may expire."""
    if not contact.blocked:
        return False
    return contact.blocked_until is None or contact.blocked_until > _now()


COLOURS = ("Amber", "Azure", "Coral", "Crimson", "Golden", "Green", "Indigo", "Jade",
           "Lilac", "Olive", "Orange", "Plum", "Ruby", "Silver", "Teal", "Violet")
ANIMALS = ("Badger", "Bear", "Beaver", "Bison", "Crane", "Deer", "Dolphin", "Eagle", "Falcon", "Fox",
           "Gecko", "Hare", "Hedgehog", "Heron", "Ibex", "Koala", "Lynx", "Marten", "Moose", "Otter",
           "Owl", "Panda", "Puffin", "Raven", "Seal", "Sparrow", "Squirrel", "Swan", "Tiger", "Turtle",
           "Walrus", "Wolf")


def anonymous_name(contact_id: int) -> str:
    """A readable name for an anonymous visitor ("Teal Otter"), the same for the same contact id.

    Consecutive ids get unrelated names, so visitors arriving together are easy to tell
    apart; all 512 names are used before one repeats (the display id tells twins apart).
    """
    mixed = (contact_id * 313 + 137) % 512  # an odd multiplier: every one of the 512 names in turn
    return f"{COLOURS[mixed % len(COLOURS)]} {ANIMALS[mixed // len(COLOURS)]}"


def start_session(inbox: Inbox, *, ip: str | None = None, user_agent: str | None = None) -> tuple[Visitor, str]:
    """Create an anonymous contact (named once: ``anonymous_name``) and its session; return visitor and token."""
    with transaction():
        contact = Contact()
        db.session.add(contact)
        db.session.flush()
        contact.name = anonymous_name(contact.id)
        session = ContactSession(contact_id=contact.id, inbox_id=inbox.id, token_id=secrets.token_urlsafe(24),
                                 ip=(ip or "")[:64] or None, user_agent=(user_agent or "")[:512] or None)
        db.session.add(session)
        db.session.flush()
        visitor = Visitor(session.id, contact.id, inbox.id, session.token_id)
    return visitor, sign_visitor_token(visitor.session_id, visitor.token_id)


def resolve_visitor(claims: VisitorClaims | None, inbox_id: int | None = None) -> Visitor | None:
    """The visitor behind verified token claims, or None if revoked / another inbox's."""
    if claims is None:
        return None
    row = db.session.execute(
        sa.select(ContactSession.id, ContactSession.contact_id, ContactSession.inbox_id, ContactSession.token_id,
                  ContactSession.revoked_at)
        .where(ContactSession.id == claims.session_id)).first()
    if row is None or row.revoked_at is not None:
        return None
    if not secrets.compare_digest(row.token_id, claims.token_id):
        return None
    if inbox_id is not None and row.inbox_id != inbox_id:
        return None
    return Visitor(row.id, row.contact_id, row.inbox_id, row.token_id)


def resolve_visitor_with_inbox(claims: VisitorClaims | None,
                               address_blocked: sa.ColumnElement[bool] | None = None,
                               ) -> tuple[Visitor, Inbox, Contact, bool] | None:
    """``resolve_visitor`` and the visitor's inbox and contact in ONE statement (the widget's hot path).

    ``address_blocked`` (``blocks.address_blocked(ip)``) is evaluated in the same statement
    and returned as the last item, so the address block list costs no round trip of its
    own. While the caller holds the contact, ``require_not_blocked`` finds it in the
    session's identity map and costs no query.
    """
    if claims is None:
        return None
    flag = (sa.false() if address_blocked is None else address_blocked).label("address_blocked")
    row = db.session.execute(
        sa.select(ContactSession.id, ContactSession.contact_id, ContactSession.inbox_id, ContactSession.token_id,
                  ContactSession.revoked_at, Inbox, Contact, flag)
        .join(Inbox, Inbox.id == ContactSession.inbox_id).join(Contact, Contact.id == ContactSession.contact_id)
        .where(ContactSession.id == claims.session_id)).first()
    if row is None or row.revoked_at is not None or not secrets.compare_digest(row.token_id, claims.token_id):
        return None
    return (Visitor(row.id, row.contact_id, row.inbox_id, row.token_id), row.Inbox, row.Contact,
            bool(row.address_blocked))


BLOCKED_MESSAGE = "This chat is not available."


def blocked_error() -> Forbidden:
    """The one neutral refusal for blocked contacts, blocked addresses and spam (says nothing more)."""
    return Forbidden(BLOCKED_MESSAGE, code="blocked")


def require_not_blocked(visitor: Visitor, address_blocked: bool = False) -> None:
    """The neutral refusal for a blocked contact (or, with ``address_blocked``, a blocked address)."""
    contact = db.session.get(Contact, visitor.contact_id)
    if address_blocked or contact is None or is_blocked(contact):
        raise blocked_error()
