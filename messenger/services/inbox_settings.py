"""Admin edits of an inbox: every setting the widget and routing read, validated in one place.

``save_inbox(actor_id, inbox_id, settings)`` validates the whole set first (a
``ValidationError`` names the field, nothing is written), then applies it in one
transaction with one audit line listing the changed keys. The widget config, routing and
capacity read the inbox row on every request or job, so a saved change is live at once;
a change that can free seats (capacity, auto-assignment, policy) also drains the queue
after commit.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from messenger.db import transaction
from messenger.errors import NotFound
from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.i18n import N_
from messenger.models import Inbox
from messenger.models import InboxMember
from messenger.models import Team
from messenger.models import User
from messenger.parsing import digits_or_none
from messenger.security.origins import normalise_origin
from messenger.services import audit
from messenger.services import inboxes as inbox_service
from messenger.services import naming
from messenger.services import routing
from messenger.services.widget import DAYS
from messenger.services.widget import FIELD_TYPES
from messenger.services.widget import MAX_FORM_FIELDS
from messenger.services.widget import business_hours_state

MAX_ORIGINS = 50
LOCALES = ("en", "ru")
POLICIES = ("round_robin", "least_busy")
ESCALATION_MODES = ("reassign", "team", "notify")
ATTACHMENT_CATEGORIES = ("image", "pdf", "text", "audio", "video", "document", "archive")
MAX_SPANS_PER_DAY = 6
SECRET_FIELDS = ("hmac_secret", "website_token")
# Settings that can give operators free seats: the queue is drained after they change.
ROUTING_KEYS = ("capacity", "auto_assignment", "assignment_policy", "prefer_previous_operator")


# --- single-setting parsers (each raises ValidationError naming its form field) --------------

def clean_origins(value: object) -> list[str]:
    """Origins from text (one per line, or separated by spaces/commas): required, each valid, deduplicated."""
    raw = value if isinstance(value, list) else str(value or "").replace(",", " ").split()
    result: list[str] = []
    for entry in raw:
        entry = str(entry).strip().rstrip("/")
        if not entry:
            continue
        origin = _clean_origin(entry)
        if origin is None:
            raise ValidationError(N_("Not a website origin: use scheme://host[:port], e.g. https://shop.example "
                                     "or https://*.example.com."), field="allowed_origins", value=entry[:200])
        if origin not in result:
            result.append(origin)
    if not result:
        raise ValidationError(N_("Add at least one website where the widget may run."), field="allowed_origins")
    if len(result) > MAX_ORIGINS:
        raise ValidationError(N_("Too many origins (at most 50)."), field="allowed_origins")
    return result


def _clean_origin(entry: str) -> str | None:
    """``scheme://host[:port]`` or ``scheme://*.domain``; a path, query or credentials make it invalid."""
    wildcard = "://*." in entry
    candidate = entry.replace("://*.", "://", 1) if wildcard else entry
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        return None
    origin = normalise_origin(candidate)
    if origin is None or (wildcard and "." not in origin.partition("://")[2]):
        return None
    return origin.replace("://", "://*.", 1) if wildcard else origin


def clean_timezone(value: object) -> str:
    name = str(value or "").strip()
    if not name:
        raise ValidationError(N_("This field is required."), field="timezone")
    try:
        return ZoneInfo(name).key
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(N_("Unknown time zone: use a name like Europe/Berlin."), field="timezone") from None


def _minutes(text: str) -> int | None:
    text = text.strip()
    if len(text) == 4 and text[1] == ":":
        text = "0" + text
    if len(text) != 5 or text[2] != ":" or digits_or_none(text[:2] + text[3:]) is None:
        return None
    hours, mins = int(text[:2]), int(text[3:])
    if (hours, mins) == (24, 0):
        return 24 * 60
    if hours > 23 or mins > 59:
        return None
    return hours * 60 + mins


