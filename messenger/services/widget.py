"""What the widget shows and accepts besides chat: config, business hours, queue, forms, CSAT.

- Business hours are evaluated in the inbox's time zone; outside them the widget says
  when the team is back and offers the offline form.
- Pre-chat and offline forms are validated here (the frame's checks are only a courtesy).
- The queue estimate is the median pickup time over a recent window, hidden when the
  sample is too small (an honest queue).
"""
from __future__ import annotations

import fnmatch
import statistics
import uuid
from collections.abc import Callable
from datetime import datetime
from datetime import time
from datetime import timedelta
from time import monotonic
from typing import Any
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql as pg

from messenger.db import transaction
from messenger.errors import Conflict
from messenger.errors import Forbidden
from messenger.errors import ValidationError
from messenger.errors import found
from messenger.extensions import db
from messenger.models import Contact
from messenger.models import Conversation
from messenger.models import CsatResponse
from messenger.models import Inbox
from messenger.models import InboxMember
from messenger.models import User
from messenger.services import assignment
from messenger.services import contacts as contact_service
from messenger.services import conversations as conv_service
from messenger.services import mail
from messenger.services import messages as msg_service
from messenger.services.visitors import Visitor
from messenger.services.visitors import require_not_blocked

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WAIT_WINDOW = timedelta(days=7)
WAIT_MIN_SAMPLES = 5
FIELD_TYPES = ("text", "email", "phone", "textarea", "select", "checkbox", "number")
FIELD_LIMIT = 1000
MAX_FORM_FIELDS = 30


