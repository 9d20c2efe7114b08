"""The admin live view's state: operators (availability, open conversations against capacity) and the queue.

``snapshot()`` is what ``/admin/live`` renders and what its script fetches again
(``/admin/live.json``) whenever the operator event stream reports a change of
presence, a conversation or a queue. The rules are the routing's own: an operator's
load is their assigned ``open``/``pending`` conversations (``capacity.LOAD``); the queue
is every unassigned waiting conversation (``assignment.queue.queue_filter``), oldest first.
"""
from __future__ import annotations

from datetime import datetime
from datetime import timezone
from typing import Any

import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import Contact
from messenger.models import Conversation
from messenger.models import Inbox
from messenger.models import User
from messenger.services.assignment.queue import WAITING
from messenger.services.capacity import LOAD

QUEUE_LIMIT = 200
_ORDER = {"online": 0, "busy": 1, "offline": 2}


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(timezone.utc).isoformat() if value else None


def operators() -> list[dict[str, Any]]:
    """Active operators, online first, with their open conversations and capacity."""
    load = (sa.select(sa.func.count()).where(Conversation.assignee_id == User.id, Conversation.status.in_(LOAD))
            .correlate(User).scalar_subquery())
    rows = db.session.execute(sa.select(User.id, User.name, User.role, User.availability, User.capacity,
                                        User.last_seen_at, load.label("open"))
                              .where(User.active.is_(True)).order_by(User.name, User.id)).all()
    found = [{"id": r.id, "name": r.name, "role": r.role, "availability": r.availability, "open": int(r.open),
              "capacity": int(r.capacity), "last_seen_at": _iso(r.last_seen_at)} for r in rows]
    return sorted(found, key=lambda o: _ORDER.get(str(o["availability"]), 3))


def queue(now: datetime) -> list[dict[str, Any]]:
    """Unassigned waiting conversations of every inbox, oldest first (at most ``QUEUE_LIMIT``)."""
    rows = db.session.execute(
        sa.select(Conversation.id, Conversation.display_id, Conversation.status, Conversation.waiting_since,
                  Conversation.inbox_id, Inbox.name.label("inbox"), Contact.name.label("contact"),
                  Contact.email.label("email"))
        .join(Inbox, Inbox.id == Conversation.inbox_id).join(Contact, Contact.id == Conversation.contact_id)
        .where(Conversation.assignee_id.is_(None), Conversation.status.in_(WAITING),
               Conversation.waiting_since.is_not(None))
        .order_by(Conversation.waiting_since, Conversation.id).limit(QUEUE_LIMIT)).all()
    return [{"id": r.id, "display_id": r.display_id, "status": r.status, "waiting_since": _iso(r.waiting_since),
             "waiting_s": max(0, int((now - r.waiting_since).total_seconds())),
             "inbox_id": r.inbox_id, "inbox": r.inbox, "contact": r.contact or r.email or ""} for r in rows]


def snapshot() -> dict[str, Any]:
    now = datetime.now(timezone.utc)
    ops = operators()
    waiting = queue(now)
    return {"now": _iso(now), "operators": ops, "queue": waiting,
            "online": sum(1 for o in ops if o["availability"] == "online"), "waiting": len(waiting)}
