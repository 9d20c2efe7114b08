"""Webhooks: admin use cases, the event-log pump, signed delivery with retries, the sweeper.

Flow (details and the receiver's verification recipe: docs/integrations.md):

1. ``pump()`` reads the event log after each active webhook's ``cursor`` and inserts one
   ``webhook_deliveries`` row per matching event, advancing the cursor in the same
   transaction. Events exist only for committed changes, so nothing is sent for a
   rolled-back one; the rows are the durable memory, so a Redis outage loses nothing.
2. After that commit one drain job per webhook is enqueued on the ``webhooks`` queue
   (``jobs.webhooks.drain``, coalesced by a Redis key while one is queued). It sends the
   webhook's due deliveries oldest first; ``deliver`` claims each row with a short lease
   (so a twin job cannot send it twice at once), POSTs outside any transaction through
   the SSRF guard (``security.outbound``), and records the attempt.
3. A failure schedules the next attempt with exponential backoff and jitter
   (``WEBHOOK_RETRY_INTERVALS``: 8 attempts over about a day); after the last one the
   delivery is ``failed``. 20 consecutive failures disable the webhook and tell admins.
4. ``sweep()`` (run by the worker's integration loop every few seconds, from PostgreSQL
   alone) asks for a drain of every webhook with due deliveries nobody picked up.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects.postgresql import insert as pg_insert

from messenger.db import after_commit
from messenger.db import transaction
from messenger.errors import NotFound
from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.jobs import catalog
from messenger.jobs import enqueue_coalesced
from messenger.jobs import forget_request
from messenger.metrics import count_webhook_delivery
from messenger.models import Event
from messenger.models import User
from messenger.models import Webhook
from messenger.models import WebhookAttempt
from messenger.models import WebhookDelivery
from messenger.security import outbound
from messenger.services import audit

logger = logging.getLogger(__name__)


# Webhook event name -> label shown in admin. Order is the order of the admin form.
EVENTS: dict[str, str] = {
    "message.created": "Message created (visitor and operator messages; notes only if opted in)",
    "conversation.created": "Conversation created",
    "conversation.status_changed": "Conversation status changed (open, pending, snoozed, resolved)",
    "conversation.assigned": "Conversation assigned (operator or team changed)",
    "contact.created": "Contact created",
    "contact.updated": "Contact updated",
    "csat.created": "Satisfaction rating received",
}
_LOG_KINDS = ("message.created", "conversation.created", "conversation.updated", "contact.created",
              "contact.updated", "csat.created")
PUMP_BATCH = 500
DRAIN_BATCH = 50
DRAIN_BUDGET_S = 20.0  # one drain job sends for at most this long, then hands over to a fresh one
DRAIN_PENDING_TTL_S = 120
CLAIM_LEASE_S = 60  # longer than one attempt (10 s timeout) with room to record it
SWEEP_GRACE_S = 15  # a due delivery not claimed after this long is re-enqueued
SIGNATURE_TOLERANCE_S = 300
MAX_NAME = 120


@dataclass(frozen=True)
class Settings:
    """Delivery settings read from the app config."""

    allow_private: bool
    timeout_s: float
    retry_intervals: tuple[int, ...]
    max_failures: int
    ca_bundle: str | None = None  # PEM file of CAs trusted for HTTPS receivers besides the system's


def settings() -> Settings:
    """The webhook settings of the current app."""
    cfg = current_app.config
    return Settings(allow_private=bool(cfg["WEBHOOK_ALLOW_PRIVATE"]), timeout_s=float(cfg["WEBHOOK_TIMEOUT_S"]),
                    retry_intervals=parse_intervals(str(cfg["WEBHOOK_RETRY_INTERVALS"])),
                    max_failures=int(cfg["WEBHOOK_MAX_FAILURES"]),
                    ca_bundle=str(cfg.get("WEBHOOK_CA_BUNDLE") or "") or None)


def parse_intervals(text: str) -> tuple[int, ...]:
    """``"30,120,…"`` -> seconds between attempts (attempts = len + 1)."""
    return tuple(max(0, int(part)) for part in text.split(",") if part.strip())


# --- signing --------------------------------------------------------------------------------

def new_secret() -> str:
    """A fresh signing secret (shown to the admin once)."""
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The ``X-Messenger-Signature`` value: ``t=<unix>,v1=<hex hmac-sha256(secret, "t.body")>``."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, body: bytes, header: str, *, now: float | None = None,
                     tolerance_s: int = SIGNATURE_TOLERANCE_S) -> bool:
    """The receiver's check (also documented for receivers): timestamp fresh, any v1 matches."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, candidate) for candidate in fields.get("v1", []))


