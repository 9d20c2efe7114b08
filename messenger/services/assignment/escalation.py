"""Escalation: no first reply within the inbox's ``first_reply_timeout_s``.

An assignment of an unanswered conversation schedules ``escalate`` after the timeout; the
job carries a token (assignee + assigned_at), so a stale or repeated job changes nothing,
and the first reply cancels it. Mode ``reassign`` moves it to the next free operator,
``team`` to a free member of the escalation team (setting the team), ``notify`` only
writes the activity (and sets the team). A queued conversation has nobody to escalate
from: it waits for the next seat.
"""
from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from messenger.db import transaction
from messenger.extensions import db
from messenger.models import Conversation
from messenger.models import Inbox
from messenger.models import Message
from messenger.models import Team
from messenger.models import User
from messenger.services import capacity
from messenger.services import conversations as conv_service
from messenger.services import routing
from messenger.services.assignment import policy
from messenger.services.assignment.claims import set_assignee
from messenger.services.assignment.queue import WAITING
from messenger.services.assignment.queue import lock_conversation

logger = logging.getLogger(__name__)


def escalate(conversation_id: int, token: str) -> bool:
    """No first reply within the timeout: reassign, move to the team, or notify; False when moot."""
    with transaction():
        conv = lock_conversation(conversation_id)
        if conv is None or not _still_due(conv, token):
            return False
        inbox = db.session.get(Inbox, conv.inbox_id)
        if inbox is None:
            return False
        marker = {"event": "escalation", "token": token, "mode": inbox.escalation_mode,
                  "timeout_s": inbox.first_reply_timeout_s or 0}
        team = db.session.get(Team, inbox.escalation_team_id) if inbox.escalation_team_id else None
        if not _reassign(conv, inbox, team, marker):
            _notify(conv, inbox, team, marker)
        conv_service.bump(conv)
    return True


def _still_due(conv: Conversation, token: str) -> bool:
    """The timer's assignment is still the current one, unanswered, and not escalated yet."""
    return (conv.first_reply_at is None and conv.status in WAITING and conv.assignee_id is not None
            and routing.escalation_token(conv.assignee_id, conv.assigned_at) == token
            and not _escalated_already(conv.id, token))


def _reassign(conv: Conversation, inbox: Inbox, team: Team | None, marker: dict[str, Any]) -> bool:
    """Modes ``reassign`` / ``team``: hand it to the next free operator (of the team); False when nobody is."""
    if inbox.escalation_mode not in ("reassign", "team"):
        return False
    if inbox.escalation_mode == "team" and team is not None:
        conv.team_id = team.id
    seats = capacity.free_seats(inbox, team_id=conv.team_id, exclude={conv.assignee_id})
    if not seats:
        return False
    previous_id = conv.assignee_id
    previous = user_name(previous_id)
    seat, _ = policy.pick(inbox, conv, seats)
    set_assignee(conv, inbox, seat.user_id, cancel_timer=False)
    where = f" in team {team.name}" if inbox.escalation_mode == "team" and team else ""
    conv_service.add_activity(
        conv, f"No reply within {_waited(inbox)}: reassigned from {previous} to {seat.name}{where}",
        assignee_id=seat.user_id, previous_assignee_id=previous_id, **marker)
    logger.info("escalated conversation %s from %s to %s", conv.id, previous, seat.user_id)
    return True


def _notify(conv: Conversation, inbox: Inbox, team: Team | None, marker: dict[str, Any]) -> None:
    """Mode ``notify`` (or nobody free): the activity line says so; the team is set when there is one."""
    text = f"No reply within {_waited(inbox)} from {user_name(conv.assignee_id)}"
    outcome = "notified"
    if team is not None:
        conv.team_id = team.id
        text += f": team {team.name} notified"
        outcome = "team_notified"
    elif inbox.escalation_mode != "notify":
        text += ": nobody else is free"
        outcome = "nobody_free"
    conv_service.add_activity(conv, text, previous_assignee_id=conv.assignee_id, outcome=outcome,
                              team_id=conv.team_id, **marker)
    logger.info("escalation of conversation %s: %s", conv.id, text)


def _escalated_already(conversation_id: int, token: str) -> bool:
    return db.session.scalar(sa.select(sa.exists().where(
        Message.conversation_id == conversation_id, Message.type == "activity",
        Message.content_attributes.contains({"event": "escalation", "token": token})))) or False


def _waited(inbox: Inbox) -> str:
    return duration(inbox.first_reply_timeout_s or 0)


def duration(seconds: int) -> str:
    """"5 minutes", "1 minute", "45 seconds"."""
    if seconds % 60 == 0 and seconds >= 60:
        minutes = seconds // 60
        return f"{minutes} minute" + ("s" if minutes != 1 else "")
    return f"{seconds} second" + ("s" if seconds != 1 else "")


def user_name(user_id: int | None) -> str:
    user = db.session.get(User, user_id) if user_id is not None else None
    return user.name if user is not None else "nobody"
