"""Routing and assignment: who gets a conversation, the queue, escalation, transfers.

The rule lives here whether a view or an RQ job triggers it; ``messenger.jobs.assignment``
only calls these functions.

- Auto-assignment picks, among the inbox's members who are active, ``online`` and below
  capacity (their own ``User.capacity`` over all inboxes AND ``Inbox.capacity`` in this
  inbox; assigned ``open``/``pending`` conversations count), by the inbox policy:
  round-robin from the durable ``Inbox.rr_last_user_id``, or least-busy (fewest open,
  ties to the longest since ``User.last_assigned_at``); optionally the contact's previous
  operator first when they are free. A conversation with a team only goes to team members.
- Nobody free: the conversation waits ``pending`` in the inbox queue, ordered by
  ``(waiting_since, id)``. Any freed seat drains the queue oldest first (``drain``).
- Escalation: an assignment of an unanswered conversation schedules ``escalate`` after the
  inbox's ``first_reply_timeout_s``; the job carries a token (assignee + assigned_at), so a
  stale or repeated job changes nothing, and the first reply cancels it. Mode ``reassign``
  moves it to the next free operator, ``team`` to a free member of the escalation team
  (setting the team), ``notify`` only writes the activity (and sets the team). A queued
  conversation has nobody to escalate from: it waits for the next seat.
- Offline (presence) or deactivated operators: their waiting (``waiting_since`` set)
  conversations go back to the queue when the inbox has ``requeue_on_offline`` (always
  when deactivated); a periodic sweep repairs whatever a lost job left behind.
- Manual: self-assign (only an unassigned one), assign / transfer with a note, team,
  unassign. The target must be an active inbox member (or admin), not offline where the
  inbox requeues on offline, and below capacity.

Locks, always taken in this order, so there is no deadlock: the inbox queue advisory lock
(drains only, keeps claims FIFO), a conversation row ``FOR UPDATE``, then per-operator
advisory locks in ascending user id. The drain takes the operator locks before it looks
for a conversation, and then only with ``SKIP LOCKED``, so it never waits on a row while
holding them. Every claim is one transaction that re-counts the operator's load under the
operator lock, so capacity holds under any concurrency (two workers, an operator clicking
"assign to me", another inbox sharing the operator).
"""
from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from typing import Any

import sqlalchemy as sa
from flask import current_app
from rq import Retry

from messenger.db import after_commit
from messenger.db import transaction
from messenger.errors import Conflict
from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.jobs import enqueue
from messenger.jobs import ensure_periodic
from messenger.jobs import schedule_periodic
from messenger.models import Conversation
from messenger.models import Inbox
from messenger.models import InboxMember
from messenger.models import Message
from messenger.models import Team
from messenger.models import TeamMember
from messenger.models import User
from messenger.services import conversations as conv_service
from messenger.services.messages import clean_content

logger = logging.getLogger(__name__)

QUEUE = "assignment"
JOBS = "messenger.jobs.assignment"
# Advisory lock classes (two-int form; a different key space from the event log's bigint lock).
LOCK_QUEUE = 72_710
LOCK_OPERATOR = 72_711
WAITING = ("open", "pending")  # statuses that sit in the queue when unassigned
LOAD = ("open", "pending")  # statuses that count against an operator's capacity
SWEEP_INTERVAL_S = 60
SWEEP_NAME = "assignment-sweep"
ESCALATION_GRACE_S = 30  # the sweeper escalates what the scheduler missed by this much
DRAIN_PENDING_TTL_S = 30
FAILURE_TTL_S = 7 * 24 * 3600
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Seat:
    """An operator who may take one more conversation in an inbox right now."""

    user_id: int
    name: str
    load: int
    last_assigned_at: datetime | None


def now() -> datetime:
    return datetime.now(timezone.utc)


# --- Entry points other areas call after commit -------------------------------------------------

def request_assignment(conversation_id: int) -> None:
    """Called after commit when a conversation needs an assignee: enqueue the assignment job."""
    enqueue(QUEUE, f"{JOBS}.assign_conversation", conversation_id, **_job_options())
    _ensure_sweeper()