def _fmt(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_day_hours(day: str, text: object) -> list[list[str]]:
    """``"09:00-12:00, 13:00-18:00"`` → ``[["09:00", "12:00"], ["13:00", "18:00"]]``; overnight allowed."""
    spans = []
    for part in str(text or "").replace(";", ",").split(","):
        part = part.strip().replace("–", "-").replace("—", "-")
        if not part:
            continue
        start_s, sep, end_s = part.partition("-")
        start, end = _minutes(start_s), _minutes(end_s)
        if not sep or start is None or end is None or start == end or start == 24 * 60:
            raise ValidationError(N_("Write hours like 09:00-18:00, separated by commas."), field=f"hours_{day}")
        spans.append((start, end))
    if len(spans) > MAX_SPANS_PER_DAY:
        raise ValidationError(N_("At most 6 intervals a day."), field=f"hours_{day}")
    return [[_fmt(s), _fmt(e)] for s, e in sorted(spans)]


def _week_minutes(day_index: int, span: list[str]) -> tuple[int, int]:
    start, end = _minutes(span[0]), _minutes(span[1])
    assert start is not None and end is not None
    base = day_index * 24 * 60
    return base + start, base + end + (24 * 60 if end < start else 0)


def clean_business_hours(by_day: dict[str, object]) -> dict[str, list[list[str]]]:
    """Parse every day and refuse overlapping intervals (also an overnight one running into the next day)."""
    hours = {day: parse_day_hours(day, by_day.get(day)) for day in DAYS}
    week = 7 * 24 * 60
    spans = sorted((s, e, day) for i, day in enumerate(DAYS) for s, e in (_week_minutes(i, sp) for sp in hours[day]))
    for (_, e1, _), (s2, _, d2) in zip(spans, spans[1:], strict=False):
        if s2 < e1:
            raise ValidationError(N_("These hours overlap."), field=f"hours_{d2}")
    if spans and spans[-1][1] > week and spans[-1][1] - week > spans[0][0]:  # Sunday night into Monday
        raise ValidationError(N_("These hours overlap."), field=f"hours_{spans[0][2]}")
    return {day: spans_ for day, spans_ in hours.items() if spans_}


def _field_key(name: str, label: str, index: int) -> str:
    """The field's key: as typed, else derived from the label; letters, digits and _ only."""
    key = name or "".join(c if c.isalnum() else "_" for c in label.lower()).strip("_")[:64] or f"field_{index}"
    if not all(c.isalnum() or c == "_" for c in key) or len(key) > 64:
        raise ValidationError(N_("A field key uses letters, digits and _ only."), field=f"prechat_fields.{index}")
    return key


def _prechat_field(index: int, row: dict[str, Any], label: str, name: str) -> dict[str, Any]:
    """One pre-chat field definition from a form row (``label`` and ``name`` already trimmed)."""
    where = f"prechat_fields.{index}"
    if not label or len(label) > 200:
        raise ValidationError(N_("Each field needs a label (at most 200 characters)."), field=where)
    name = _field_key(name, label, index)
    kind = row.get("type") or "text"
    if kind not in FIELD_TYPES:
        raise ValidationError(N_("Unknown field type."), field=where)
    options = [o.strip() for o in str(row.get("options") or "").split(",") if o.strip()][:50]
    if kind == "select" and not options:
        raise ValidationError(N_("A choice field needs its options, separated by commas."), field=where)
    return {"name": name, "label": label, "type": kind, "required": bool(row.get("required")),
            "options": options if kind == "select" else []}


def clean_prechat_fields(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pre-chat field definitions; blank rows are dropped, names must be unique."""
    fields: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        label = " ".join(str(row.get("label") or "").split())
        name = str(row.get("name") or "").strip().lower()
        if not label and not name:
            continue
        field = _prechat_field(index, row, label, name)
        if any(f["name"] == field["name"] for f in fields):
            raise ValidationError(N_("Two fields have the same key."), field=f"prechat_fields.{index}")
        fields.append(field)
    if len(fields) > MAX_FORM_FIELDS:
        raise ValidationError(N_("Too many fields."), field="prechat_fields")
    return fields


def clean_proactive(enabled: bool, message: object, url_pattern: object, delay_s: object) -> dict[str, Any]:
    text = str(message or "").strip()
    if enabled and not text:
        raise ValidationError(N_("Write the greeting the widget shows."), field="proactive_message")
    if len(text) > 2000:
        raise ValidationError(N_("Too long."), field="proactive_message")
    pattern = str(url_pattern or "").strip() or "*"
    if len(pattern) > 500:
        raise ValidationError(N_("Too long."), field="proactive_url_pattern")
    delay = _int_in(delay_s, "proactive_delay_s", 0, 3600, default=10)
    return {"enabled": bool(enabled), "message": text, "url_pattern": pattern, "delay_s": delay}


def _int_in(value: object, field: str, low: int, high: int, *, default: int | None = None) -> int:
    if value is None or value == "":
        if default is None:
            raise ValidationError(N_("This field is required."), field=field)
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value))
        except ValueError:
            raise ValidationError(N_("Enter a whole number."), field=field) from None
    if not low <= value <= high:
        raise ValidationError(N_("Out of range."), field=field, min=low, max=high)
    return value


def _optional_int(value: object, field: str, low: int, high: int) -> int | None:
    return None if value is None or value == "" else _int_in(value, field, low, high)


# --- the whole settings set -----------------------------------------------------------------

@dataclass
class Settings:
    """Validated column values of an inbox (plus members), ready to apply."""

    values: dict[str, Any]
    members: list[int] | None


def clean_settings(data: dict[str, Any]) -> Settings:
    """Validate the admin form's values; raise on the first bad field."""
    v: dict[str, Any] = {"name": naming.clean_name(data.get("name")), "color": naming.clean_color(data.get("color"))}
    for key in ("greeting", "away_message"):
        text = str(data.get(key) or "").strip()
        if len(text) > 2000:
            raise ValidationError(N_("Too long."), field=key)
        v[key] = text
    locale = data.get("locale") or None
    if locale is not None and locale not in LOCALES:
        raise ValidationError(N_("Unknown language."), field="locale")
    v["locale"] = locale
    v["allowed_origins"] = clean_origins(data.get("allowed_origins"))
    v["timezone"] = clean_timezone(data.get("timezone"))
    v["business_hours_enabled"] = bool(data.get("business_hours_enabled"))
    v["business_hours"] = clean_business_hours({d: data.get(f"hours_{d}") for d in DAYS})
    if v["business_hours_enabled"] and not v["business_hours"]:
        raise ValidationError(N_("Add the opening hours, or turn business hours off."), field="hours_mon")
    v["prechat_enabled"] = bool(data.get("prechat_enabled"))
    v["prechat_fields"] = clean_prechat_fields(list(data.get("prechat_fields") or []))
    v["proactive"] = clean_proactive(bool(data.get("proactive_enabled")), data.get("proactive_message"),
                                     data.get("proactive_url_pattern"), data.get("proactive_delay_s"))
    v.update(_routing(data))
    v["reopen_window_s"] = _int_in(data.get("reopen_window_h"), "reopen_window_h", 0, 24 * 90) * 3600
    for flag in ("reply_after_resolve", "csat_enabled", "enforce_identity", "hide_when_offline",
                 "requeue_on_offline", "prefer_previous_operator"):
        v[flag] = bool(data.get(flag))
    v.update(_attachments(data))
    members = data.get("members")
    return Settings(v, None if members is None else sorted({int(m) for m in members}))


def _routing(data: dict[str, Any]) -> dict[str, Any]:
    v: dict[str, Any] = {"auto_assignment": bool(data.get("auto_assignment"))}
    policy = data.get("assignment_policy") or "round_robin"
    if policy not in POLICIES:
        raise ValidationError(N_("Unknown policy."), field="assignment_policy")
    v["assignment_policy"] = policy
    v["capacity"] = _optional_int(data.get("capacity"), "capacity", 0, 1000)
    timeout = _optional_int(data.get("first_reply_timeout_min"), "first_reply_timeout_min", 1, 24 * 60)
    v["first_reply_timeout_s"] = None if timeout is None else timeout * 60
    queue = _optional_int(data.get("queue_timeout_min"), "queue_timeout_min", 1, 24 * 60)
    v["queue_timeout_s"] = None if queue is None else queue * 60
    mode = data.get("escalation_mode") or "reassign"
    if mode not in ESCALATION_MODES:
        raise ValidationError(N_("Unknown escalation."), field="escalation_mode")
    v["escalation_mode"] = mode
    team_id = data.get("escalation_team_id") or None
    if team_id is not None:
        team_id = int(team_id)
        if db.session.get(Team, team_id) is None:
            raise ValidationError(N_("Unknown team."), field="escalation_team_id")
    if mode == "team" and team_id is None:
        raise ValidationError(N_("Choose the team that gets unanswered conversations."), field="escalation_team_id")
    v["escalation_team_id"] = team_id
    return v


def _attachments(data: dict[str, Any]) -> dict[str, Any]:
    chosen = [c for c in data.get("attachment_types") or [] if c in ATTACHMENT_CATEGORIES]
    if len(chosen) != len(data.get("attachment_types") or []):
        raise ValidationError(N_("Unknown file type."), field="attachment_types")
    # Every category ticked = not narrowed (new types added later are allowed too).
    allowed = None if set(chosen) == set(ATTACHMENT_CATEGORIES) else sorted(chosen)
    limit_mb = _optional_int(data.get("max_upload_mb"), "max_upload_mb", 1, 1024)
    return {"allowed_types": allowed, "max_upload_bytes": None if limit_mb is None else limit_mb * 1024 * 1024}


_PLAIN_COLUMNS = ("name", "color", "greeting", "away_message", "timezone", "business_hours_enabled",
                  "prechat_enabled", "auto_assignment", "assignment_policy", "prefer_previous_operator", "capacity",
                  "escalation_mode", "requeue_on_offline", "hide_when_offline", "reply_after_resolve",
                  "csat_enabled", "enforce_identity")


def _per(value: int | None, unit: int) -> int | None:
    return None if value is None else value // unit


def _proactive_values(inbox: Inbox) -> dict[str, Any]:
    proactive = inbox.proactive if isinstance(inbox.proactive, dict) else {}
    delay = proactive.get("delay_s")
    return {"proactive_enabled": bool(proactive.get("enabled")), "proactive_message": proactive.get("message") or "",
            "proactive_url_pattern": proactive.get("url_pattern") or "*",
            "proactive_delay_s": delay if isinstance(delay, int) else 10}


def _hours_values(inbox: Inbox) -> dict[str, str]:
    hours = inbox.business_hours if isinstance(inbox.business_hours, dict) else {}
    return {f"hours_{day}": ", ".join(f"{s[0]}-{s[1]}" for s in hours.get(day) or []
                                      if isinstance(s, list) and len(s) == 2) for day in DAYS}


def form_values(inbox: Inbox) -> dict[str, Any]:
    """The inbox as the admin form's values (the inverse of ``clean_settings``)."""
    values: dict[str, Any] = {c: getattr(inbox, c) for c in _PLAIN_COLUMNS}
    values.update(_proactive_values(inbox))
    values.update(_hours_values(inbox))
    values.update({
        "locale": inbox.locale or "", "allowed_origins": "\n".join(str(o) for o in inbox.allowed_origins or []),
        "prechat_fields": [{**f, "options": ", ".join(f.get("options") or [])} for f in inbox.prechat_fields or []
                           if isinstance(f, dict)],
        "first_reply_timeout_min": _per(inbox.first_reply_timeout_s, 60),
        "queue_timeout_min": _per(inbox.queue_timeout_s, 60),
        "escalation_team_id": inbox.escalation_team_id or "",
        "reopen_window_h": (inbox.reopen_window_s or 0) // 3600,
        "attachment_types": list(ATTACHMENT_CATEGORIES) if inbox.allowed_types is None else list(inbox.allowed_types),
        "max_upload_mb": _per(inbox.max_upload_bytes, 1024 * 1024),
        "members": member_ids(inbox.id),
    })
    return values


def member_ids(inbox_id: int | None) -> list[int]:
    if inbox_id is None:
        return []
    return list(db.session.scalars(sa.select(InboxMember.user_id).where(InboxMember.inbox_id == inbox_id)))


# --- use cases ----------------------------------------------------------------------------------

def save_inbox(actor_id: int, inbox_id: int | None, data: dict[str, Any], *, ip: str | None = None) -> Inbox:
    """Create (``inbox_id`` None) or update an inbox from the admin form's values."""
    settings = clean_settings(data)
    with transaction():
        if settings.members is not None:
            known = set(db.session.scalars(sa.select(User.id).where(User.id.in_(settings.members))))
            if known != set(settings.members):
                raise ValidationError(N_("Unknown operator."), field="members")
        if inbox_id is None:
            inbox = Inbox(website_token=secrets.token_urlsafe(18), hmac_secret=secrets.token_hex(32),
                          **settings.values)
            db.session.add(inbox)
            db.session.flush()
            changed = sorted(settings.values)
        else:
            found = db.session.get(Inbox, inbox_id, with_for_update=True)
            if found is None:
                raise NotFound("No such inbox.")
            inbox = found
            changed = sorted(k for k, value in settings.values.items() if getattr(inbox, k) != value)
            for key in changed:
                setattr(inbox, key, settings.values[key])
        if settings.members is not None:
            changed += _set_members(inbox.id, settings.members)
        audit.record(actor_id, "inbox.create" if inbox_id is None else "inbox.update", "inbox", inbox.id, ip=ip,
                     name=inbox.name, changed=changed)
        if inbox_id is not None and set(changed) & {*ROUTING_KEYS, "members"}:
            routing.on_capacity_changed(inbox_id=inbox.id)
    return inbox


def _set_members(inbox_id: int, wanted: list[int]) -> list[str]:
    current = set(member_ids(inbox_id))
    if current == set(wanted):
        return []
    if current - set(wanted):
        # Removed operators no longer serve this inbox: their conversations go back to its queue.
        routing.on_members_removed(inbox_id, sorted(current - set(wanted)))
    inbox_service.access_changed(current ^ set(wanted))
    db.session.execute(sa.delete(InboxMember).where(InboxMember.inbox_id == inbox_id,
                                                    InboxMember.user_id.not_in(wanted)))
    if set(wanted) - current:
        db.session.execute(pg.insert(InboxMember).values(
            [{"inbox_id": inbox_id, "user_id": uid} for uid in sorted(set(wanted) - current)])
            .on_conflict_do_nothing())
    return ["members"]


def rotate_secret(actor_id: int, inbox_id: int, *, ip: str | None = None) -> str:
    """A new HMAC secret for identity verification (the old one stops working at once); returned once."""
    secret = secrets.token_hex(32)
    with transaction():
        inbox = db.session.get(Inbox, inbox_id, with_for_update=True)
        if inbox is None:
            raise NotFound("No such inbox.")
        inbox.hmac_secret = secret
        audit.record(actor_id, "inbox.rotate_secret", "inbox", inbox.id, ip=ip)
    return secret


def open_now(inbox: Inbox, now: datetime | None = None) -> dict[str, Any]:
    """The "open now?" preview: business-hours state plus the next opening in the inbox's zone."""
    state = business_hours_state(inbox, now)
    if state["next_open_at"]:
        at = datetime.fromisoformat(state["next_open_at"]).astimezone(ZoneInfo(state["timezone"]))
        state["next_open_local"] = at.strftime("%a %H:%M")
    return state
