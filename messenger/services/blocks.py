"""Blocking abusive visitors: a contact, or an IP address / CIDR range, each with an optional expiry.

A blocked visitor gets the same neutral refusal on every widget call ("This chat is not
available.", 403 ``blocked``), cannot start a session or open a stream, and the hub
closes its open streams within one heartbeat (``realtime/hub.py``). "Mark as spam"
resolves the conversation and blocks its contact (and, if asked, the address it wrote
from). Every block and unblock writes an audit line. Operators block contacts they can
see (and their current address); ranges are added by admins (``/admin/blocks``).
"""
from __future__ import annotations

import ipaddress
from datetime import datetime
from datetime import timezone
from typing import Any

import sqlalchemy as sa

from messenger.db import transaction
from messenger.errors import NotFound
from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.models import Contact
from messenger.models import ContactSession
from messenger.models import Conversation
from messenger.models import IpBlock
from messenger.models import User
from messenger.parsing import parse_instant
from messenger.services import audit
from messenger.services import conversations as conv_service
from messenger.services.contact_profile import get_contact_for_operator
from messenger.services.visitors import blocked_error

MAX_REASON = 255
# Broader ranges than these would lock out whole providers or countries by mistake.
MIN_PREFIX = {4: 8, 6: 32}


def now() -> datetime:
    return datetime.now(timezone.utc)


def parse_until(value: object) -> datetime | None:
    """An ISO 8601 time in the future (with a zone), or None/"" for a block without expiry."""
    until = parse_instant(None if value == "" else value, "until")
    if until is not None and until <= now():
        raise ValidationError("The expiry must be in the future.", field="until")
    return until