def request_queue_drain(inbox_id: int) -> None:
    """Called after commit when capacity was freed in an inbox (coalesced while one is still queued)."""
    redis = current_app.extensions.get("redis")
    key = _drain_key(inbox_id)
    try:
        if redis is not None and not redis.set(key, "1", nx=True, ex=DRAIN_PENDING_TTL_S):
            return  # a drain is queued and has not started: it will see our commit
    except Exception:
        logger.exception("drain coalescing unavailable for inbox %s", inbox_id)
    if enqueue(QUEUE, f"{JOBS}.drain_queue", inbox_id, **_job_options()) is None and redis is not None:
        _forget_drain_request(inbox_id)
    _ensure_sweeper()


def on_first_reply(conversation_id: int) -> None:
    """Called after commit when an operator first replies: cancel the pending escalation."""
    conv = db.session.get(Conversation, conversation_id)
    if conv is not None:
        _cancel_escalation(_escalation_token(conv.assignee_id, conv.assigned_at), conversation_id)


def on_operator_offline(user_id: int) -> None:
    """Called after commit when an operator went offline or was deactivated: requeue their waiting chats."""
    enqueue(QUEUE, f"{JOBS}.requeue_operator", user_id, **_job_options())


def on_operator_online(user_id: int) -> None:
    """Called after commit when an operator came online (or got more capacity): drain their inboxes."""
    for inbox_id in db.session.scalars(sa.select(InboxMember.inbox_id).where(InboxMember.user_id == user_id)):
        request_queue_drain(inbox_id)


def on_capacity_changed(*, user_id: int | None = None, inbox_id: int | None = None) -> None:
    """Called after commit when an operator's or an inbox's capacity changed."""
    if user_id is not None:
        on_operator_online(user_id)
    if inbox_id is not None:
        request_queue_drain(inbox_id)


def queue_position(conversation_id: int) -> int | None:
    """1-based place of a waiting conversation in its inbox queue; None when it is not queued."""
    conv = db.session.get(Conversation, conversation_id)
    if conv is None or not _is_queued(conv):
        return None
    inbox = db.session.get(Inbox, conv.inbox_id)
    if inbox is None or not inbox.auto_assignment:
        return None
    ahead = db.session.scalar(
        sa.select(sa.func.count()).select_from(Conversation).where(
            _queue_filter(conv.inbox_id),
            sa.tuple_(Conversation.waiting_since, Conversation.id) < sa.tuple_(
                sa.literal(conv.waiting_since, Conversation.waiting_since.type), sa.literal(conv.id))))
    return int(ahead or 0) + 1


# --- Jobs' work --------------------------------------------------------------------------------

def assign(conversation_id: int) -> int | None:
    """Place one conversation (idempotent): drain its inbox oldest first; its assignee or None (queued)."""
    conv = db.session.get(Conversation, conversation_id, populate_existing=True)
    if conv is None:
        return None
    if conv.assignee_id is not None or not _is_queued(conv):
        return conv.assignee_id
    drain(conv.inbox_id)
    conv = db.session.get(Conversation, conversation_id, populate_existing=True)
    return None if conv is None else conv.assignee_id


def drain(inbox_id: int) -> list[int]:
    """Assign waiting conversations oldest first while someone is free; the ids assigned, in order."""
    assigned: list[int] = []
    while True:
        conversation_id = _claim_next(inbox_id)
        if conversation_id is None:
            break
        assigned.append(conversation_id)
    _mark_queued(inbox_id)
    if assigned:
        logger.info("inbox %s: assigned %s from the queue", inbox_id, assigned)
    return assigned