def log_head() -> int:
    """The newest event id (0 when the log is empty)."""
    return int(db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(Event.id), 0))) or 0)


# --- admin use cases ---------------------------------------------------------------------------

def clean_url(url: object, *, check_address: bool = True) -> str:
    """A webhook URL, checked for form and for where it points now (again at every send).

    A host that does not resolve yet is accepted: the send-time check decides, and the
    delivery log shows why an attempt failed.
    """
    if not isinstance(url, str):
        raise ValidationError("Enter an http(s) URL.", field="url")
    url = url.strip()
    try:
        if check_address:
            outbound.resolve(url, allow_private=settings().allow_private)
        else:
            outbound.parse_url(url)
    except outbound.Unresolvable:
        pass
    except outbound.BlockedDestination as exc:
        raise ValidationError(str(exc), field="url") from None
    return url


def clean_events(events: object) -> list[str]:
    """A non-empty list of known event names, in the canonical order."""
    if not isinstance(events, list | tuple) or not all(isinstance(e, str) for e in events):
        raise ValidationError("Choose the events to send.", field="events")
    unknown = sorted(set(events) - set(EVENTS))
    if unknown:
        raise ValidationError(f"Unknown event: {unknown[0]}.", field="events")
    if not events:
        raise ValidationError("Choose at least one event.", field="events")
    return [name for name in EVENTS if name in events]


def clean_name(name: object) -> str:
    if not isinstance(name, str) or len(name.strip()) > MAX_NAME:
        raise ValidationError(f"The name is at most {MAX_NAME} characters.", field="name")
    return name.strip()


def list_webhooks() -> list[Webhook]:
    return list(db.session.scalars(sa.select(Webhook).order_by(Webhook.id)))


def get_webhook(webhook_id: int) -> Webhook:
    hook = db.session.get(Webhook, webhook_id)
    if hook is None:
        raise NotFound("No such webhook.")
    return hook


def create_webhook(actor: User, *, url: object, events: object, name: object = "", include_private: bool = False,
                   active: bool = True, ip: str | None = None) -> tuple[Webhook, str]:
    """Create a webhook; returns it and its secret (shown once). Only future events are sent."""
    values = {"url": clean_url(url), "events": clean_events(events), "name": clean_name(name)}
    secret = new_secret()
    with transaction():
        hook = Webhook(secret=secret, include_private=bool(include_private), active=bool(active), cursor=log_head(),
                       created_by_id=actor.id, **values)
        db.session.add(hook)
        db.session.flush()
        audit.record(actor.id, "webhook.created", "webhook", hook.id, ip=ip, url=hook.url, events=hook.events,
                     include_private=hook.include_private)
    return hook, secret


def update_webhook(actor: User, webhook_id: int, *, url: object, events: object, name: object = "",
                   include_private: bool = False, active: bool = True, ip: str | None = None) -> Webhook:
    """Change a webhook. Re-enabling starts from now (events while disabled are not sent)."""
    values = {"url": clean_url(url), "events": clean_events(events), "name": clean_name(name)}
    with transaction():
        hook = db.session.get(Webhook, webhook_id, with_for_update=True)
        if hook is None:
            raise NotFound("No such webhook.")
        if active and not hook.active:
            hook.cursor = log_head()
            hook.consecutive_failures = 0
            hook.disabled_reason = None
            hook.disabled_at = None
        for key, value in values.items():
            setattr(hook, key, value)
        hook.include_private = bool(include_private)
        hook.active = bool(active)
        audit.record(actor.id, "webhook.updated", "webhook", hook.id, ip=ip, url=hook.url, events=hook.events,
                     include_private=hook.include_private, active=hook.active)
    return hook


def rotate_secret(actor: User, webhook_id: int, *, ip: str | None = None) -> str:
    """Replace the signing secret; returns the new one (shown once)."""
    secret = new_secret()
    with transaction():
        hook = get_webhook(webhook_id)
        hook.secret = secret
        hook.secret_rotated_at = utcnow()
        audit.record(actor.id, "webhook.secret_rotated", "webhook", hook.id, ip=ip)
    return secret


def delete_webhook(actor: User, webhook_id: int, *, ip: str | None = None) -> None:
    with transaction():
        hook = get_webhook(webhook_id)
        audit.record(actor.id, "webhook.deleted", "webhook", hook.id, ip=ip, url=hook.url)
        db.session.delete(hook)


