"""Contacts behind the widget: identity (HMAC), profile updates, session metadata, reset.

Identity rules (docs/security.md, case 19 and the pre-hijack rule):
- ``identifier_hash`` = hex HMAC-SHA256(inbox.hmac_secret, identifier), compared in
  constant time. A wrong hash is a 401 and nothing changes.
- Only an HMAC-verified identify gives a contact its ``identifier``, so a contact with an
  identifier is a verified one, and only it can be a merge target: a verified identity
  merges this browser's anonymous contact into the identified one (conversations and
  sessions move; the one-conversation-in-progress rule holds).
- An unverified identifier stays an attribute of this browser's own contact
  (``unverified_identifier``) and never attaches anywhere, so nobody can claim a
  customer's identifier before the customer arrives; with ``enforce_identity`` it is
  refused outright.
- E-mail addresses typed by anonymous visitors are never a merge key either. A verified
  identity's e-mail takes the address over from an unverified contact that typed it
  (which keeps it as ``unverified_email``); an unverified visitor can never take an
  address another contact holds.

All visitor-supplied text (names, pages, user agent) is stored as given and rendered as
text by every client (case 8).
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from messenger.db import transaction
from messenger.errors import Conflict
from messenger.errors import Unauthorized
from messenger.errors import ValidationError
from messenger.errors import found
from messenger.extensions import db
from messenger.models import Attachment
from messenger.models import Contact
from messenger.models import ContactSession
from messenger.models import Conversation
from messenger.models import Inbox
from messenger.models import Message
from messenger.security.tokens import sign_visitor_token
from messenger.services import conversations as conv_service
from messenger.services.visitors import Visitor
from messenger.services.visitors import require_not_blocked
from messenger.services.visitors import start_session

MAX_PAGES = 20
MAX_ATTRIBUTES = 30
MAX_ATTRIBUTE_VALUE = 500
EMAIL_RE = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z]{2,63}$")
PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()\-.]{2,30}$")
KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
LOCALE_RE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,3}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Identified:
    """Result of ``identify``: the visitor (its contact may have changed) and whether HMAC verified it."""

    visitor: Visitor
    verified: bool
    attached: bool


def clean_text(value: object, field: str, limit: int, *, required: bool = False) -> str | None:
    """A single-line string without control characters, at most ``limit`` long; None when empty."""
    if value is None or value == "":
        if required:
            raise ValidationError("This field is required.", field=field)
        return None
    if not isinstance(value, str):
        raise ValidationError("Must be text.", field=field)
    text = _CONTROL.sub("", value).strip()
    if len(text) > limit:
        raise ValidationError(f"At most {limit} characters.", field=field, limit=limit)
    if not text and required:
        raise ValidationError("This field is required.", field=field)
    return text or None


def clean_email(value: object, field: str = "email", *, required: bool = False) -> str | None:
    """A plausible email address in lower case."""
    text = clean_text(value, field, 254, required=required)
    if text is None:
        return None
    if not EMAIL_RE.match(text):
        raise ValidationError("Enter a valid email address.", field=field)
    return text.lower()


def clean_phone(value: object, field: str = "phone", *, required: bool = False) -> str | None:
    """Digits with the usual separators, optional leading +."""
    text = clean_text(value, field, 32, required=required)
    if text is not None and not PHONE_RE.match(text):
        raise ValidationError("Enter a valid phone number.", field=field)
    return text


def clean_attributes(value: object, field: str = "custom_attributes") -> dict[str, Any]:
    """A flat object of at most 30 keys with short scalar values."""
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_ATTRIBUTES:
        raise ValidationError(f"An object with at most {MAX_ATTRIBUTES} keys.", field=field)
    result: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not KEY_RE.match(key):
            raise ValidationError("Keys are letters, digits and _ (at most 64).", field=field)
        if isinstance(item, str):
            if len(item) > MAX_ATTRIBUTE_VALUE:
                raise ValidationError(f"Values are at most {MAX_ATTRIBUTE_VALUE} characters.", field=field)
            result[key] = _CONTROL.sub("", item)
        elif item is None or isinstance(item, (bool, int, float)):
            if isinstance(item, float) and item != item:  # NaN
                raise ValidationError("Numbers must be finite.", field=field)
            result[key] = item
        else:
            raise ValidationError("Values are text, numbers, booleans or null.", field=field)
    return result


def expected_hash(inbox: Inbox, identifier: str) -> str:
    """The HMAC a customer's backend computes for ``identifier``."""
    return hmac.new(inbox.hmac_secret.encode(), identifier.encode(), hashlib.sha256).hexdigest()