def escalate(conversation_id: int, token: str) -> bool:  # noqa: C901  # split by health
    """No first reply within the timeout: reassign, move to the team, or notify; False when moot."""
    with transaction():
        conv = _lock_conversation(conversation_id)
        if (conv is None or conv.first_reply_at is not None or conv.status not in WAITING
                or conv.assignee_id is None or _escalation_token(conv.assignee_id, conv.assigned_at) != token
                or _escalated_already(conv.id, token)):
            return False
        inbox = db.session.get(Inbox, conv.inbox_id)
        assert inbox is not None
        waited = _duration(inbox.first_reply_timeout_s or 0)
        previous_id = conv.assignee_id
        previous = _user_name(previous_id)
        marker = {"event": "escalation", "token": token, "mode": inbox.escalation_mode,
                  "timeout_s": inbox.first_reply_timeout_s or 0}
        team = db.session.get(Team, inbox.escalation_team_id) if inbox.escalation_team_id else None
        if inbox.escalation_mode == "team" and team is not None:
            conv.team_id = team.id
        if inbox.escalation_mode in ("reassign", "team"):
            seats = _free_seats(inbox, team_id=conv.team_id, exclude={conv.assignee_id})
            if seats:
                seat, _ = _pick(inbox, conv, seats)
                _set_assignee(conv, inbox, seat.user_id, cancel_timer=False)
                where = f" in team {team.name}" if inbox.escalation_mode == "team" and team else ""
                conv_service.add_activity(
                    conv, f"No reply within {waited}: reassigned from {previous} to {seat.name}{where}",
                    assignee_id=seat.user_id, previous_assignee_id=previous_id, **marker)
                conv_service.bump(conv)
                logger.info("escalated conversation %s from %s to %s", conv.id, previous, seat.user_id)
                return True
        text = f"No reply within {waited} from {previous}"
        outcome = "notified"
        if team is not None:
            conv.team_id = team.id
            text += f": team {team.name} notified"
            outcome = "team_notified"
        elif inbox.escalation_mode != "notify":
            text += ": nobody else is free"
            outcome = "nobody_free"
        conv_service.add_activity(conv, text, previous_assignee_id=previous_id, outcome=outcome,
                                  team_id=conv.team_id, **marker)
        conv_service.bump(conv)
        logger.info("escalation of conversation %s: %s", conv.id, text)
    return True


def requeue_operator(user_id: int) -> int:
    """Return an offline or deactivated operator's waiting conversations to the queue; how many."""
    user = db.session.get(User, user_id, populate_existing=True)
    if user is None or (user.active and user.availability != "offline"):
        return 0
    query = (sa.select(Conversation.id).join(Inbox, Inbox.id == Conversation.inbox_id)
             .where(Conversation.assignee_id == user_id, Conversation.status.in_(WAITING),
                    Conversation.waiting_since.is_not(None))
             .order_by(Conversation.waiting_since, Conversation.id))
    if user.active:
        query = query.where(Inbox.requeue_on_offline)
    reason = "was deactivated" if not user.active else "went offline"
    moved = 0
    for conversation_id in list(db.session.scalars(query)):
        with transaction():
            conv = _lock_conversation(conversation_id)
            if conv is None or conv.assignee_id != user_id or not (conv.status in WAITING and conv.waiting_since):
                continue
            inbox = db.session.get(Inbox, conv.inbox_id)
            assert inbox is not None
            _to_queue(conv, inbox)
            conv_service.add_activity(conv, f"{user.name} {reason}: the conversation is back in the queue",
                                      event="requeue", previous_assignee_id=user_id,
                                      reason="deactivated" if not user.active else "offline")
            conv_service.bump(conv)
            moved += 1
    if moved:
        logger.info("requeued %s conversations of operator %s (%s)", moved, user_id, reason)
    return moved


