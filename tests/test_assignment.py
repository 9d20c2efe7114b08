"""Assignment rules with a real RQ worker (burst ``SimpleWorker``) on the real Redis and PostgreSQL.

Every test commits: the jobs run outside the request's transaction and must see its rows.
"""
from __future__ import annotations

import time
import uuid

import pytest
import sqlalchemy as sa
from rq.registry import ScheduledJobRegistry

from messenger.extensions import db
from messenger.jobs import get_queue
from messenger.jobs.assignment import assign_conversation
from messenger.jobs.assignment import sweep_assignments
from messenger.models import Conversation
from messenger.models import Event
from messenger.models import Inbox
from messenger.models import Team
from messenger.models import TeamMember
from messenger.models import User
from messenger.services import assignment
from messenger.services import conversations as conv_service
from messenger.services import messages as msg_service
from messenger.services import routing
from tests.assignment_helpers import activities
from tests.assignment_helpers import ago
from tests.assignment_helpers import conv
from tests.assignment_helpers import set_user
from tests.assignment_helpers import work
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user
from tests.factories import make_visitor

pytestmark = pytest.mark.committing


def _auto_inbox(**settings: object) -> Inbox:
    return make_inbox(auto_assignment=True, **settings)


def _load(user_id: int, count: int) -> None:
    """Give an operator ``count`` open conversations in a manual inbox (they count against capacity)."""
    other = make_inbox()
    for _ in range(count):
        make_conversation(other, assignee_id=user_id)


def _two_operators_one_assigned(app, **settings: object) -> tuple[User, User, int]:  # type: ignore[no-untyped-def]
    """An auto inbox, two online operators, one conversation assigned (round robin: the first)."""
    inbox = _auto_inbox(**settings)
    first, second = make_user(inboxes=[inbox]), make_user(inboxes=[inbox])
    c = make_conversation(inbox).id
    work(app)
    assert conv(c).assignee_id == first.id
    return first, second, c


def test_round_robin_cycles_over_online_operators_in_a_durable_order(app):
    inbox = _auto_inbox()
    ops = [make_user(inboxes=[inbox]) for _ in range(3)]
    first = [make_conversation(inbox).id for _ in range(4)]
    work(app)
    assert [conv(c).assignee_id for c in first] == [ops[0].id, ops[1].id, ops[2].id, ops[0].id]
    db.session.expire_all()
    assert db.session.get(Inbox, inbox.id).rr_last_user_id == ops[0].id
    # A new worker continues from the stored position (nothing lives only in memory).
    later = [make_conversation(inbox).id for _ in range(2)]
    work(app)
    assert [conv(c).assignee_id for c in later] == [ops[1].id, ops[2].id]
    assert all(conv(c).status == "open" for c in first + later)
    note = activities(first[0], "assignment")
    assert len(note) == 1 and note[0].content == f"Assigned to {ops[0].name} (round robin)"


def test_least_busy_picks_the_fewest_open_and_breaks_ties_by_longest_idle(app):
    inbox = _auto_inbox(assignment_policy="least_busy")
    busy, recent, idle = (make_user(inboxes=[inbox]) for _ in range(3))
    _load(busy.id, 2)
    _load(recent.id, 1)
    _load(idle.id, 1)
    set_user(recent.id, last_assigned_at=ago(10))
    set_user(idle.id, last_assigned_at=ago(3600))
    c1 = make_conversation(inbox).id
    work(app)
    assert conv(c1).assignee_id == idle.id  # 1 open each for recent/idle: idle waited longer
    c2 = make_conversation(inbox).id
    work(app)
    assert conv(c2).assignee_id == recent.id  # idle now holds 2


def test_offline_busy_deactivated_and_full_operators_are_skipped(app):
    inbox = _auto_inbox(capacity=1)
    offline = make_user(inboxes=[inbox], availability="offline")
    busy = make_user(inboxes=[inbox], availability="busy")
    full = make_user(inboxes=[inbox], capacity=2)
    _load(full.id, 2)
    inactive = make_user(inboxes=[inbox])
    set_user(inactive.id, active=False)
    free = make_user(inboxes=[inbox])
    outsider = make_user()
    c1 = make_conversation(inbox).id
    c2 = make_conversation(inbox).id
    work(app)
    assert conv(c1).assignee_id == free.id
    # The inbox capacity (1 per operator here) holds too: nobody else is eligible, c2 waits.
    assert conv(c2).assignee_id is None and conv(c2).status == "pending"
    assert assignment.queue_position(c2) == 1
    assert {offline.id, busy.id, full.id, inactive.id, outsider.id}.isdisjoint({conv(c1).assignee_id})


