"""Inboxes and who may see them."""
from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from messenger.db import notify_ephemeral
from messenger.db import transaction
from messenger.errors import NotFound
from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.models import Inbox
from messenger.models import InboxMember
from messenger.models import User
from messenger.services import audit


def create_inbox(actor_id: int | None, *, name: str, allowed_origins: list[str] | None = None,
                 **settings: Any) -> Inbox:
    """Create an inbox with a fresh website token and HMAC secret."""
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValidationError("Name is required (at most 120 characters).", field="name")
    with transaction():
        inbox = Inbox(name=name, website_token=secrets.token_urlsafe(18), hmac_secret=secrets.token_hex(32),
                      allowed_origins=list(allowed_origins or []), **settings)
        db.session.add(inbox)
        db.session.flush()
        audit.record(actor_id, "inbox.create", "inbox", inbox.id, name=name)
    return inbox


def add_member(actor_id: int | None, inbox_id: int, user_id: int) -> None:
    """Let an operator see (and be assigned in) an inbox; idempotent."""
    with transaction():
        if db.session.get(Inbox, inbox_id) is None or db.session.get(User, user_id) is None:
            raise NotFound("No such inbox or operator.")
        db.session.execute(
            pg.insert(InboxMember).values(inbox_id=inbox_id, user_id=user_id)
            .on_conflict_do_nothing())
        audit.record(actor_id, "inbox.add_member", "inbox", inbox_id, user_id=user_id)
        access_changed([user_id])


_ACCESS_BATCH = 500  # ids per notification (PostgreSQL caps a payload at 8000 bytes)


def access_changed(user_ids: Iterable[int]) -> None:
    """Operators' roles or inbox memberships change in the current transaction: at commit every
    realtime hub re-reads their access, so their open streams follow at once (not at the next heartbeat)."""
    ids = sorted(set(user_ids))
    for start in range(0, len(ids), _ACCESS_BATCH):
        notify_ephemeral({"kind": "operator.access_changed", "user_ids": ids[start:start + _ACCESS_BATCH]})


def get_inbox_by_token(website_token: str) -> Inbox | None:
    if not isinstance(website_token, str) or not 8 <= len(website_token) <= 64:
        return None
    return db.session.scalar(sa.select(Inbox).where(Inbox.website_token == website_token))


def visible_inbox_ids(user: User) -> list[int]:
    """Inboxes an operator may see: admins see all, agents their memberships."""
    if user.role == "admin":
        return list(db.session.scalars(sa.select(Inbox.id)))
    return list(db.session.scalars(sa.select(InboxMember.inbox_id).where(InboxMember.user_id == user.id)))


def can_see_inbox(user: User, inbox_id: int) -> bool:
    if user.role == "admin":
        return True
    return db.session.get(InboxMember, (inbox_id, user.id)) is not None