def sweep() -> dict[str, int]:
    """Periodic repair for lost jobs (Redis down, worker killed): requeue, drain, escalate overdue."""
    stranded = db.session.scalars(
        sa.select(Conversation.assignee_id).distinct().join(User, User.id == Conversation.assignee_id)
        .join(Inbox, Inbox.id == Conversation.inbox_id)
        .where(Conversation.status.in_(WAITING), Conversation.waiting_since.is_not(None),
               sa.or_(~User.active, sa.and_(User.availability == "offline", Inbox.requeue_on_offline))))
    requeued = sum(requeue_operator(uid) for uid in list(stranded) if uid is not None)
    inbox_ids = list(db.session.scalars(
        sa.select(Conversation.inbox_id).distinct().join(Inbox, Inbox.id == Conversation.inbox_id)
        .where(Inbox.auto_assignment, Conversation.assignee_id.is_(None), Conversation.status.in_(WAITING),
               Conversation.waiting_since.is_not(None))))
    assigned = sum(len(drain(inbox_id)) for inbox_id in inbox_ids)
    overdue = db.session.execute(
        sa.select(Conversation.id, Conversation.assignee_id, Conversation.assigned_at)
        .join(Inbox, Inbox.id == Conversation.inbox_id)
        .where(Inbox.first_reply_timeout_s.is_not(None), Conversation.assignee_id.is_not(None),
               Conversation.first_reply_at.is_(None), Conversation.status.in_(WAITING),
               Conversation.assigned_at < sa.func.now() - sa.func.make_interval(
                   0, 0, 0, 0, 0, 0, Inbox.first_reply_timeout_s + ESCALATION_GRACE_S))
        .order_by(Conversation.assigned_at).limit(500)).all()
    escalated = sum(escalate(cid, token) for cid, uid, at in overdue if (token := _escalation_token(uid, at)))
    return {"requeued": requeued, "assigned": assigned, "escalated": escalated}


def schedule_sweep() -> None:
    """Schedule the next periodic sweep (the sweep job calls this first, so a crash cannot stop the chain)."""
    schedule_periodic(QUEUE, f"{JOBS}.sweep_assignments", SWEEP_NAME, SWEEP_INTERVAL_S)


def forget_drain_request(inbox_id: int) -> None:
    """A drain job starts: later requests must enqueue a new one (they may not be covered)."""
    _forget_drain_request(inbox_id)


# --- Manual assignment (operator API) ------------------------------------------------------------

def self_assign(actor: User, conversation_id: int, *, expected_version: int | None = None) -> Conversation:
    """'Assign to me': only an unassigned conversation (or one already yours); else 409 already_assigned."""
    with transaction():
        conv = _lock_for_operator(actor, conversation_id, expected_version)
        if conv.assignee_id == actor.id:
            return conv
        if conv.assignee_id is not None:
            raise Conflict("Someone else took this conversation.", code="already_assigned",
                           conversation=conv_service.conversation_to_dict(conv, "operator"))
        inbox = db.session.get(Inbox, conv.inbox_id)
        assert inbox is not None
        _claim_for(conv, inbox, actor.id, actor_id=actor.id)
        conv_service.add_activity(conv, f"{actor.name} took the conversation", event="assignment",
                                  assignee_id=actor.id, by=actor.id)
        conv_service.bump(conv)
        logger.info("operator %s self-assigned conversation %s", actor.id, conv.id)
    return conv


def assign_to(actor: User, conversation_id: int, changes: dict[str, Any], *,  # noqa: C901  # split by health
              expected_version: int | None = None) -> Conversation:
    """Assign to a colleague (``user_id``), a team (``team_id``), unassign (``user_id`` None); ``note`` optional.

    A transfer's note is stored as a private note. Unassigning returns the conversation to
    the queue (drained at once when the inbox auto-assigns).
    """
    if not changes.keys() & {"user_id", "team_id"}:
        raise ValidationError("Send user_id and/or team_id (null unassigns).", field="user_id")
    note = changes.get("note")
    if note is not None and not isinstance(note, str):
        raise ValidationError("note must be text.", field="note")
    note_text = clean_content(note, allow_empty=True) if note else ""
    with transaction():
        conv = _lock_for_operator(actor, conversation_id, expected_version)
        inbox = db.session.get(Inbox, conv.inbox_id)
        assert inbox is not None
        old_assignee, old_team = conv.assignee_id, conv.team_id
        team = _team_change(conv, changes)
        if "user_id" in changes:
            target = changes["user_id"]
        elif team is not None and conv.assignee_id is not None and not _in_team(conv.assignee_id, team.id):
            target = None  # the current assignee is not in the new team: the team's queue takes it
        else:
            target = conv.assignee_id
        if target is not None and target != old_assignee:
            _claim_for(conv, inbox, target, actor_id=actor.id)
        elif target is None and old_assignee is not None:
            _to_queue(conv, inbox)
        if conv.assignee_id == old_assignee and conv.team_id == old_team and not note_text:
            return conv
        conv_service.add_activity(conv, _assignment_text(actor, old_assignee, conv.assignee_id, old_team, team),
                                  event="assignment", assignee_id=conv.assignee_id, team_id=conv.team_id,
                                  previous_assignee_id=old_assignee, previous_team_id=old_team, by=actor.id)
        if note_text:
            db.session.add(Message(conversation_id=conv.id, type="note", sender_user_id=actor.id,
                                   content=note_text, content_attributes={"transfer": True}))
        conv_service.bump(conv)
        logger.info("operator %s assigned conversation %s: user %s -> %s, team %s -> %s", actor.id, conv.id,
                    old_assignee, conv.assignee_id, old_team, conv.team_id)
    return conv