def list_deliveries(webhook_id: int, *, limit: int = 50, before_id: int | None = None) -> list[WebhookDelivery]:
    query = sa.select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    if before_id is not None:
        query = query.where(WebhookDelivery.id < before_id)
    return list(db.session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit)))


def list_attempts(delivery_id: int) -> list[WebhookAttempt]:
    return list(db.session.scalars(sa.select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id)
                                   .order_by(WebhookAttempt.id)))


def get_delivery(webhook_id: int, delivery_id: int) -> WebhookDelivery:
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.webhook_id != webhook_id:
        raise NotFound("No such delivery.")
    return delivery


def redeliver(actor: User, webhook_id: int, delivery_id: int, *, ip: str | None = None) -> WebhookDelivery:
    """Send a delivery again now (same body and event id; attempts continue to be logged)."""
    with transaction():
        delivery = db.session.get(WebhookDelivery, delivery_id, with_for_update=True)
        if delivery is None or delivery.webhook_id != webhook_id:
            raise NotFound("No such delivery.")
        delivery.status = "pending"
        delivery.next_attempt_at = utcnow()
        audit.record(actor.id, "webhook.redelivered", "webhook_delivery", delivery.id, ip=ip, webhook_id=webhook_id)
        after_commit(lambda: request_drain(webhook_id))
    return delivery


# --- the pump: event log -> deliveries --------------------------------------------------------------

def webhook_event(kind: str, payload: dict[str, Any], private: bool, hook: Webhook) -> str | None:
    """The webhook event name a log event is sent as to ``hook``, or None when not sent."""
    if kind == "message.created":
        name = _message_event(payload, private, hook.include_private)
    elif kind == "conversation.updated":
        name = _conversation_event(payload.get("changed") or [], hook.events)
    else:
        name = kind
    return name if name is not None and name in hook.events else None


def _message_event(payload: dict[str, Any], private: bool, include_private: bool) -> str | None:
    if payload.get("type") == "note" or private:
        return "message.created" if include_private else None  # never a note unless opted in
    return "message.created" if payload.get("type") in ("incoming", "outgoing") else None  # no activity lines


def _conversation_event(changed: list[str], wanted: list[Any]) -> str | None:
    if "status" in changed and "conversation.status_changed" in wanted:
        return "conversation.status_changed"
    if "assignee_id" in changed or "team_id" in changed:
        return "conversation.assigned"
    return None


def body_for(name: str, event: Event) -> dict[str, Any]:
    """The JSON body of a delivery (stored, so every retry sends the same bytes)."""
    payload = dict(event.payload)
    if event.kind.startswith("message."):
        payload.setdefault("inbox_id", event.inbox_id)
        payload.setdefault("contact_id", event.contact_id)
        payload["private"] = bool(event.private)
    return {"event": name, "id": event.id, "created_at": event.created_at.astimezone(timezone.utc).isoformat(),
            "payload": payload}


def pump(batch: int = PUMP_BATCH) -> list[int]:
    """Turn new log events into deliveries for every active webhook; returns the new delivery ids."""
    created: list[int] = []
    with transaction():
        hooks = db.session.scalars(sa.select(Webhook).where(Webhook.active).order_by(Webhook.id)
                                   .with_for_update(skip_locked=True)).all()
        if not hooks:
            return created
        head = log_head()
        busy = []
        for hook in hooks:
            new = _pump_one(hook, head, batch)
            created.extend(new)
            if new:
                busy.append(hook.id)
        after_commit(lambda: _request_drains(busy))
    return created


def pump_all(max_rounds: int = 20) -> int:
    """Pump until caught up (bounded); returns how many deliveries were created."""
    total = 0
    for _ in range(max_rounds):
        created = pump()
        total += len(created)
        if not _behind():
            break
    return total


def _behind() -> bool:
    head = sa.select(sa.func.coalesce(sa.func.max(Event.id), 0)).scalar_subquery()
    return bool(db.session.scalar(sa.select(sa.exists().where(Webhook.active, Webhook.cursor < head))))


