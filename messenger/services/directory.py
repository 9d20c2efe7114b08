"""Lists for the panel's pickers: inboxes, operators, teams, labels."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import Inbox
from messenger.models import InboxMember
from messenger.models import Label
from messenger.models import Team
from messenger.models import TeamMember
from messenger.models import User
from messenger.services.inboxes import visible_inbox_ids


def panel_directory(user: User) -> dict[str, Any]:
    """Everything the panel's pickers need, in one round trip."""
    inbox_ids = visible_inbox_ids(user)
    inboxes = db.session.execute(sa.select(Inbox.id, Inbox.name, Inbox.color, Inbox.prechat_fields)
                                 .where(Inbox.id.in_(inbox_ids)).order_by(Inbox.name)).all()
    # Operators who share an inbox with the caller: the people a conversation can go to.
    members = sa.select(InboxMember.user_id).where(InboxMember.inbox_id.in_(inbox_ids))
    operators = db.session.execute(
        sa.select(User.id, User.name, User.email, User.availability, User.role)
        .where(User.active.is_(True), sa.or_(User.id.in_(members), User.id == user.id))
        .order_by(User.name)).all()
    teams = db.session.execute(sa.select(Team.id, Team.name).order_by(Team.name)).all()
    my_teams = set(db.session.scalars(sa.select(TeamMember.team_id).where(TeamMember.user_id == user.id)))
    labels = db.session.execute(sa.select(Label.id, Label.name, Label.color).order_by(Label.name)).all()
    return {
        "me": {"id": user.id, "name": user.name, "email": user.email, "role": user.role,
               "availability": user.availability, "availability_choice": user.availability_choice,
               "locale": user.locale, "notification_prefs": user.notification_prefs},
        # Pre-chat field labels, so the panel shows "Order number: 1042" rather than a key.
        "inboxes": [{"id": r[0], "name": r[1], "color": r[2], "prechat_fields": _field_labels(r[3])}
                    for r in inboxes],
        "operators": [{"id": r[0], "name": r[1], "email": r[2], "availability": r[3], "role": r[4]}
                      for r in operators],
        "teams": [{"id": r[0], "name": r[1], "member": r[0] in my_teams} for r in teams],
        "labels": [{"id": r[0], "name": r[1], "color": r[2]} for r in labels],
    }


def _field_labels(fields: object) -> list[dict[str, str]]:
    if not isinstance(fields, list):
        return []
    return [{"name": str(f.get("name")), "label": str(f.get("label") or f.get("name"))}
            for f in fields if isinstance(f, dict) and f.get("name")]