# --- Internals ---------------------------------------------------------------------------------

def _queue_filter(inbox_id: int) -> sa.ColumnElement[bool]:
    return sa.and_(Conversation.inbox_id == inbox_id, Conversation.assignee_id.is_(None),
                   Conversation.status.in_(WAITING), Conversation.waiting_since.is_not(None))


def _is_queued(conv: Conversation) -> bool:
    return conv.assignee_id is None and conv.status in WAITING and conv.waiting_since is not None


def _lock(lock_class: int, key: int) -> None:
    db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:c, :k)"), {"c": lock_class, "k": key})


def _lock_operators(user_ids: list[int]) -> None:
    """Per-operator advisory locks in ascending id (one round trip; unnest keeps array order)."""
    if user_ids:
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:c, u) FROM unnest(CAST(:ids AS int[])) AS u"),
                           {"c": LOCK_OPERATOR, "ids": sorted(set(user_ids))})


def _lock_conversation(conversation_id: int, *, skip_locked: bool = False) -> Conversation | None:
    query = sa.select(Conversation).where(Conversation.id == conversation_id).execution_options(
        populate_existing=True)
    return db.session.scalar(query.with_for_update(skip_locked=skip_locked))


def _lock_for_operator(actor: User, conversation_id: int, expected_version: int | None) -> Conversation:
    conv = conv_service.get_for_operator(actor, conversation_id, lock=True)
    if expected_version is not None and expected_version != conv.version:
        raise Conflict("Someone changed this conversation a moment ago.", code="stale_version",
                       conversation=conv_service.conversation_to_dict(conv, "operator"))
    return conv


def _loads(inbox: Inbox, user_ids: list[int]) -> sa.Select[Any]:
    """Operators' current loads: all their open/pending conversations, and those in this inbox."""
    busy = sa.and_(Conversation.assignee_id == User.id, Conversation.status.in_(LOAD))
    total = sa.select(sa.func.count()).where(busy).correlate(User).scalar_subquery()
    here = sa.select(sa.func.count()).where(busy, Conversation.inbox_id == inbox.id).correlate(User).scalar_subquery()
    return (sa.select(User.id, User.name, User.capacity, User.last_assigned_at, total.label("total"),
                      here.label("here"))
            .where(User.id.in_(user_ids)).order_by(User.id))


def _eligible(inbox_id: int, team_id: int | None) -> sa.Select[Any]:
    query = (sa.select(User.id).join(InboxMember, InboxMember.user_id == User.id)
             .where(InboxMember.inbox_id == inbox_id, User.active, User.availability == "online"))
    if team_id is not None:
        query = query.join(TeamMember, sa.and_(TeamMember.user_id == User.id, TeamMember.team_id == team_id))
    return query


def _free_seats(inbox: Inbox, *, team_id: int | None = None, exclude: Collection[int | None] = ()) -> list[Seat]:
    """Online members below both capacities, each locked and re-counted; ordered by user id."""
    candidates = [uid for uid in db.session.scalars(_eligible(inbox.id, team_id)) if uid not in exclude]
    if not candidates:
        return []
    _lock_operators(candidates)
    # Re-read under the locks: availability may have changed, and loads are what others committed.
    still = set(db.session.scalars(_eligible(inbox.id, team_id).where(User.id.in_(candidates))))
    seats = []
    for row in db.session.execute(_loads(inbox, sorted(still))):
        if row.total < row.capacity and (inbox.capacity is None or row.here < inbox.capacity):
            seats.append(Seat(row.id, row.name, row.total, row.last_assigned_at))
    return seats