def _pump_one(hook: Webhook, head: int, batch: int) -> list[int]:
    if hook.cursor >= head:
        return []
    events = db.session.scalars(
        sa.select(Event).where(Event.id > hook.cursor, Event.id <= head, Event.kind.in_(_LOG_KINDS))
        .order_by(Event.id).limit(batch)).all()
    hook.cursor = events[-1].id if len(events) == batch else head
    rows = []
    previous_contact: tuple[int | None, Any] | None = None
    for event in events:
        name = webhook_event(event.kind, event.payload, event.private, hook)
        if name is None:
            continue
        if event.kind == "contact.updated":
            # The log has one row per inbox the contact talked in; receivers get one.
            key = (event.contact_id, event.payload)
            if key == previous_contact:
                continue
            previous_contact = key
        rows.append({"webhook_id": hook.id, "event_id": event.id, "kind": name, "payload": body_for(name, event),
                     "next_attempt_at": sa.func.now()})
    if not rows:
        return []
    stmt = pg_insert(WebhookDelivery).values(rows).on_conflict_do_nothing(
        constraint="uq_webhook_deliveries_webhook_event").returning(WebhookDelivery.id)
    return list(db.session.scalars(stmt))


def _drain_key(webhook_id: int) -> str:
    return f"messenger:webhook-drain:{webhook_id}"


def request_drain(webhook_id: int) -> None:
    """Enqueue one drain job for a webhook, unless one is queued and not started yet (it will see our rows)."""
    enqueue_coalesced(catalog.WEBHOOK_DRAIN, _drain_key(webhook_id), webhook_id, ttl_s=DRAIN_PENDING_TTL_S)


def _request_drains(webhook_ids: list[int]) -> None:
    for webhook_id in webhook_ids:
        request_drain(webhook_id)


def sweep() -> int:
    """Ask for a drain of every webhook with due deliveries nobody picked up (Redis lost the job)."""
    with transaction():
        ids = list(db.session.scalars(
            sa.select(WebhookDelivery.webhook_id).join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(WebhookDelivery.status == "pending", Webhook.active,
                   WebhookDelivery.next_attempt_at <= sa.func.now() - timedelta(seconds=SWEEP_GRACE_S))
            .distinct()))
    _request_drains(ids)
    return len(ids)


def drain(webhook_id: int, *, budget_s: float = DRAIN_BUDGET_S) -> int:
    """Job: send the webhook's due deliveries oldest first, within a time budget; returns how many attempts.

    One job per webhook (not per delivery) keeps a burst cheap for a forking worker and
    sends in event order; what is left when the budget runs out gets a fresh drain.
    """
    forget_request(_drain_key(webhook_id))  # anything committed from now on asks for a new drain
    started = time.monotonic()
    attempts = 0
    while time.monotonic() - started < budget_s:
        with transaction():
            due = list(db.session.scalars(
                sa.select(WebhookDelivery.id).where(WebhookDelivery.webhook_id == webhook_id,
                                                    WebhookDelivery.status == "pending",
                                                    WebhookDelivery.next_attempt_at <= sa.func.now())
                .order_by(WebhookDelivery.id).limit(DRAIN_BATCH)))
        if not due:
            return attempts
        for delivery_id in due:
            if deliver(delivery_id) != "skipped":
                attempts += 1
            if time.monotonic() - started >= budget_s:
                break
    request_drain(webhook_id)
    return attempts


# --- delivery ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Claim:
    delivery_id: int
    webhook_id: int
    url: str
    secret: str
    kind: str
    body: bytes
    attempt: int


def _claim(delivery_id: int) -> _Claim | None:
    """Take the delivery for one attempt (a lease), or None when it is not due or not ours to send."""
    with transaction():
        row = db.session.execute(
            sa.update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending",
                   WebhookDelivery.next_attempt_at <= sa.func.now(),
                   WebhookDelivery.webhook_id.in_(sa.select(Webhook.id).where(Webhook.active)))
            .values(next_attempt_at=sa.func.now() + timedelta(seconds=CLAIM_LEASE_S))
            .returning(WebhookDelivery.webhook_id, WebhookDelivery.kind, WebhookDelivery.payload,
                       WebhookDelivery.attempts)).first()
        if row is None:
            return None
        hook = db.session.get(Webhook, row.webhook_id)
        assert hook is not None  # the UPDATE above matched an active webhook
        body = json.dumps(row.payload, separators=(",", ":"), ensure_ascii=False).encode()
        return _Claim(delivery_id, hook.id, hook.url, hook.secret, row.kind, body, row.attempts + 1)


