"""Teams: named groups of operators that conversations can be routed to."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from messenger.db import transaction
from messenger.errors import NotFound
from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.i18n import N_
from messenger.models import Team
from messenger.models import TeamMember
from messenger.models import User
from messenger.services import audit
from messenger.services import naming

TEAM_LOCK = 72_721  # advisory lock serialising team name checks


def list_teams() -> list[tuple[Team, list[User]]]:
    """Every team with its members, by name."""
    teams = list(db.session.scalars(sa.select(Team).order_by(Team.name)))
    rows = db.session.execute(sa.select(TeamMember.team_id, User).join(User, User.id == TeamMember.user_id)
                              .order_by(User.name)).all()
    members: dict[int, list[User]] = {}
    for team_id, user in rows:
        members.setdefault(team_id, []).append(user)
    return [(team, members.get(team.id, [])) for team in teams]


def member_ids(team_id: int) -> list[int]:
    return list(db.session.scalars(sa.select(TeamMember.user_id).where(TeamMember.team_id == team_id)))


def _known_users(user_ids: list[int]) -> list[int]:
    ids = sorted(set(user_ids))
    found = set(db.session.scalars(sa.select(User.id).where(User.id.in_(ids)))) if ids else set()
    if found != set(ids):
        raise ValidationError(N_("Unknown operator."), field="members")
    return ids


def save_team(actor_id: int, team_id: int | None, *, name: str, members: list[int],
              ip: str | None = None) -> Team:
    """Create or update a team (name unique ignoring case) and set its members."""
    name = naming.clean_name(name)
    try:
        with transaction():
            db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(TEAM_LOCK)))
            clash = sa.select(Team.id).where(sa.func.lower(Team.name) == name.lower())
            if team_id is not None:
                clash = clash.where(Team.id != team_id)
            if db.session.scalar(clash.limit(1)) is not None:
                raise naming.taken()
            wanted = _known_users(members)
            if team_id is None:
                team = Team(name=name)
                db.session.add(team)
                db.session.flush()
            else:
                found = db.session.get(Team, team_id, with_for_update=True)
                if found is None:
                    raise NotFound("No such team.")
                team = found
                team.name = name
            current = set(member_ids(team.id))
            db.session.execute(sa.delete(TeamMember).where(TeamMember.team_id == team.id,
                                                           TeamMember.user_id.not_in(wanted)))
            for uid in set(wanted) - current:
                db.session.add(TeamMember(team_id=team.id, user_id=uid))
            audit.record(actor_id, "team.create" if team_id is None else "team.update", "team", team.id, ip=ip,
                         name=name, added=sorted(set(wanted) - current), removed=sorted(current - set(wanted)))
    except IntegrityError as exc:
        if naming.is_unique_violation(exc, "uq_teams_name"):
            raise naming.taken() from exc
        raise
    return team


def delete_team(actor_id: int, team_id: int, *, ip: str | None = None) -> None:
    """Delete a team; its conversations keep their assignee and lose the team."""
    with transaction():
        team = db.session.get(Team, team_id, with_for_update=True)
        if team is None:
            raise NotFound("No such team.")
        audit.record(actor_id, "team.delete", "team", team.id, ip=ip, name=team.name)
        db.session.delete(team)