def has_free_seat(inbox: Inbox, user_id: int) -> bool:
    """Whether this operator may take one more conversation in the inbox now (locked and re-counted)."""
    if db.session.scalar(_eligible(inbox.id, None).where(User.id == user_id)) is None:
        return False
    _lock_operators([user_id])
    row = db.session.execute(_loads(inbox, [user_id])).first()
    return row is not None and row.total < row.capacity and (inbox.capacity is None or row.here < inbox.capacity)


def _previous_operator(conv: Conversation) -> int | None:
    if conv.previous_assignee_id is not None:
        return conv.previous_assignee_id
    return db.session.scalar(
        sa.select(Conversation.assignee_id).where(
            Conversation.contact_id == conv.contact_id, Conversation.inbox_id == conv.inbox_id,
            Conversation.id != conv.id, Conversation.assignee_id.is_not(None))
        .order_by(Conversation.created_at.desc(), Conversation.id.desc()).limit(1))


def _pick(inbox: Inbox, conv: Conversation, seats: list[Seat]) -> tuple[Seat, str]:
    """The policy's choice among free seats (sorted by user id), and why."""
    if inbox.prefer_previous_operator:
        previous = _previous_operator(conv)
        for seat in seats:
            if seat.user_id == previous:
                return seat, "previous operator"
    elif conv.previous_assignee_id is not None:
        # Handed back (unassigned, escalated): a fresh pair of eyes first, when there is one.
        seats = [s for s in seats if s.user_id != conv.previous_assignee_id] or seats
    if inbox.assignment_policy == "least_busy":
        return min(seats, key=lambda s: (s.load, s.last_assigned_at or _EPOCH, s.user_id)), "least busy"
    last = inbox.rr_last_user_id
    after = [seat for seat in seats if last is not None and seat.user_id > last]
    return (after[0] if after else seats[0]), "round robin"


def _claim_next(inbox_id: int) -> int | None:
    """One claim transaction: the oldest waiting conversation that has a free operator."""
    with transaction():
        _lock(LOCK_QUEUE, inbox_id)
        inbox = db.session.get(Inbox, inbox_id, populate_existing=True)
        if inbox is None or not inbox.auto_assignment:
            return None
        if not db.session.scalar(sa.select(sa.exists().where(_queue_filter(inbox_id)))):
            return None  # nothing waits: no operator lock taken
        all_seats = _free_seats(inbox)
        if not all_seats:
            return None
        free = {seat.user_id for seat in all_seats}
        teams = set(db.session.scalars(sa.select(TeamMember.team_id).where(TeamMember.user_id.in_(free))))
        # Oldest first, skipping only conversations of teams with nobody free (no head-of-line blocking).
        candidates = db.session.execute(
            sa.select(Conversation.id, Conversation.team_id).where(
                _queue_filter(inbox_id), sa.or_(Conversation.team_id.is_(None), Conversation.team_id.in_(teams)))
            .order_by(Conversation.waiting_since, Conversation.id).limit(20)).all()
        for conversation_id, team_id in candidates:
            seats = all_seats
            if team_id is not None:
                members = set(db.session.scalars(sa.select(TeamMember.user_id).where(
                    TeamMember.team_id == team_id, TeamMember.user_id.in_(free))))
                seats = [s for s in all_seats if s.user_id in members]
            conv = _lock_conversation(conversation_id, skip_locked=True)
            if conv is None or not _is_queued(conv) or conv.team_id != team_id:
                continue
            seat, reason = _pick(inbox, conv, seats)
            _set_assignee(conv, inbox, seat.user_id)
            if reason == "round robin":
                inbox.rr_last_user_id = seat.user_id
            conv_service.add_activity(conv, f"Assigned to {seat.name} ({reason})", event="assignment",
                                      assignee_id=seat.user_id, reason=reason.replace(" ", "_"))
            conv_service.bump(conv)
            return conv.id
    return None


