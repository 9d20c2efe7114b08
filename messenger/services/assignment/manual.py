"""Manual assignment from the operator API: self-assign, assign / transfer with a note, team, unassign.

The target must be an active inbox member (or admin), not offline where the inbox requeues
on offline, and below capacity (``claims.claim_for``). Unassigning returns the
conversation to the queue (drained at once when the inbox auto-assigns).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from messenger.db import transaction
from messenger.errors import Conflict
from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.models import Conversation
from messenger.models import Inbox
from messenger.models import Message
from messenger.models import Team
from messenger.models import TeamMember
from messenger.models import User
from messenger.services import conversations as conv_service
from messenger.services.assignment.claims import claim_for
from messenger.services.assignment.escalation import user_name
from messenger.services.assignment.queue import to_queue
from messenger.services.messages import clean_content

logger = logging.getLogger(__name__)


def self_assign(actor: User, conversation_id: int, *, expected_version: int | None = None) -> Conversation:
    """'Assign to me': only an unassigned conversation (or one already yours); else 409 already_assigned."""
    with transaction():
        conv = _lock_for_operator(actor, conversation_id, expected_version)
        if conv.assignee_id == actor.id:
            return conv
        if conv.assignee_id is not None:
            raise Conflict("Someone else took this conversation.", code="already_assigned",
                           conversation=conv_service.conversation_to_dict(conv, "operator"))
        claim_for(conv, _inbox(conv), actor.id, actor_id=actor.id)
        conv_service.add_activity(conv, f"{actor.name} took the conversation", event="assignment",
                                  assignee_id=actor.id, by=actor.id)
        conv_service.bump(conv)
        logger.info("operator %s self-assigned conversation %s", actor.id, conv.id)
    return conv


@dataclass(frozen=True)
class _Before:
    assignee_id: int | None
    team_id: int | None


def assign_to(actor: User, conversation_id: int, changes: dict[str, Any], *,
              expected_version: int | None = None) -> Conversation:
    """Assign to a colleague (``user_id``), a team (``team_id``), unassign (``user_id`` None); ``note`` optional.

    A transfer's note is stored as a private note. Unassigning returns the conversation to
    the queue (drained at once when the inbox auto-assigns).
    """
    note_text = _parse_assign(changes)
    with transaction():
        conv = _lock_for_operator(actor, conversation_id, expected_version)
        before = _Before(conv.assignee_id, conv.team_id)
        team = _team_change(conv, changes)
        _move(conv, _inbox(conv), _target(conv, changes, team), actor)
        if conv.assignee_id == before.assignee_id and conv.team_id == before.team_id and not note_text:
            return conv
        conv_service.add_activity(conv, _assignment_text(actor, before, conv.assignee_id, team),
                                  event="assignment", assignee_id=conv.assignee_id, team_id=conv.team_id,
                                  previous_assignee_id=before.assignee_id, previous_team_id=before.team_id,
                                  by=actor.id)
        if note_text:
            db.session.add(Message(conversation_id=conv.id, type="note", sender_user_id=actor.id,
                                   content=note_text, content_attributes={"transfer": True}))
        conv_service.bump(conv)
        logger.info("operator %s assigned conversation %s: user %s -> %s, team %s -> %s", actor.id, conv.id,
                    before.assignee_id, conv.assignee_id, before.team_id, conv.team_id)
    return conv


def _parse_assign(changes: dict[str, Any]) -> str:
    """Validate the request body's shape; the transfer note's text ("" when none)."""
    if not changes.keys() & {"user_id", "team_id"}:
        raise ValidationError("Send user_id and/or team_id (null unassigns).", field="user_id")
    note = changes.get("note")
    if note is not None and not isinstance(note, str):
        raise ValidationError("note must be text.", field="note")
    return clean_content(note, allow_empty=True) if note else ""


def _target(conv: Conversation, changes: dict[str, Any], team: Team | None) -> object:
    """Who should have it: the ``user_id`` asked for, else the current assignee if they are in the new team."""
    if "user_id" in changes:
        return changes["user_id"]
    if team is not None and conv.assignee_id is not None and not _in_team(conv.assignee_id, team.id):
        return None  # the current assignee is not in the new team: the team's queue takes it
    return conv.assignee_id


def _move(conv: Conversation, inbox: Inbox, target: object, actor: User) -> None:
    if target is not None and target != conv.assignee_id:
        claim_for(conv, inbox, target, actor_id=actor.id)
    elif target is None and conv.assignee_id is not None:
        to_queue(conv, inbox)


def _lock_for_operator(actor: User, conversation_id: int, expected_version: int | None) -> Conversation:
    conv = conv_service.get_for_operator(actor, conversation_id, lock=True)
    conv_service.check_version(conv, expected_version)
    return conv


def _inbox(conv: Conversation) -> Inbox:
    inbox = db.session.get(Inbox, conv.inbox_id)
    if inbox is None:  # a foreign key guarantees it; a clear error rather than an AttributeError
        raise RuntimeError(f"conversation {conv.id} has no inbox")
    return inbox


def _team_change(conv: Conversation, changes: dict[str, Any]) -> Team | None:
    """Apply ``team_id`` from the request; the new team (None when unchanged or cleared)."""
    if "team_id" not in changes:
        return None
    team_id = changes["team_id"]
    if team_id is None:
        conv.team_id = None
        return None
    if not conv_service.valid_id(team_id):
        raise ValidationError("team_id must be a team id or null.", field="team_id")
    team = db.session.get(Team, team_id)
    if team is None:
        raise ValidationError("No such team.", field="team_id", code="unknown_team")
    conv.team_id = team.id
    return team


def _in_team(user_id: int, team_id: int) -> bool:
    return db.session.get(TeamMember, (team_id, user_id)) is not None


def _assignment_text(actor: User, before: _Before, new: int | None, team: Team | None) -> str:
    parts = [_assignee_text(actor, before.assignee_id, new)] if new != before.assignee_id else []
    if team is not None and team.id != before.team_id:
        parts.append(f"{actor.name} assigned the conversation to team {team.name}")
    elif team is None and before.team_id is not None and new == before.assignee_id:
        parts.append(f"{actor.name} removed the team")
    return "; ".join(parts) or f"{actor.name} added a transfer note"


def _assignee_text(actor: User, old: int | None, new: int | None) -> str:
    if new is None:
        return f"{actor.name} unassigned {user_name(old)}; the conversation is back in the queue"
    if new == actor.id:
        return f"{actor.name} took the conversation" + (f" from {user_name(old)}" if old else "")
    verb = "transferred the conversation" if old is not None else "assigned the conversation"
    return f"{actor.name} {verb} to {user_name(new)}"