def _reason(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_REASON:
        raise ValidationError(f"At most {MAX_REASON} characters.", field="reason")
    return value.strip() or None


def parse_network(value: object) -> str:
    """A single address or a CIDR range, normalised (``203.0.113.7`` → ``203.0.113.7/32``)."""
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        raise ValidationError("Give an IP address or a range such as 203.0.113.0/24.", field="network")
    try:
        network = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValidationError("Give an IP address or a range such as 203.0.113.0/24.", field="network") from None
    if network.prefixlen < MIN_PREFIX[network.version]:
        raise ValidationError(f"Ranges broader than /{MIN_PREFIX[network.version]} are refused.", field="network")
    return str(network)


def _active(column: Any) -> sa.ColumnElement[bool]:
    return sa.or_(column.is_(None), column > sa.func.now())


def address_blocked(ip: str | None) -> sa.ColumnElement[bool]:
    """A SQL boolean: ``ip`` falls in an active blocked range (false for a missing or malformed address).

    The widget's hot path adds it as a column to the statement that resolves the visitor, so
    the block list costs no round trip of its own and is never stale.
    """
    try:
        address = str(ipaddress.ip_address((ip or "").strip()))
    except ValueError:
        return sa.false()
    return sa.exists().where(
        IpBlock.network.op(">>=")(sa.cast(address, sa.dialects.postgresql.INET)), _active(IpBlock.expires_at))


def ip_blocked(ip: str | None) -> bool:
    """True when ``ip`` falls in an active blocked range."""
    return bool(db.session.scalar(sa.select(address_blocked(ip))))


def require_address_allowed(ip: str | None) -> None:
    """The neutral refusal for a visitor whose address is blocked."""
    if ip_blocked(ip):
        raise blocked_error()


def _set_block(contact: Contact, until: datetime | None, reason: str | None) -> None:
    contact.blocked = True
    contact.blocked_until = until
    contact.blocked_at = now()
    contact.blocked_reason = reason


def block_contact(user: User, contact_id: object, *, until: object = None, reason: object = None,
                  block_address: bool = False, ip: str | None = None) -> Contact:
    """Block a contact the operator can see (optionally also its current address) until ``until`` or for good."""
    expires, why = parse_until(until), _reason(reason)
    with transaction():
        contact = get_contact_for_operator(user, contact_id, lock=True)
        _set_block(contact, expires, why)
        audit.record(user.id, "block.contact", "contact", contact.id, ip=ip,
                     until=expires.isoformat() if expires else None, reason=why)
        if block_address:
            _block_address_of(user, contact.id, expires, why, ip)
    return contact


def unblock_contact(user: User, contact_id: object, *, ip: str | None = None) -> Contact:
    """Lift a contact's block (admins reach every contact; operators those they can see)."""
    with transaction():
        contact = _contact_for(user, contact_id)
        contact.blocked, contact.blocked_until, contact.blocked_at, contact.blocked_reason = False, None, None, None
        audit.record(user.id, "unblock.contact", "contact", contact.id, ip=ip)
    return contact


def _contact_for(user: User, contact_id: object) -> Contact:
    if user.role == "admin" and isinstance(contact_id, int) and not isinstance(contact_id, bool):
        contact = db.session.get(Contact, contact_id, with_for_update=True)
        if contact is None:
            raise NotFound("No such contact.")
        return contact
    return get_contact_for_operator(user, contact_id, lock=True)


def _block_address_of(user: User, contact_id: int, until: datetime | None, reason: str | None,
                      ip: str | None) -> IpBlock | None:
    last = db.session.scalar(sa.select(ContactSession.ip).where(ContactSession.contact_id == contact_id,
                                                                ContactSession.ip.is_not(None))
                             .order_by(ContactSession.last_seen_at.desc()).limit(1))
    try:
        network = parse_network(last)
    except ValidationError:
        return None
    return _add_network(user, network, until, reason or "blocked with a contact", ip)


def _add_network(user: User, network: str, until: datetime | None, reason: str | None, ip: str | None) -> IpBlock:
    block = IpBlock(network=network, expires_at=until, reason=reason, created_by=user.id)
    db.session.add(block)
    db.session.flush()
    audit.record(user.id, "block.ip", "ip_block", block.id, ip=ip, network=network,
                 until=until.isoformat() if until else None, reason=reason)
    return block


def block_network(user: User, network: object, *, until: object = None, reason: object = None,
                  ip: str | None = None) -> IpBlock:
    """Block an address or a range (admins)."""
    cidr, expires, why = parse_network(network), parse_until(until), _reason(reason)
    with transaction():
        return _add_network(user, cidr, expires, why, ip)


def unblock_network(user: User, block_id: object, *, ip: str | None = None) -> None:
    """Lift an address/range block."""
    with transaction():
        block = db.session.get(IpBlock, block_id) if isinstance(block_id, int) else None
        if block is None:
            raise NotFound("No such block.")
        audit.record(user.id, "unblock.ip", "ip_block", block.id, ip=ip, network=str(block.network))
        db.session.delete(block)


def mark_spam(user: User, conversation_id: int, *, block_address: bool = False, ip: str | None = None) -> Conversation:
    """Resolve the conversation and block its contact for good (and its address, if asked)."""
    with transaction():
        conv = conv_service.get_for_operator(user, conversation_id)
        if conv.status != "resolved":
            conv = conv_service.change_status(user, conv.id, "resolved")
        block_contact(user, conv.contact_id, reason="spam", block_address=block_address, ip=ip)
        audit.record(user.id, "spam.marked", "conversation", conv.id, ip=ip)
    return conv


def active_blocks() -> dict[str, list[Any]]:
    """What the admin blocks page lists: blocked contacts and address blocks still in force."""
    contacts = list(db.session.scalars(
        sa.select(Contact).where(Contact.blocked.is_(True), _active(Contact.blocked_until))
        .order_by(Contact.blocked_at.desc().nulls_last(), Contact.id.desc()).limit(500)))
    networks = list(db.session.scalars(
        sa.select(IpBlock).where(_active(IpBlock.expires_at)).order_by(IpBlock.created_at.desc()).limit(500)))
    return {"contacts": contacts, "networks": networks}