def _mark_queued(inbox_id: int) -> None:
    """Waiting conversations nobody could take become ``pending`` (the queue state the visitor sees)."""
    with transaction():
        inbox = db.session.get(Inbox, inbox_id)
        if inbox is None or not inbox.auto_assignment:
            return
        db.session.execute(
            sa.update(Conversation).where(_queue_filter(inbox_id), Conversation.status == "open")
            .values(status="pending", version=Conversation.version + 1, updated_at=sa.func.now())
            .execution_options(synchronize_session=False))


def _claim_for(conv: Conversation, inbox: Inbox, user_id: object, *, actor_id: int) -> None:
    """Manual claim: the target must be an active member, present, and below capacity (checked under its lock)."""
    if not isinstance(user_id, int) or isinstance(user_id, bool) or not 0 < user_id < 2**31:
        raise ValidationError("user_id must be an operator id or null.", field="user_id")
    _lock_operators([user_id])
    user = db.session.get(User, user_id, populate_existing=True)
    member = db.session.get(InboxMember, (inbox.id, user_id)) is not None
    if user is None or not user.active or not (member or user.role == "admin"):
        raise ValidationError("That operator is not a member of this inbox.", field="user_id", code="not_member")
    if user.availability == "offline" and inbox.requeue_on_offline:
        message = ("You are offline: go online to take conversations." if user_id == actor_id
                   else f"{user.name} is offline.")
        raise ValidationError(message, field="user_id", code="operator_offline")
    row = db.session.execute(_loads(inbox, [user_id])).one()
    if row.total >= row.capacity or (inbox.capacity is not None and row.here >= inbox.capacity):
        raise Conflict(f"{user.name} is at capacity.", code="at_capacity",
                       conversation=conv_service.conversation_to_dict(conv, "operator"))
    _set_assignee(conv, inbox, user_id)


def _set_assignee(conv: Conversation, inbox: Inbox, user_id: int, *, cancel_timer: bool = True) -> None:
    """Point the conversation at ``user_id`` (already checked) and (re)arm the escalation timer.

    ``cancel_timer`` False when the caller *is* that timer's job (RQ deletes it when it ends).
    """
    old_token = _escalation_token(conv.assignee_id, conv.assigned_at) if cancel_timer else None
    if conv.assignee_id is None and conv.status == "pending":
        conv.status = "open"
    if conv.assignee_id is not None:
        conv.previous_assignee_id = conv.assignee_id
    conv.assignee_id = user_id
    conv.assigned_at = now()
    db.session.execute(sa.update(User).where(User.id == user_id).values(last_assigned_at=conv.assigned_at))
    conversation_id = conv.id
    if old_token is not None:
        after_commit(lambda: _cancel_escalation(old_token, conversation_id))
    if inbox.first_reply_timeout_s and conv.first_reply_at is None:
        token = _escalation_token(user_id, conv.assigned_at)
        assert token is not None
        delay = timedelta(seconds=inbox.first_reply_timeout_s)
        after_commit(lambda: _schedule_escalation(conversation_id, token, delay))


def _to_queue(conv: Conversation, inbox: Inbox) -> None:
    old_token = _escalation_token(conv.assignee_id, conv.assigned_at)
    conv.previous_assignee_id = conv.assignee_id
    conv.assignee_id = None
    conv.assigned_at = None
    if conv.status in WAITING:
        conv.status = "pending" if inbox.auto_assignment else conv.status
        if conv.waiting_since is None:
            conv.waiting_since = now()
    conversation_id = conv.id
    if old_token is not None:
        after_commit(lambda: _cancel_escalation(old_token, conversation_id))
    if inbox.auto_assignment:
        conv_service.capacity_freed(inbox.id)