def verify_identifier(inbox: Inbox, identifier: str, identifier_hash: object) -> bool:
    """True for a correct hash, False when none was given; Unauthorized for a wrong one."""
    if identifier_hash is None or identifier_hash == "":
        if inbox.enforce_identity:
            raise Unauthorized("This chat requires a verified identity.", code="identity_required")
        return False
    if not isinstance(identifier_hash, str) or len(identifier_hash) > 128:
        raise Unauthorized("Identity verification failed.", code="identity_invalid")
    if not hmac.compare_digest(expected_hash(inbox, identifier).encode(), identifier_hash.strip().lower().encode()):
        raise Unauthorized("Identity verification failed.", code="identity_invalid")
    return True


def _email_owner(email: str) -> int | None:
    return db.session.scalar(sa.select(Contact.id).where(Contact.email == email))


def apply_profile(contact: Contact, profile: dict[str, Any], *, verified: bool = False) -> None:
    """Set name/phone/email/attributes on ``contact``; an email another contact owns is kept as an attribute.

    ``verified`` (an HMAC-verified identify): the address is taken over from a contact that
    holds it without a verified identity.
    """
    if profile.get("name") is not None:
        contact.name = profile["name"]
    if profile.get("phone") is not None:
        contact.phone = profile["phone"]
    attributes = dict(contact.custom_attributes or {})
    attributes.update(profile.get("custom_attributes") or {})
    email = profile.get("email")
    if email is not None and email != contact.email:
        owner = _email_owner(email)
        if owner is not None and owner != contact.id and verified:
            owner = _release_unverified_email(owner, email)
        if owner is None or owner == contact.id:
            contact.email = email
            attributes.pop("unverified_email", None)
        else:
            # Never attach to the other contact (case 19); operators still see what was typed.
            attributes["unverified_email"] = email
    contact.custom_attributes = attributes


def _release_unverified_email(owner_id: int, email: str) -> int | None:
    """Take ``email`` off a contact without a verified identity (it keeps it as ``unverified_email``).

    Returns the owner id that still holds it (a verified contact keeps its address), else None.
    """
    holder = db.session.get(Contact, owner_id, with_for_update=True)
    if holder is None:
        return None
    if holder.identifier is not None:
        return owner_id
    holder.email = None
    holder.custom_attributes = {**(holder.custom_attributes or {}), "unverified_email": email}
    db.session.flush()
    return None


def clean_profile(data: dict[str, Any]) -> dict[str, Any]:
    """Validate the profile fields a widget may send."""
    return {"name": clean_text(data.get("name"), "name", 255), "email": clean_email(data.get("email")),
            "phone": clean_phone(data.get("phone")),
            "custom_attributes": clean_attributes(data.get("custom_attributes"))}


def update_contact(visitor: Visitor, data: dict[str, Any]) -> Contact:
    """The visitor edits their own name, email, phone or custom attributes."""
    profile = clean_profile(data)
    with transaction():
        require_not_blocked(visitor)
        contact = found(db.session.get(Contact, visitor.contact_id, with_for_update=True), "contact")
        apply_profile(contact, profile)
        flush_unique()
    return contact