def test_previous_operator_is_preferred_only_when_free(app):
    inbox = _auto_inbox(prefer_previous_operator=True)
    first, second = make_user(inboxes=[inbox], capacity=2), make_user(inboxes=[inbox])
    visitor, _ = make_visitor(inbox)
    old = make_conversation(inbox, visitor, assignee_id=second.id, status="resolved", waiting_since=None)
    assert old.id
    work(app)
    returning = make_conversation(inbox, visitor).id
    work(app)
    assert conv(returning).assignee_id == second.id  # round robin alone would have chosen `first`
    assert activities(returning, "assignment")[0].content_attributes["reason"] == "previous_operator"
    # When the previous operator is full, the policy decides.
    conv_service.change_status(first, returning, "resolved")
    other_visitor, _ = make_visitor(inbox)
    make_conversation(inbox, other_visitor, assignee_id=second.id)
    set_user(second.id, capacity=1)
    again = make_conversation(inbox, visitor).id
    work(app)
    assert conv(again).assignee_id == first.id


def test_nobody_free_queues_in_waiting_order_and_freed_capacity_drains_oldest_first(app):
    inbox = _auto_inbox()
    op = make_user(inboxes=[inbox], capacity=1)
    ids = [make_conversation(inbox).id for _ in range(3)]
    work(app)
    assert conv(ids[0]).assignee_id == op.id
    assert [conv(c).status for c in ids[1:]] == ["pending", "pending"]
    assert [assignment.queue_position(c) for c in ids] == [None, 1, 2]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event).where(
        Event.kind == "queue.changed", Event.inbox_id == inbox.id)) >= 3
    conv_service.change_status(op, ids[0], "resolved")
    work(app)
    assert conv(ids[1]).assignee_id == op.id and conv(ids[1]).status == "open"
    assert conv(ids[2]).assignee_id is None and assignment.queue_position(ids[2]) == 1
    # Capacity raised: the hook drains at once.
    set_user(op.id, capacity=2)
    routing.on_capacity_changed(user_id=op.id)
    work(app)
    assert conv(ids[2]).assignee_id == op.id and assignment.queue_position(ids[2]) is None


def test_an_operator_coming_online_drains_the_queue(app):
    inbox = _auto_inbox()
    op = make_user(inboxes=[inbox], availability="offline")
    waiting = make_conversation(inbox).id
    work(app)
    assert conv(waiting).status == "pending" and conv(waiting).assignee_id is None
    set_user(op.id, availability="online")
    routing.on_operator_online(op.id)
    work(app)
    assert conv(waiting).assignee_id == op.id


def test_jobs_are_idempotent(app):
    user, _, c = _two_operators_one_assigned(app)
    first = user.id
    inbox = db.session.get(Inbox, conv(c).inbox_id)
    version = conv(c).version
    assert assign_conversation(c) == first
    get_queue("assignment").enqueue("messenger.jobs.assignment.assign_conversation", c)
    routing.request_queue_drain(inbox.id)
    work(app)
    assert conv(c).assignee_id == first and conv(c).version == version
    assert len(activities(c, "assignment")) == 1


def test_a_reopened_conversation_never_goes_back_to_an_offline_operator(app):
    inbox = _auto_inbox()
    gone, present = make_user(inboxes=[inbox]), make_user(inboxes=[inbox])
    visitor, _ = make_visitor(inbox)
    c = make_conversation(inbox, visitor).id
    work(app)
    assert conv(c).assignee_id == gone.id
    conv_service.change_status(gone, c, "resolved")
    set_user(gone.id, availability="offline")
    msg_service.send_visitor_message(visitor, c, "Me again", str(uuid.uuid4()))
    work(app)
    assert conv(c).status == "open" and conv(c).assignee_id == present.id