def _team_change(conv: Conversation, changes: dict[str, Any]) -> Team | None:
    """Apply ``team_id`` from the request; the new team (None when unchanged or cleared)."""
    if "team_id" not in changes:
        return None
    team_id = changes["team_id"]
    if team_id is None:
        conv.team_id = None
        return None
    if not isinstance(team_id, int) or isinstance(team_id, bool) or not 0 < team_id < 2**31:
        raise ValidationError("team_id must be a team id or null.", field="team_id")
    team = db.session.get(Team, team_id)
    if team is None:
        raise ValidationError("No such team.", field="team_id", code="unknown_team")
    conv.team_id = team.id
    return team


def _in_team(user_id: int, team_id: int) -> bool:
    return db.session.get(TeamMember, (team_id, user_id)) is not None


def _user_name(user_id: int | None) -> str:
    user = db.session.get(User, user_id) if user_id is not None else None
    return user.name if user is not None else "nobody"


def _assignment_text(actor: User, old: int | None, new: int | None, old_team: int | None,
                     team: Team | None) -> str:
    parts = []
    if new != old:
        if new is None:
            parts.append(f"{actor.name} unassigned {_user_name(old)}; the conversation is back in the queue")
        elif new == actor.id:
            parts.append(f"{actor.name} took the conversation" + (f" from {_user_name(old)}" if old else ""))
        else:
            verb = "transferred the conversation" if old is not None else "assigned the conversation"
            parts.append(f"{actor.name} {verb} to {_user_name(new)}")
    if team is not None and team.id != old_team:
        parts.append(f"{actor.name} assigned the conversation to team {team.name}")
    elif team is None and old_team is not None and new == old:
        parts.append(f"{actor.name} removed the team")
    return "; ".join(parts) or f"{actor.name} added a transfer note"


def _duration(seconds: int) -> str:
    if seconds % 60 == 0 and seconds >= 60:
        minutes = seconds // 60
        return f"{minutes} minute" + ("s" if minutes != 1 else "")
    return f"{seconds} second" + ("s" if seconds != 1 else "")


def _escalation_token(user_id: int | None, assigned_at: datetime | None) -> str | None:
    if user_id is None or assigned_at is None:
        return None
    return f"{user_id}-{int(assigned_at.timestamp() * 1_000_000)}"


def escalation_job_id(conversation_id: int, token: str) -> str:
    """RQ job id of one escalation timer (unique per assignment, so cancelling is exact)."""
    return f"escalate-{conversation_id}-{token}"


def _schedule_escalation(conversation_id: int, token: str, delay: timedelta) -> None:
    enqueue(QUEUE, f"{JOBS}.escalate", conversation_id, token, delay=delay,
            job_id=escalation_job_id(conversation_id, token), **_job_options())


def _cancel_escalation(token: str | None, conversation_id: int) -> None:
    if token is None:
        return
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    redis = current_app.extensions.get("redis")
    if redis is None:
        return
    try:
        Job.fetch(escalation_job_id(conversation_id, token), connection=redis).delete()
    except NoSuchJobError:
        return
    except Exception:  # the job re-checks its token anyway; a stale timer is harmless
        logger.exception("could not cancel the escalation of conversation %s", conversation_id)


def _escalated_already(conversation_id: int, token: str) -> bool:
    return db.session.scalar(sa.select(sa.exists().where(
        Message.conversation_id == conversation_id, Message.type == "activity",
        Message.content_attributes.contains({"event": "escalation", "token": token})))) or False


def _job_options() -> dict[str, Any]:
    """Every assignment job: no stored result (idempotent, nothing reads it), retried on a transient
    failure (database restart), and a failed one kept a week for inspection."""
    return {"result_ttl": 0, "failure_ttl": FAILURE_TTL_S, "retry": Retry(max=3, interval=[1, 5, 15])}


def _drain_key(inbox_id: int) -> str:
    return f"messenger:assignment:drain:{inbox_id}"


def _forget_drain_request(inbox_id: int) -> None:
    redis = current_app.extensions.get("redis")
    try:
        if redis is not None:
            redis.delete(_drain_key(inbox_id))
    except Exception:
        logger.exception("could not clear the drain request of inbox %s", inbox_id)


def _ensure_sweeper() -> None:
    ensure_periodic(QUEUE, f"{JOBS}.sweep_assignments", SWEEP_NAME, SWEEP_INTERVAL_S)