def deliver(delivery_id: int) -> str:
    """One attempt of one delivery; returns the outcome (``success``, ``retry``, ``failed``, ``skipped``)."""
    claim = _claim(delivery_id)
    if claim is None:
        return "skipped"
    cfg = settings()
    try:
        target = outbound.resolve(claim.url, allow_private=cfg.allow_private)
    except outbound.BlockedDestination as exc:
        response = outbound.Response(status=None, body="", duration_ms=0, error=f"refused: {exc}")
    else:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Messenger-Webhooks/1",
            "X-Messenger-Event": claim.kind,
            "X-Messenger-Delivery": str(claim.delivery_id),
            "X-Messenger-Signature": sign(claim.secret, claim.body, int(time.time())),
        }
        response = outbound.post(target, claim.body, headers, timeout=cfg.timeout_s, ca_bundle=cfg.ca_bundle)
    return _record(claim, response, cfg)


def _backoff(attempt: int, intervals: tuple[int, ...]) -> float:
    base = intervals[min(attempt, len(intervals)) - 1]
    return base * random.uniform(0.8, 1.2)  # jitter: receivers coming back are not hit all at once


def _record(claim: _Claim, response: outbound.Response, cfg: Settings) -> str:
    ok = response.status is not None and 200 <= response.status < 300
    error = response.error or (None if ok else f"HTTP {response.status}")
    outcome = "success" if ok else ("failed" if claim.attempt > len(cfg.retry_intervals) else "retry")
    retry_in = _backoff(claim.attempt, cfg.retry_intervals) if outcome == "retry" else 0.0
    with transaction():
        delivery = db.session.get(WebhookDelivery, claim.delivery_id, with_for_update=True)
        hook = db.session.get(Webhook, claim.webhook_id, with_for_update=True)
        if delivery is None or hook is None:
            return "skipped"  # deleted meanwhile
        body = response.body[:2048] or None
        db.session.add(WebhookAttempt(delivery_id=delivery.id, number=claim.attempt, response_code=response.status,
                                      duration_ms=response.duration_ms, error=error, response_body=body))
        delivery.attempts = claim.attempt
        delivery.response_code = response.status
        delivery.duration_ms = response.duration_ms
        delivery.response_body = body
        delivery.error = error
        delivery.last_attempt_at = utcnow()
        _settle(delivery, hook, outcome, retry_in, error, cfg)
    logger.info("webhook %s delivery %s attempt %s: %s (%s)", claim.webhook_id, claim.delivery_id, claim.attempt,
                outcome, response.status or error)
    count_webhook_delivery({"success": "delivered", "retry": "failed", "failed": "gave_up"}[outcome])
    return outcome


def _settle(delivery: WebhookDelivery, hook: Webhook, outcome: str, retry_in: float, error: str | None,
            cfg: Settings) -> None:
    """Move the delivery to its next state and keep the webhook's failure streak."""
    if outcome == "success":
        delivery.status = "success"
        delivery.delivered_at = utcnow()
        delivery.next_attempt_at = None
        hook.consecutive_failures = 0
        return
    delivery.status = "failed" if outcome == "failed" else "pending"
    delivery.next_attempt_at = None if outcome == "failed" else utcnow() + timedelta(seconds=retry_in)
    hook.consecutive_failures += 1
    if hook.active and hook.consecutive_failures >= cfg.max_failures:
        _disable(hook, f"{hook.consecutive_failures} consecutive failed deliveries (last: {error})")
    if outcome == "retry":
        webhook_id = hook.id
        after_commit(lambda: catalog.WEBHOOK_DRAIN.delay(webhook_id, delay=timedelta(seconds=retry_in)))


def _disable(hook: Webhook, reason: str) -> None:
    hook.active = False
    hook.disabled_reason = reason[:255]
    hook.disabled_at = utcnow()
    audit.record(None, "webhook.disabled", "webhook", hook.id, url=hook.url, reason=hook.disabled_reason)
    logger.warning("webhook %s (%s) disabled: %s", hook.id, hook.url, reason)
    hook_id = hook.id
    after_commit(lambda: _notify_admins_disabled(hook_id))


def _notify_admins_disabled(webhook_id: int) -> None:
    """Tell admins by e-mail when SMTP is configured (the admin pages always show the notice)."""
    from messenger.services import mail

    mail.notify_admins_webhook_disabled(webhook_id)


def disabled_webhooks() -> list[Webhook]:
    """Webhooks switched off by repeated failures (the admin pages show a notice)."""
    return list(db.session.scalars(sa.select(Webhook).where(~Webhook.active, Webhook.disabled_reason.is_not(None))
                                   .order_by(Webhook.id)))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
