"""The capacity rule: may this operator take one more conversation in this inbox right now?

An operator has a seat when they are active, ``online``, a member of the inbox (of the team,
when one is asked for) and below both capacities: their own ``User.capacity`` over all
inboxes AND ``Inbox.capacity`` in this inbox. Assigned ``open``/``pending`` conversations
count. Every answer is given under the operator's advisory lock and re-counted there, so
a claim that follows in the same transaction cannot put anyone over capacity.

This module sits below conversations, messages and the router: it reads models only.
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import Conversation
from messenger.models import Inbox
from messenger.models import InboxMember
from messenger.models import TeamMember
from messenger.models import User

# Advisory lock class of the per-operator locks (two-int form; the event log uses a bigint key).
LOCK_OPERATOR = 72_711
LOAD = ("open", "pending")  # statuses that count against an operator's capacity


@dataclass(frozen=True)
class Seat:
    """An operator who may take one more conversation in an inbox right now."""

    user_id: int
    name: str
    load: int
    last_assigned_at: datetime | None


def lock_operators(user_ids: Collection[int]) -> None:
    """Per-operator advisory locks in ascending id (one round trip; unnest keeps array order)."""
    if user_ids:
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:c, u) FROM unnest(CAST(:ids AS int[])) AS u"),
                           {"c": LOCK_OPERATOR, "ids": sorted(set(user_ids))})


def loads(inbox: Inbox, user_ids: list[int]) -> sa.Select[Any]:
    """Operators' current loads: all their open/pending conversations (``total``), those in this inbox (``here``)."""
    busy = sa.and_(Conversation.assignee_id == User.id, Conversation.status.in_(LOAD))
    total = sa.select(sa.func.count()).where(busy).correlate(User).scalar_subquery()
    here = sa.select(sa.func.count()).where(busy, Conversation.inbox_id == inbox.id).correlate(User).scalar_subquery()
    return (sa.select(User.id, User.name, User.capacity, User.last_assigned_at, total.label("total"),
                      here.label("here"))
            .where(User.id.in_(user_ids)).order_by(User.id))


def below_capacity(inbox: Inbox, row: sa.Row[Any]) -> bool:
    """A ``loads`` row is below both the operator's and the inbox's capacity."""
    return bool(row.total < row.capacity and (inbox.capacity is None or row.here < inbox.capacity))


def eligible(inbox_id: int, team_id: int | None) -> sa.Select[Any]:
    """Active, online members of the inbox (and of the team, when given)."""
    query = (sa.select(User.id).join(InboxMember, InboxMember.user_id == User.id)
             .where(InboxMember.inbox_id == inbox_id, User.active, User.availability == "online"))
    if team_id is not None:
        query = query.join(TeamMember, sa.and_(TeamMember.user_id == User.id, TeamMember.team_id == team_id))
    return query


def free_seats(inbox: Inbox, *, team_id: int | None = None, exclude: Collection[int | None] = ()) -> list[Seat]:
    """Online members below both capacities, each locked and re-counted; ordered by user id."""
    candidates = [uid for uid in db.session.scalars(eligible(inbox.id, team_id)) if uid not in exclude]
    if not candidates:
        return []
    lock_operators(candidates)
    # Re-read under the locks: availability may have changed, and loads are what others committed.
    still = set(db.session.scalars(eligible(inbox.id, team_id).where(User.id.in_(candidates))))
    return [Seat(row.id, row.name, row.total, row.last_assigned_at)
            for row in db.session.execute(loads(inbox, sorted(still))) if below_capacity(inbox, row)]


def has_free_seat(inbox: Inbox, user_id: int) -> bool:
    """Whether this operator may take one more conversation in the inbox now (locked and re-counted)."""
    if db.session.scalar(eligible(inbox.id, None).where(User.id == user_id)) is None:
        return False
    lock_operators([user_id])
    row = db.session.execute(loads(inbox, [user_id])).first()
    return row is not None and below_capacity(inbox, row)


def may_keep(inbox: Inbox, user_id: int, *, acting: bool = False) -> bool:
    """Whether an assignee keeps a conversation that comes back to life (reopened).

    In an auto-assigning inbox only with a free seat (online, below capacity); in a manual
    inbox while active and not offline. Never over capacity, never to an offline operator.
    ``acting``: the assignee reopens it themselves, so they are present whatever their
    availability says; capacity still holds in an auto-assigning inbox.
    """
    if not inbox.auto_assignment:
        user = db.session.get(User, user_id)
        return user is not None and user.active and (acting or user.availability != "offline")
    if not acting:
        return has_free_seat(inbox, user_id)
    lock_operators([user_id])
    row = db.session.execute(loads(inbox, [user_id]).where(User.active)).first()
    return row is not None and below_capacity(inbox, row)