def identify(visitor: Visitor, inbox: Inbox, data: dict[str, Any]) -> Identified:
    """``Messenger.setUser``: verify the HMAC, then attach this browser to the identified contact."""
    identifier = clean_text(data.get("identifier"), "identifier", 255, required=True)
    if identifier is None:  # required=True already refuses it; a real check, not an assert
        raise ValidationError("This field is required.", field="identifier")
    profile = clean_profile(data)
    verified = verify_identifier(inbox, identifier, data.get("identifier_hash"))
    with transaction():
        require_not_blocked(visitor)
        session = found(db.session.get(ContactSession, visitor.session_id, with_for_update=True), "session")
        current = found(db.session.get(Contact, visitor.contact_id, with_for_update=True), "contact")
        if current.identifier == identifier:
            target, attached = current, True
        else:
            owner = db.session.scalar(sa.select(Contact).where(Contact.identifier == identifier)
                                      .with_for_update())
            if not verified:
                # Never an identifier, never a merge target: an attribute of this browser's contact.
                target, attached = current, False
                profile["custom_attributes"] = {**profile["custom_attributes"], "unverified_identifier": identifier}
            elif owner is None:
                target, attached = _claim_identifier(current, session, identifier), True
            else:
                target, attached = owner, True
                if current.identifier is None:
                    _merge(current, owner)
                else:
                    session.contact_id = owner.id
        if verified:
            session.hmac_verified = True
            attributes = dict(target.custom_attributes or {})
            if attributes.pop("unverified_identifier", None) is not None:
                target.custom_attributes = attributes
        apply_profile(target, profile, verified=verified)
        flush_unique()
        result = Visitor(session.id, target.id, session.inbox_id, session.token_id)
    return Identified(result, verified, attached)


def flush_unique() -> None:
    """Flush in a savepoint: a concurrent request that took the same email/identifier is a 409, not a 500."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise Conflict("Someone else changed this contact a moment ago; retry.", code="contact_conflict") from None


def _claim_identifier(current: Contact, session: ContactSession, identifier: str) -> Contact:
    """Give the identifier to this browser's contact, or to a fresh contact if it already has another."""
    if current.identifier is None:
        current.identifier = identifier
        return current
    fresh = Contact(identifier=identifier)
    db.session.add(fresh)
    db.session.flush()
    session.contact_id = fresh.id
    return fresh


def _merge(source: Contact, target: Contact) -> None:
    """Move the anonymous ``source`` contact (conversations, sessions, messages) into ``target`` and delete it."""
    db.session.flush()
    for conv in db.session.scalars(sa.select(Conversation).where(
            Conversation.contact_id == source.id, Conversation.status != "resolved").with_for_update()):
        other = conv_service.get_active_for_contact(conv.inbox_id, target.id)
        if other is not None:
            # One conversation in progress per contact: the identified one continues.
            conv.status = "resolved"
            conv.resolved_at = conv_service.now()
            conv.waiting_since = None
            conv_service.bump(conv)
            conv_service.add_activity(conv, f"The visitor signed in; the chat continues in #{other.display_id}",
                                      event="merged", into=other.id, into_display_id=other.display_id)
    db.session.flush()
    db.session.execute(sa.update(Conversation).where(Conversation.contact_id == source.id)
                       .values(contact_id=target.id))
    db.session.execute(sa.update(ContactSession).where(ContactSession.contact_id == source.id)
                       .values(contact_id=target.id))
    db.session.execute(sa.update(Message).where(Message.sender_contact_id == source.id)
                       .values(sender_contact_id=target.id))
    db.session.execute(sa.update(Attachment).where(Attachment.uploader_contact_id == source.id)
                       .values(uploader_contact_id=target.id))
    carried = {"name": source.name, "phone": source.phone, "email": source.email}
    attributes = dict(source.custom_attributes or {})
    attributes.update(target.custom_attributes or {})
    target.custom_attributes = attributes
    if source.email:
        source.email = None
        db.session.flush()
    for key, value in carried.items():
        if value and not getattr(target, key):
            setattr(target, key, value)
    db.session.delete(source)


def reset(visitor: Visitor, inbox: Inbox, *, ip: str | None, user_agent: str | None) -> tuple[Visitor, str]:
    """``Messenger.reset()``: revoke this browser's token and start a fresh anonymous session."""
    with transaction():
        db.session.execute(sa.update(ContactSession).where(ContactSession.id == visitor.session_id)
                           .values(revoked_at=conv_service.now(), online=False))
        return start_session(inbox, ip=ip, user_agent=user_agent)


