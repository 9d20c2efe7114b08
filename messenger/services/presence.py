"""Presence: operator availability (online / busy / offline) and who is connected.

- ``set_availability`` is the one way availability changes; the users trigger writes a
  ``presence.updated`` event and, after commit, the router is told
  (``routing.on_operator_offline`` / ``on_operator_online``).
- Open streams refresh ``users.last_seen_at`` / ``contact_sessions.last_seen_at`` every
  heartbeat (the hub does it for its process). ``sweep_stale`` then turns operators and
  visitors whose last stream closed more than the grace period ago offline. The sweep
  is one conditional UPDATE ... RETURNING, so when several processes sweep at once each
  row changes exactly once and the router hook runs once.
"""
from __future__ import annotations

import logging
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import sqlalchemy as sa

from messenger.db import rows_changed
from messenger.db import transaction
from messenger.errors import Conflict
from messenger.errors import Forbidden
from messenger.errors import NotFound
from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.models import AVAILABILITIES
from messenger.models import ContactSession
from messenger.models import User
from messenger.services import audit
from messenger.services import routing

logger = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _notify_router(user_id: int, availability: str) -> None:
    if availability == "offline":
        routing.on_operator_offline(user_id)
    elif availability == "online":
        routing.on_operator_online(user_id)


def set_availability(actor_id: int | None, user_id: int, availability: object) -> User:
    """Set an operator's availability (themselves, or anyone for an admin / the system)."""
    if not isinstance(availability, str) or availability not in AVAILABILITIES:
        raise ValidationError(f"Availability must be one of: {', '.join(AVAILABILITIES)}.", field="availability")
    with transaction():
        if actor_id is not None and actor_id != user_id:
            actor = db.session.get(User, actor_id)
            if actor is None or actor.role != "admin":
                raise Forbidden("You can only change your own availability.")
        user = db.session.get(User, user_id, with_for_update=True, populate_existing=True)
        if user is None:
            raise NotFound("No such operator.")
        if not user.active and availability != "offline":
            raise Conflict("This operator is deactivated.", code="inactive")
        if actor_id == user_id:
            user.availability_choice = availability  # remembered: the panel restores it on the next visit
        if user.availability == availability:
            return user
        user.availability = availability
        if availability != "offline":
            # The grace clock starts now: no open stream within the grace period means offline.
            user.last_seen_at = _now()
        audit.record(actor_id, "user.availability", "user", user.id, availability=availability)
        _notify_router(user.id, availability)
    logger.info("operator %s is now %s (by %s)", user_id, availability, actor_id)
    return user


# A heartbeat younger than this is fresh enough: a stream opening then writes nothing. Far below
# PRESENCE_GRACE_S, so the sweep never sees a live stream as gone; it spares the row lock and the
# commit flush when many streams of one operator (tabs after a restart) open at once.
SEEN_FRESH_S = 5


def _stale(column: sa.orm.InstrumentedAttribute[datetime | None]) -> sa.ColumnElement[bool]:
    return sa.or_(column.is_(None), column < sa.func.now() - sa.text(f"interval '{SEEN_FRESH_S} seconds'"))


def operator_seen(user_id: int) -> None:
    """An operator's stream is open: refresh the heartbeat unless it is fresh (never changes availability)."""
    with transaction():
        db.session.execute(sa.update(User).where(User.id == user_id, _stale(User.last_seen_at))
                           .values(last_seen_at=sa.func.now()))


def visitor_seen(session_id: int) -> None:
    """A visitor's stream or poll is open: heartbeat, and mark the session online if it was not."""
    with transaction():
        refreshed = rows_changed(
            sa.update(ContactSession).where(ContactSession.id == session_id, ContactSession.online.is_(True),
                                            _stale(ContactSession.last_seen_at))
            .values(last_seen_at=sa.func.now()))
        if not refreshed:
            # Offline (or fresh: then this matches nothing). Only this statement names ``online``, so the
            # trigger emits contact.session once per transition.
            db.session.execute(sa.update(ContactSession)
                               .where(ContactSession.id == session_id, ContactSession.online.is_(False))
                               .values(online=True, last_seen_at=sa.func.now()))


def sweep_stale(grace_s: int) -> tuple[list[int], int]:
    """Operators and visitors with no open stream for ``grace_s`` go offline; returns (user ids, sessions)."""
    cutoff = _now() - timedelta(seconds=grace_s)
    with transaction():
        # last_seen_at IS NULL means "never had a stream": availability was set another way.
        user_ids = list(db.session.scalars(
            sa.update(User)
            .where(User.availability != "offline", User.last_seen_at.is_not(None), User.last_seen_at < cutoff)
            .values(availability="offline").returning(User.id)))
        for user_id in user_ids:
            audit.record(None, "user.availability", "user", user_id, availability="offline", reason="no_stream")
            _notify_router(user_id, "offline")
        sessions = rows_changed(
            sa.update(ContactSession).where(ContactSession.online.is_(True), ContactSession.last_seen_at < cutoff)
            .values(online=False))
    if user_ids:
        logger.info("presence sweep: operators %s went offline (no stream for %ss)", user_ids, grace_s)
    return user_ids, int(sessions or 0)