def _zone(inbox: Inbox) -> ZoneInfo:
    try:
        return ZoneInfo(inbox.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _parse_hhmm(value: object) -> time | None:
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        return None
    try:
        hours, minutes = int(value[:2]), int(value[3:])
    except ValueError:
        return None
    if hours == 24 and minutes == 0:
        return time.max
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        return None
    return time(hours, minutes)


def _intervals(inbox: Inbox, day: datetime) -> list[tuple[datetime, datetime]]:
    """Open intervals starting on the local date of ``day`` (an overnight one ends the next day)."""
    spans = (inbox.business_hours or {}).get(DAYS[day.weekday()]) or []
    result = []
    for span in spans if isinstance(spans, list) else []:
        if not isinstance(span, (list, tuple)) or len(span) != 2:
            continue
        start, end = _parse_hhmm(span[0]), _parse_hhmm(span[1])
        if start is None or end is None or start == end:
            continue
        begin = day.replace(hour=start.hour, minute=start.minute, second=0, microsecond=0)
        finish = day.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
        if end == time.max:
            finish = day.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        elif end < start:
            finish += timedelta(days=1)
        result.append((begin, finish))
    return result


def business_hours_state(inbox: Inbox, now: datetime | None = None) -> dict[str, Any]:
    """``{"enabled", "open", "next_open_at", "timezone"}`` for the inbox at ``now``."""
    now = now or conv_service.now()
    zone = _zone(inbox)
    state: dict[str, Any] = {"enabled": bool(inbox.business_hours_enabled), "open": True,
                             "next_open_at": None, "timezone": zone.key}
    if not inbox.business_hours_enabled:
        return state
    local = now.astimezone(zone)
    for offset in (-1, 0):
        for begin, finish in _intervals(inbox, local + timedelta(days=offset)):
            if begin <= local < finish:
                return state
    state["open"] = False
    for offset in range(0, 8):
        starts = [b for b, _ in _intervals(inbox, local + timedelta(days=offset)) if b > local]
        if starts:
            state["next_open_at"] = min(starts).astimezone(ZoneInfo("UTC")).isoformat()
            break
    return state


def someone_online(inbox: Inbox) -> bool:
    """Whether an active operator who may answer this inbox is online."""
    members = sa.select(InboxMember.user_id).where(InboxMember.inbox_id == inbox.id)
    found = db.session.scalar(sa.select(User.id).where(
        User.active.is_(True), User.availability == "online",
        sa.or_(User.id.in_(members), User.role == "admin")).limit(1))
    return found is not None


def _prechat_fields(inbox: Inbox) -> list[dict[str, Any]]:
    """The inbox's pre-chat fields, keeping only well-formed definitions."""
    fields = []
    for item in (inbox.prechat_fields or [])[:MAX_FORM_FIELDS]:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        kind = item.get("type") if item.get("type") in FIELD_TYPES else "text"
        options = [o for o in item.get("options") or [] if isinstance(o, str)] if kind == "select" else []
        fields.append({"name": item["name"][:64], "label": str(item.get("label") or item["name"])[:200],
                       "type": kind, "required": bool(item.get("required")), "options": options})
    return fields


def proactive_for(inbox: Inbox, page: str | None) -> dict[str, Any] | None:
    """The proactive greeting for a page path (``url_pattern`` is a glob, ``*`` by default), or None."""
    rules = inbox.proactive if isinstance(inbox.proactive, dict) else {}
    message = rules.get("message")
    if not rules.get("enabled") or not isinstance(message, str) or not message.strip() or page is None:
        return None
    pattern = rules.get("url_pattern") if isinstance(rules.get("url_pattern"), str) else "*"
    if not fnmatch.fnmatchcase(page[:2048], pattern or "*"):
        return None
    delay, period = rules.get("delay_s"), rules.get("period_s")
    return {"message": message[:2000],
            "delay_s": delay if isinstance(delay, int) and 0 <= delay <= 3600 else 10,
            "period_s": period if isinstance(period, int) and period > 0 else 86400}


def public_config(inbox: Inbox, page: str | None = None) -> dict[str, Any]:
    """The inbox settings the widget needs (never the HMAC secret or routing internals).

    ``available``: within business hours and an operator who may answer is online; the
    widget offers the offline form otherwise. ``expected_wait_s``: the median wait when
    available and known (else None), so the header never promises what the data do not say.
    """
    hours = business_hours_state(inbox)
    online = someone_online(inbox)
    available = hours["open"] and online
    return {
        "name": inbox.name, "color": inbox.color, "greeting": inbox.greeting, "away_message": inbox.away_message,
        "locale": inbox.locale, "business_hours": hours, "online": online, "available": available,
        "email_enabled": mail.configured() and bool(inbox.email_replies),  # only then promise an e-mail reply
        "expected_wait_s": estimated_wait_s(inbox.id) if available else None,
        "hidden": bool(inbox.hide_when_offline) and not available,
        "prechat": {"enabled": bool(inbox.prechat_enabled), "fields": _prechat_fields(inbox)},
        "csat_enabled": bool(inbox.csat_enabled), "reply_after_resolve": bool(inbox.reply_after_resolve),
        "identity_required": bool(inbox.enforce_identity),
        "proactive": proactive_for(inbox, page),
    }


_QUEUE_CACHE: dict[tuple[str, int], tuple[float, Any]] = {}


def _cached(kind: str, key: int, compute: Callable[[], Any]) -> Any:
    """A per-process, per-inbox value kept ``QUEUE_CACHE_MS`` (expected wait, someone online; 0: no cache)."""
    ttl = int(current_app.config.get("QUEUE_CACHE_MS", 0) or 0) / 1000
    if ttl <= 0:
        return compute()
    now = monotonic()
    hit = _QUEUE_CACHE.get((kind, key))
    if hit is not None and now - hit[0] < ttl:
        return hit[1]
    if len(_QUEUE_CACHE) > 10_000:
        _QUEUE_CACHE.clear()
    value = compute()
    _QUEUE_CACHE[(kind, key)] = (now, value)
    return value


def queue_info(conv: Conversation, inbox: Inbox) -> dict[str, Any]:
    """Position, estimated wait and the offline-form offer for a waiting visitor.

    The offline form is offered after the inbox's queue timeout, and at once while nobody
    who may answer is online (``online`` false).
    """
    info: dict[str, Any] = {"waiting": False, "position": None, "estimated_wait_s": None, "offer_offline": False,
                            "online": True}
    if conv.status not in ("open", "pending") or conv.assignee_id is not None or conv.first_reply_at is not None:
        return info
    info["waiting"] = True
    info["position"] = assignment.queue_position(conv.id)  # exact: the widget refetches it on queue.changed
    info["estimated_wait_s"] = _cached("wait", inbox.id, lambda: estimated_wait_s(inbox.id))
    since = conv.waiting_since or conv.created_at
    info["online"] = _cached("online", inbox.id, lambda: someone_online(inbox))
    if inbox.queue_timeout_s and since is not None:
        info["offer_offline"] = conv_service.now() - since > timedelta(seconds=inbox.queue_timeout_s)
    info["offer_offline"] = info["offer_offline"] or not info["online"]
    return info


def estimated_wait_s(inbox_id: int) -> int | None:
    """Median time to first reply over the last week; None with fewer than 5 samples."""
    since = conv_service.now() - WAIT_WINDOW
    rows = db.session.execute(sa.select(
        sa.func.extract("epoch", Conversation.first_reply_at - Conversation.created_at))
        .where(Conversation.inbox_id == inbox_id, Conversation.first_reply_at.is_not(None),
               Conversation.created_at >= since)
        .order_by(Conversation.created_at.desc()).limit(500)).scalars().all()
    samples = [float(r) for r in rows if r is not None and r >= 0]
    if len(samples) < WAIT_MIN_SAMPLES:
        return None
    return int(statistics.median(samples))


def visitor_conversations(visitor: Visitor, limit: int) -> list[Conversation]:
    """The visitor's conversations in this inbox: the one in progress first, then newest."""
    return list(db.session.scalars(
        sa.select(Conversation).where(Conversation.contact_id == visitor.contact_id,
                                      Conversation.inbox_id == visitor.inbox_id)
        .order_by((Conversation.status == "resolved").asc(), Conversation.id.desc()).limit(limit)))


def require_prechat_done(visitor: Visitor, inbox: Inbox) -> None:
    """A first conversation in an inbox with required pre-chat fields must start with the form."""
    if not inbox.prechat_enabled or not any(f["required"] for f in _prechat_fields(inbox)):
        return
    if visitor_conversations(visitor, 1):
        return
    raise ValidationError("Please fill in the form first.", code="prechat_required")


def _form(data: object) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationError("Send the form as an object.", field="fields")
    if len(data) > MAX_FORM_FIELDS:
        raise ValidationError("Too many fields.", field="fields")
    return data


def validate_prechat(inbox: Inbox, data: object) -> dict[str, Any]:
    """Check the submitted values against the inbox's pre-chat fields; return the clean values."""
    values = _form(data)
    clean: dict[str, Any] = {}
    for field in _prechat_fields(inbox):
        value = _prechat_value(field, values.get(field["name"]))
        if value is not None:
            clean[field["name"]] = value
    return clean


def _prechat_checkbox(name: str, required: bool, raw: object) -> bool:
    """A checkbox is JSON true/false (absent is false); a required one must be ticked."""
    if raw is not None and not isinstance(raw, bool):
        raise ValidationError("Must be true or false.", field=name)
    if required and raw is not True:
        raise ValidationError("This field is required.", field=name)
    return bool(raw)


def _prechat_value(field: dict[str, Any], raw: object) -> Any:
    """One pre-chat field's clean value (None when empty and optional), or a ValidationError naming it."""
    name, kind, required = field["name"], field["type"], field["required"]
    if kind == "checkbox":
        return _prechat_checkbox(name, required, raw)
    if kind == "email":
        return contact_service.clean_email(raw, name, required=required)
    if kind == "phone":
        return contact_service.clean_phone(raw, name, required=required)
    if kind == "number" and isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raw = str(raw)
    value = contact_service.clean_text(raw, name, FIELD_LIMIT, required=required)
    if value is not None and kind == "select" and value not in field["options"]:
        raise ValidationError("Choose one of the options.", field=name)
    if value is not None and kind == "number":
        try:
            float(value)
        except ValueError:
            raise ValidationError("Must be a number.", field=name) from None
    return value


def submit_prechat(visitor: Visitor, inbox: Inbox, data: object, message: object = None,
                   client_id: object = None) -> tuple[Conversation, msg_service.SendResult | None]:
    """Pre-chat form: validate, store on the contact, start the conversation (and its first message)."""
    values = validate_prechat(inbox, data)
    profile = {"name": values.get("name"), "email": values.get("email"), "phone": values.get("phone"),
               "custom_attributes": {k: v for k, v in values.items() if k not in ("name", "email", "phone")}}
    with transaction():
        require_not_blocked(visitor)
        contact = found(db.session.get(Contact, visitor.contact_id, with_for_update=True), "contact")
        contact_service.apply_profile(contact, profile)
        contact_service.flush_unique()
        conv, _ = conv_service.create_conversation(visitor, custom_attributes={"prechat": values})
        sent = None
        if message not in (None, ""):
            sent = msg_service.send_visitor_message(visitor, conv.id, message, client_id)
    return conv, sent


def submit_offline(visitor: Visitor, data: object) -> tuple[Conversation, msg_service.SendResult]:
    """Offline form (email + message): a conversation operators see, the email on the contact."""
    values = _form(data)
    email = contact_service.clean_email(values.get("email"), required=True)
    name = contact_service.clean_text(values.get("name"), "name", 255)
    content = msg_service.clean_content(values.get("message"))
    client_id = values.get("client_id") or str(uuid.uuid4())
    with transaction():
        require_not_blocked(visitor)
        contact = found(db.session.get(Contact, visitor.contact_id, with_for_update=True), "contact")
        contact_service.apply_profile(contact, {"name": name, "email": email, "phone": None,
                                                 "custom_attributes": {}})
        contact_service.flush_unique()
        sent = msg_service.send_visitor_message(visitor, None, content, client_id)
        conv = found(db.session.get(Conversation, sent.message.conversation_id, with_for_update=True),
                     "conversation")
        attributes = dict(conv.custom_attributes or {})
        attributes.update({"offline_form": True, "reply_to": email})
        conv.custom_attributes = attributes
    return conv, sent


def submit_csat(visitor: Visitor, inbox: Inbox, conversation_id: int, rating: object,
                comment: object) -> CsatResponse:
    """CSAT: 1–5 and a comment, once per conversation, only after resolve, only if the inbox asks."""
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise ValidationError("Rating must be a whole number from 1 to 5.", field="rating")
    text = contact_service.clean_text(comment, "comment", 2000) or ""
    with transaction():
        require_not_blocked(visitor)
        conv = conv_service.get_for_visitor(visitor, conversation_id, lock=True)
        if not inbox.csat_enabled:
            raise Forbidden("Ratings are off for this chat.", code="csat_disabled")
        if conv.status != "resolved":
            raise Conflict("You can rate the chat once it is resolved.", code="not_resolved")
        new_id = db.session.execute(
            pg.insert(CsatResponse).values(conversation_id=conv.id, assignee_id=conv.assignee_id, rating=rating,
                                           comment=text)
            .on_conflict_do_nothing(index_elements=["conversation_id"]).returning(CsatResponse.id)).scalar()
        if new_id is None:
            raise Conflict("You already rated this chat.", code="already_rated")
        response = found(db.session.get(CsatResponse, new_id), "rating")
    return response


def csat_to_dict(response: CsatResponse | None) -> dict[str, Any] | None:
    """A rating as the panel shows it (the csat.created event carries the same rating and comment)."""
    if response is None:
        return None
    return {"conversation_id": response.conversation_id, "rating": response.rating, "comment": response.comment,
            "created_at": response.created_at.isoformat() if response.created_at else None}


def csat_for(conversation_id: int) -> CsatResponse | None:
    """The rating of a conversation, if any."""
    return db.session.scalar(sa.select(CsatResponse).where(CsatResponse.conversation_id == conversation_id))
