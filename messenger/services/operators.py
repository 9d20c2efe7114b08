"""Admin management of operators: invite, role, capacity, inbox and team membership,
deactivate / reactivate, password reset links.

The last active admin can never be demoted or deactivated: every change that could
remove an admin first locks the rows of all active admins (``FOR UPDATE``, in id order)
and counts them under that lock, so two admins demoting each other at the same moment
cannot both succeed (the second sees the first one's commit and is refused).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.exc import IntegrityError

from messenger.db import transaction
from messenger.errors import Conflict
from messenger.errors import NotFound
from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.i18n import N_
from messenger.models import ROLES
from messenger.models import Conversation
from messenger.models import Inbox
from messenger.models import InboxMember
from messenger.models import Team
from messenger.models import TeamMember
from messenger.models import User
from messenger.services import accounts
from messenger.services import audit
from messenger.services import inboxes as inbox_service
from messenger.services import naming
from messenger.services import routing
from messenger.services import users as users_service


@dataclass(frozen=True)
class OperatorRow:
    user: User
    open_count: int
    inbox_ids: list[int]
    team_ids: list[int]


@dataclass(frozen=True)
class Membership:
    inbox_ids: list[int]
    team_ids: list[int]


def list_operators() -> list[OperatorRow]:
    """Every operator (active first, then by name) with open load and memberships."""
    load = (sa.select(sa.func.count()).select_from(Conversation)
            .where(Conversation.assignee_id == User.id, Conversation.status.in_(("open", "pending")))
            .scalar_subquery())
    rows = db.session.execute(sa.select(User, load).order_by(User.active.desc(), User.name)).all()
    inboxes: dict[int, list[int]] = {}
    for inbox_id, user_id in db.session.execute(sa.select(InboxMember.inbox_id, InboxMember.user_id)):
        inboxes.setdefault(user_id, []).append(inbox_id)
    teams: dict[int, list[int]] = {}
    for team_id, user_id in db.session.execute(sa.select(TeamMember.team_id, TeamMember.user_id)):
        teams.setdefault(user_id, []).append(team_id)
    return [OperatorRow(user, int(count), sorted(inboxes.get(user.id, [])), sorted(teams.get(user.id, [])))
            for user, count in rows]


def membership(user_id: int) -> Membership:
    return Membership(
        sorted(db.session.scalars(sa.select(InboxMember.inbox_id).where(InboxMember.user_id == user_id))),
        sorted(db.session.scalars(sa.select(TeamMember.team_id).where(TeamMember.user_id == user_id))))


def _clean(name: object, role: object, capacity: object) -> tuple[str, str, int]:
    clean_name = naming.clean_name(name)
    if role not in ROLES:
        raise ValidationError(N_("Unknown role."), field="role")
    if isinstance(capacity, bool) or not isinstance(capacity, int) or not 0 <= capacity <= 1000:
        raise ValidationError(N_("Capacity must be between 0 and 1000."), field="capacity")
    return clean_name, str(role), capacity


def _check_ids(model: Any, ids: list[int], field: str) -> list[int]:
    wanted = sorted(set(ids))
    found = set(db.session.scalars(sa.select(model.id).where(model.id.in_(wanted)))) if wanted else set()
    if found != set(wanted):
        raise ValidationError(N_("Unknown inbox or team."), field=field)
    return wanted


def _set_membership(user_id: int, inbox_ids: list[int], team_ids: list[int]) -> dict[str, list[int]]:
    """Replace the user's inboxes and teams; return what was added and removed."""
    before = membership(user_id)
    db.session.execute(sa.delete(InboxMember).where(InboxMember.user_id == user_id,
                                                    InboxMember.inbox_id.not_in(inbox_ids)))
    db.session.execute(sa.delete(TeamMember).where(TeamMember.user_id == user_id,
                                                   TeamMember.team_id.not_in(team_ids)))
    new_inboxes = sorted(set(inbox_ids) - set(before.inbox_ids))
    new_teams = sorted(set(team_ids) - set(before.team_ids))
    if new_inboxes:
        db.session.execute(pg.insert(InboxMember).values([{"inbox_id": i, "user_id": user_id} for i in new_inboxes])
                           .on_conflict_do_nothing())
    if new_teams:
        db.session.execute(pg.insert(TeamMember).values([{"team_id": t, "user_id": user_id} for t in new_teams])
                           .on_conflict_do_nothing())
    changes = {"inboxes_added": new_inboxes, "inboxes_removed": sorted(set(before.inbox_ids) - set(inbox_ids)),
               "teams_added": new_teams, "teams_removed": sorted(set(before.team_ids) - set(team_ids))}
    return {k: v for k, v in changes.items() if v}


