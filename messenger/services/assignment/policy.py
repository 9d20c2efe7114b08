"""Auto-assignment policies: which free seat gets a conversation, and why.

Round-robin from the durable ``Inbox.rr_last_user_id``, or least-busy (fewest open, ties to
the longest since ``User.last_assigned_at``); optionally the contact's previous operator
first when they are free. A conversation handed back (unassigned, escalated) goes to a fresh
pair of eyes first, when there is one.
"""
from __future__ import annotations

from datetime import datetime
from datetime import timezone

import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import Conversation
from messenger.models import Inbox
from messenger.services.capacity import Seat

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ROUND_ROBIN = "round robin"


def previous_operator(conv: Conversation) -> int | None:
    """Who had this conversation, or the contact's latest one in this inbox, before."""
    if conv.previous_assignee_id is not None:
        return conv.previous_assignee_id
    return db.session.scalar(
        sa.select(Conversation.assignee_id).where(
            Conversation.contact_id == conv.contact_id, Conversation.inbox_id == conv.inbox_id,
            Conversation.id != conv.id, Conversation.assignee_id.is_not(None))
        .order_by(Conversation.created_at.desc(), Conversation.id.desc()).limit(1))


def pick(inbox: Inbox, conv: Conversation, seats: list[Seat]) -> tuple[Seat, str]:
    """The policy's choice among free seats (sorted by user id), and why."""
    if inbox.prefer_previous_operator:
        previous = previous_operator(conv)
        for seat in seats:
            if seat.user_id == previous:
                return seat, "previous operator"
    elif conv.previous_assignee_id is not None:
        seats = [s for s in seats if s.user_id != conv.previous_assignee_id] or seats
    if inbox.assignment_policy == "least_busy":
        return min(seats, key=lambda s: (s.load, s.last_assigned_at or _EPOCH, s.user_id)), "least busy"
    last = inbox.rr_last_user_id
    after = [seat for seat in seats if last is not None and seat.user_id > last]
    return (after[0] if after else seats[0]), ROUND_ROBIN