def test_operator_offline_returns_unanswered_conversations_to_the_queue(app):
    inbox = _auto_inbox()
    keep = make_inbox(auto_assignment=True, requeue_on_offline=False)
    leaving = make_user(inboxes=[inbox, keep])
    unanswered = make_conversation(inbox).id
    answered = make_conversation(inbox).id
    kept = make_conversation(keep).id
    work(app)
    assert {conv(x).assignee_id for x in (unanswered, answered, kept)} == {leaving.id}
    msg_service.send_operator_message(leaving, answered, "On it", str(uuid.uuid4()))
    colleague = make_user(inboxes=[inbox], availability="offline")
    set_user(leaving.id, availability="offline")
    routing.on_operator_offline(leaving.id)
    work(app)
    assert conv(unanswered).assignee_id is None and conv(unanswered).status == "pending"
    assert conv(unanswered).previous_assignee_id == leaving.id
    assert "went offline" in activities(unanswered, "requeue")[0].content
    assert conv(answered).assignee_id == leaving.id
    assert conv(kept).assignee_id == leaving.id  # that inbox keeps them
    set_user(colleague.id, availability="online")
    routing.on_operator_online(colleague.id)
    work(app)
    assert conv(unanswered).assignee_id == colleague.id
    # A second run finds nothing to do.
    assert assignment.requeue_operator(leaving.id) == 0


def test_sweeper_repairs_what_a_lost_job_left_behind(app):
    inbox = _auto_inbox()
    op = make_user(inboxes=[inbox])
    c = make_conversation(inbox).id
    app.extensions["redis"].flushdb()  # Redis lost the job
    work(app)
    assert conv(c).assignee_id is None
    deactivated = make_user(inboxes=[inbox])
    stranded = make_conversation(make_inbox(auto_assignment=True), assignee_id=deactivated.id).id
    set_user(deactivated.id, active=False)  # deactivation without the hook: the sweep still requeues
    result = sweep_assignments()
    assert result["assigned"] >= 1 and result["requeued"] == 1
    assert conv(c).assignee_id == op.id
    assert conv(stranded).assignee_id is None
    # It scheduled its next run.
    assert any(j.startswith("assignment-sweep-") for j in ScheduledJobRegistry(queue=get_queue("assignment"))
               .get_job_ids())


def _escalation_jobs() -> list[str]:
    return [j for j in ScheduledJobRegistry(queue=get_queue("assignment")).get_job_ids()
            if j.startswith("escalate-")]


def test_escalation_reassigns_after_the_timeout_and_a_first_reply_cancels_it(app):
    slow, quick, c = _two_operators_one_assigned(app, first_reply_timeout_s=1)
    assert len(_escalation_jobs()) == 1
    time.sleep(1.2)
    work(app, scheduler=True)
    assert conv(c).assignee_id == quick.id
    escalation = activities(c, "escalation")
    assert len(escalation) == 1
    assert escalation[0].content == f"No reply within 1 second: reassigned from {slow.name} to {quick.name}"
    # The new assignee got a fresh timer; their first reply cancels it.
    assert len(_escalation_jobs()) == 1
    msg_service.send_operator_message(quick, c, "Hello!", str(uuid.uuid4()))
    assert _escalation_jobs() == []
    time.sleep(1.2)
    work(app, scheduler=True)
    assert conv(c).assignee_id == quick.id and len(activities(c, "escalation")) == 1


def test_a_stale_or_repeated_escalation_changes_nothing(app):
    first, second, c = _two_operators_one_assigned(app, first_reply_timeout_s=60)
    row = conv(c)
    token = routing.escalation_token(row.assignee_id, row.assigned_at)
    assert token is not None
    assert assignment.escalate(c, token) is True
    assert conv(c).assignee_id == second.id
    assert assignment.escalate(c, token) is False  # same job again
    assert conv(c).assignee_id == second.id and len(activities(c, "escalation")) == 1
    assert activities(c, "escalation")[0].content_attributes["previous_assignee_id"] == first.id


def test_escalation_to_a_team(app):
    inbox = _auto_inbox(first_reply_timeout_s=1, escalation_mode="team")
    first = make_user(inboxes=[inbox])
    outside_team = make_user(inboxes=[inbox], availability="busy")
    senior = make_user(inboxes=[inbox], availability="offline")
    team = db.session.get(Team, _team(senior.id))
    assert team is not None
    db.session.execute(sa.update(Inbox).where(Inbox.id == inbox.id).values(escalation_team_id=team.id))
    db.session.commit()
    c = make_conversation(inbox).id
    work(app)
    assert conv(c).assignee_id == first.id
    set_user(outside_team.id, availability="online")
    set_user(senior.id, availability="online")
    time.sleep(1.2)
    work(app, scheduler=True)
    assert conv(c).assignee_id == senior.id and conv(c).team_id == team.id
    assert f"in team {team.name}" in activities(c, "escalation")[0].content