def resume_session(inbox: Inbox, claims_visitor: Visitor | None, *, ip: str | None,
                   user_agent: str | None) -> tuple[Visitor, str, bool]:
    """The returning visitor's session (same browser), or a new anonymous one; (visitor, token, resumed)."""
    if claims_visitor is not None and claims_visitor.inbox_id == inbox.id:
        require_not_blocked(claims_visitor)
        return claims_visitor, sign_visitor_token(claims_visitor.session_id, claims_visitor.token_id), True
    visitor, token = start_session(inbox, ip=ip, user_agent=user_agent)
    return visitor, token, False


# --- Session metadata -------------------------------------------------------------------------------

_BROWSERS = (("Edge", r"Edg(?:e|A|iOS)?/(\d+)"), ("Opera", r"(?:OPR|Opera)/(\d+)"),
             ("Yandex", r"YaBrowser/(\d+)"), ("Samsung Internet", r"SamsungBrowser/(\d+)"),
             ("Firefox", r"(?:Firefox|FxiOS)/(\d+)"), ("Chrome", r"(?:Chrome|CriOS)/(\d+)"),
             ("Safari", r"Version/(\d+)[.\d]* (?:Mobile/\S+ )?Safari/"))
_SYSTEMS = (("Windows", r"Windows NT (\d+\.\d+)"), ("Android", r"Android (\d+)"),
            ("iOS", r"(?:iPhone|iPad|iPod).*? OS (\d+)"), ("ChromeOS", r"CrOS"),
            ("macOS", r"Mac OS X (\d+[._]\d+)"), ("Linux", r"Linux"))
_WINDOWS = {"10.0": "10/11", "6.3": "8.1", "6.2": "8", "6.1": "7"}


def parse_user_agent(user_agent: str | None) -> tuple[str | None, str | None]:
    """(browser, OS) from a User-Agent, e.g. ("Chrome 126", "Windows 10/11"); None when unknown."""
    ua = (user_agent or "")[:512]
    browser = system = None
    for name, pattern in _BROWSERS:
        match = re.search(pattern, ua)
        if match:
            browser = f"{name} {match.group(1)}"
            break
    for name, pattern in _SYSTEMS:
        match = re.search(pattern, ua)
        if match:
            version = match.group(1) if match.groups() else ""
            if name == "Windows":
                version = _WINDOWS.get(version, version)
            system = f"{name} {version.replace('_', '.')}".strip()
            break
    return browser, system


def clean_url(value: object, field: str) -> str | None:
    """An http(s) URL of at most 2048 characters, or None."""
    text = clean_text(value, field, 2048)
    if text is None:
        return None
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        raise ValidationError("Not a valid URL.", field=field) from None
    if scheme not in ("http", "https"):
        raise ValidationError("Only http and https pages are recorded.", field=field)
    return text


def clean_timezone(value: object) -> str | None:
    """An IANA time zone name, or None."""
    text = clean_text(value, "timezone", 64)
    if text is None:
        return None
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError("Unknown time zone.", field="timezone") from None
    return text


def clean_locale(value: object) -> str | None:
    """A BCP 47-ish language tag, or None."""
    text = clean_text(value, "locale", 35)
    if text is not None and not LOCALE_RE.match(text):
        raise ValidationError("Unknown locale.", field="locale")
    return text


def _visited_at(value: object, field: str) -> str:
    """A page's opening time from the loader (milliseconds since the epoch) as ISO 8601 UTC."""
    if not isinstance(value, int) or isinstance(value, bool) or not 946684800000 <= value <= 4102444800000:
        raise ValidationError("Must be a time in milliseconds since 1970.", field=field)
    return datetime.fromtimestamp(value / 1000, timezone.utc).isoformat()