def _lock_active_admins() -> list[int]:
    """Lock every active admin row (in id order) and return their ids, as committed now."""
    return list(db.session.scalars(
        sa.select(User.id).where(User.role == "admin", User.active.is_(True)).order_by(User.id).with_for_update()))


def _refuse_removing_last_admin(user_id: int, field: str) -> None:
    admins = _lock_active_admins()
    if admins == [user_id]:
        raise Conflict(N_("This is the last active admin: make someone else an admin first."),
                       code="last_admin", field=field)


def invite_operator(actor_id: int, *, name: str, email: str, role: str, capacity: int, inbox_ids: list[int],
                    team_ids: list[int], ip: str | None = None) -> accounts.IssuedLink:
    """Create an operator without a password and a one-time invitation link (72 h)."""
    clean_name, clean_role, clean_capacity = _clean(name, role, capacity)
    clean_email = users_service.normalise_email(email)
    try:
        with transaction():
            inboxes = _check_ids(Inbox, inbox_ids, "inboxes")
            teams = _check_ids(Team, team_ids, "teams")
            if users_service.get_user_by_email(clean_email) is not None:
                raise _email_taken()
            user = User(name=clean_name, email=clean_email, password_hash=accounts.NO_PASSWORD, role=clean_role,
                        capacity=clean_capacity, availability="offline")
            db.session.add(user)
            db.session.flush()
            _set_membership(user.id, inboxes, teams)
            audit.record(actor_id, "user.invite", "user", user.id, ip=ip, email=clean_email, role=clean_role,
                         inboxes=inboxes, teams=teams)
            return accounts.issue_link(actor_id, user.id, "invite", ip=ip)
    except IntegrityError as exc:
        if naming.is_unique_violation(exc, "uq_users_email"):
            raise _email_taken() from exc
        raise


def _email_taken() -> Conflict:
    return Conflict(N_("An operator with this email exists."), code="email_taken", field="email")


def update_operator(actor_id: int, user_id: int, *, name: str, role: str, capacity: int, inbox_ids: list[int],
                    team_ids: list[int], ip: str | None = None) -> User:
    """Change name, role, capacity and memberships; refuses to demote the last active admin."""
    clean_name, clean_role, clean_capacity = _clean(name, role, capacity)
    with transaction():
        inboxes = _check_ids(Inbox, inbox_ids, "inboxes")
        teams = _check_ids(Team, team_ids, "teams")
        if clean_role != "admin":
            _refuse_removing_last_admin(user_id, "role")
        user = db.session.get(User, user_id, with_for_update=True, populate_existing=True)
        if user is None:
            raise NotFound("No such operator.")
        changes: dict[str, Any] = {k: v for k, v in (("name", clean_name), ("role", clean_role),
                                                     ("capacity", clean_capacity)) if getattr(user, k) != v}
        capacity_up = clean_capacity > user.capacity
        user.name, user.role, user.capacity = clean_name, clean_role, clean_capacity
        changes.update(_set_membership(user.id, inboxes, teams))
        audit.record(actor_id, "user.update", "user", user.id, ip=ip, **changes)
        if capacity_up or changes.get("inboxes_added"):
            # More seats (or new inboxes) for an online operator: their queues drain now (after commit).
            routing.on_capacity_changed(user_id=user.id)
        for inbox_id in changes.get("inboxes_removed", []):
            # No longer serving that inbox: their conversations there go back to its queue.
            routing.on_members_removed(inbox_id, [user.id])
        if {"role", "inboxes_added", "inboxes_removed"} & changes.keys():
            inbox_service.access_changed([user.id])  # their open panels follow at once
    return user


def set_active(actor_id: int, user_id: int, active: bool, *, ip: str | None = None) -> User:
    """Deactivate (sessions end, open conversations back to the queue) or reactivate an operator."""
    with transaction():
        if not active:
            _refuse_removing_last_admin(user_id, "active")
            return users_service.deactivate_user(actor_id, user_id, ip=ip)
        user = db.session.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("No such operator.")
        if not user.active:
            user.active = True
            audit.record(actor_id, "user.reactivate", "user", user.id, ip=ip)
    return user


def reset_password(actor_id: int, user_id: int, *, ip: str | None = None) -> accounts.IssuedLink:
    """A new one-time link to set a password (an invitation again if none was ever set)."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such operator.")
    if not user.active:
        raise Conflict(N_("Reactivate the operator first."), code="inactive")
    return accounts.issue_link(actor_id, user_id, "invite" if user.password_hash == accounts.NO_PASSWORD
                               else "reset", ip=ip)