def test_escalation_notify_mode_keeps_the_assignee_and_says_so_once(app):
    op, _, c = _two_operators_one_assigned(app, first_reply_timeout_s=1, escalation_mode="notify")
    row = conv(c)
    token = routing.escalation_token(row.assignee_id, row.assigned_at)
    time.sleep(1.2)
    work(app, scheduler=True)
    assert token is not None and assignment.escalate(c, token) is False  # the same timer again: no second note
    assert conv(c).assignee_id == op.id
    notes = activities(c, "escalation")
    assert len(notes) == 1 and notes[0].content == f"No reply within 1 second from {op.name}"


def _team(*members: int) -> int:
    team = Team(name=f"Team {uuid.uuid4().hex[:6]}")
    db.session.add(team)
    db.session.flush()
    db.session.add_all(TeamMember(team_id=team.id, user_id=uid) for uid in members)
    db.session.commit()
    return team.id


def test_a_team_conversation_waits_for_its_team_without_blocking_the_queue(app):
    inbox = _auto_inbox()
    generalist = make_user(inboxes=[inbox], availability="offline")
    expert = make_user(inboxes=[inbox], availability="offline")
    team_id = _team(expert.id)
    for_team = make_conversation(inbox, team_id=team_id).id
    anyone = make_conversation(inbox).id
    work(app)
    set_user(generalist.id, availability="online")
    routing.on_operator_online(generalist.id)
    work(app)
    # The older conversation needs the team; the generalist takes the next one instead.
    assert conv(for_team).assignee_id is None and conv(anyone).assignee_id == generalist.id
    set_user(expert.id, availability="online")
    routing.on_operator_online(expert.id)
    work(app)
    assert conv(for_team).assignee_id == expert.id


def test_sweeper_escalates_a_timer_that_redis_lost(app):
    _, second, c = _two_operators_one_assigned(app, first_reply_timeout_s=5)
    app.extensions["redis"].flushdb()  # the scheduled escalation is gone
    db.session.execute(sa.update(Conversation).where(Conversation.id == c).values(
        assigned_at=ago(5 + assignment.ESCALATION_GRACE_S + 1)))
    db.session.commit()
    assert sweep_assignments()["escalated"] == 1
    assert conv(c).assignee_id == second.id and len(activities(c, "escalation")) == 1
    assert sweep_assignments()["escalated"] == 0


def test_deactivating_an_operator_hands_their_unanswered_conversations_to_a_colleague(app):
    from messenger.services.users import deactivate_user

    inbox = _auto_inbox()
    leaving = make_user(inboxes=[inbox])
    c = make_conversation(inbox).id
    work(app)
    assert conv(c).assignee_id == leaving.id
    colleague = make_user(inboxes=[inbox])
    deactivate_user(None, leaving.id)
    work(app)
    assert conv(c).assignee_id == colleague.id
    assert activities(c, "requeue")


def test_a_reopened_conversation_never_puts_its_operator_over_capacity(app):
    inbox = _auto_inbox()
    full = make_user(inboxes=[inbox], capacity=1)
    visitor, _ = make_visitor(inbox)
    first = make_conversation(inbox, visitor).id
    work(app)
    assert conv(first).assignee_id == full.id
    conv_service.change_status(full, first, "resolved")
    second = make_conversation(inbox).id
    work(app)
    assert conv(second).assignee_id == full.id
    msg_service.send_visitor_message(visitor, first, "One more question", str(uuid.uuid4()))
    work(app)
    reopened = conv(first)
    assert reopened.status in ("open", "pending") and reopened.assignee_id is None
    assert reopened.previous_assignee_id == full.id
    assert assignment.queue_position(first) == 1
    # A free colleague takes it at once.
    colleague = make_user(inboxes=[inbox])
    routing.on_operator_online(colleague.id)
    work(app)
    assert conv(first).assignee_id == colleague.id