def _clean_visited(item: object, i: int) -> dict[str, Any]:
    """One page of the loader's visit list, named ``pages[i]`` in errors."""
    field = f"pages[{i}]"
    if not isinstance(item, dict):
        raise ValidationError("Each page is an object.", field=field)
    seconds = item.get("s")
    if seconds is not None and (not isinstance(seconds, int) or isinstance(seconds, bool)
                                or not 0 <= seconds <= 7 * 86400):
        raise ValidationError("Seconds on the page: a whole number up to a week.", field=f"{field}.s")
    url = clean_url(item.get("url"), f"{field}.url")
    if url is None:
        raise ValidationError("This field is required.", field=f"{field}.url")
    page = {"url": url, "title": clean_text(item.get("title"), f"{field}.title", 512),
            "at": _visited_at(item.get("at"), f"{field}.at"), "seconds": seconds, "landing": i == 0 and "ref" in item}
    referrer = item.get("ref") if page["landing"] else None
    if isinstance(referrer, str) and referrer.startswith(("http://", "https://")):
        page["referrer"] = clean_text(referrer, f"{field}.ref", 2048)
    return page


def clean_visit(value: object) -> list[dict[str, Any]] | None:
    """The loader's pages of this visit: ``[{url, title, at, s?, ref?}]``, the landing page first (it has ``ref``).

    Stored as ``{url, title, at (ISO), seconds (on the page, once left), landing, referrer?}``;
    at most ``MAX_PAGES``; a referrer that is not http(s) is dropped, any other bad entry is
    a 422 naming it (``pages[3].url``).
    """
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_PAGES:
        raise ValidationError(f"A list of at most {MAX_PAGES} pages.", field="pages")
    return [_clean_visited(item, i) for i, item in enumerate(value)]


def clean_page(data: dict[str, Any]) -> dict[str, Any]:
    """Validate page metadata from the widget (URL, title, referrer, locale, time zone, the visit's pages)."""
    return {"url": clean_url(data.get("url"), "url"), "title": clean_text(data.get("title"), "title", 512),
            "referrer": clean_url(data.get("referrer"), "referrer") if data.get("referrer") else None,
            "locale": clean_locale(data.get("locale")), "timezone": clean_timezone(data.get("timezone")),
            "pages": clean_visit(data.get("pages"))}


def record_page(visitor: Visitor, page: dict[str, Any], *, ip: str | None = None,
                user_agent: str | None = None) -> ContactSession:
    """Session metadata (from ``clean_page``) on start and on every page change; operators see it live."""
    with transaction():
        session = found(db.session.get(ContactSession, visitor.session_id, with_for_update=True), "session")
        _record_client(session, page, ip, user_agent)
        visit = page.get("pages")
        if visit:  # the loader's own record of this visit (landing page first) is the truth
            session.pages = visit
            if visit[0].get("referrer") and not session.referrer:
                session.referrer = visit[0]["referrer"]
        if page["url"] and (page["url"] != session.current_url or page["title"] != session.current_title):
            _record_visit(session, page["url"], page["title"])
        session.last_seen_at = _now()
    return session


def _record_client(session: ContactSession, page: dict[str, Any], ip: str | None, user_agent: str | None) -> None:
    """Where the visitor connects from: IP, browser, locale, time zone, the first referrer."""
    if ip:
        session.ip = ip[:64]
    if user_agent:
        session.user_agent = user_agent[:512]
        session.browser, session.os = parse_user_agent(user_agent)
    if page["locale"]:
        session.locale = page["locale"]
    if page["timezone"]:
        session.timezone = page["timezone"]
    if page["referrer"] and not session.referrer:
        session.referrer = page["referrer"]


def _record_visit(session: ContactSession, url: str, title: str | None) -> None:
    """The page the visitor is on now, appended to the recent-pages trail unless it is a reload."""
    session.current_url = url
    session.current_title = title
    pages = [p for p in (session.pages or []) if isinstance(p, dict)]
    if not pages or pages[-1].get("url") != url:
        pages.append({"url": url, "title": title, "at": _now().isoformat()})
    session.pages = pages[-MAX_PAGES:]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def contact_to_dict(contact: Contact, session: ContactSession | None = None) -> dict[str, Any]:
    """What the visitor may see of their own contact."""
    return {"id": contact.id, "name": contact.name, "email": contact.email, "phone": contact.phone,
            "identifier": contact.identifier, "custom_attributes": contact.custom_attributes or {},
            "verified": bool(session.hmac_verified) if session is not None else False}
