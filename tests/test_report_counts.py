"""The reports' hourly counts (``report_counts`` + ``report_count_deltas``, migration 0014) stay
equal to a recount.

Triggers append each change in the transaction that writes; compaction folds them in. These
tests drive the real services (visitor sends, replies, notes, deletions, assignment and team
changes, resolve/reopen, erasure) plus the writes only SQL does (moving a conversation to
another inbox, re-timing a message or a conversation, deleting a conversation or a
message) and compactions, in a random order, and after every step compare the tables with
a recount. The report's per-day table and heat map are then checked against plain counts
by local day and hour, in zones with whole-hour, half-hour and 45-minute offsets.
Concurrent writers and a compactor in real threads leave it exact too, and
``flask messenger report-counts`` finds and repairs drift.
"""
from __future__ import annotations

import random
import uuid
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from typing import Any

import pytest
import sqlalchemy as sa

from messenger.errors import Conflict
from messenger.errors import NotFound
from messenger.extensions import db
from messenger.models import Conversation
from messenger.models import Message
from messenger.models import Team
from messenger.models import User
from messenger.services import conversations as conv_service
from messenger.services import data_requests
from messenger.services import message_edits
from messenger.services import messages as msg_service
from messenger.services import reports
from messenger.services.assignment import manual
from messenger.services.visitors import Visitor
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user
from tests.factories import make_visitor
from tests.helpers import in_threads

ZONES = ("UTC", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu")

# The definitions, written independently of the rollup: by local day and hour, conversations
# opened and resolved, and the counted messages.
PLAIN_COUNT = """
    WITH scoped AS (SELECT c.* FROM conversations c
                    WHERE (CAST(:inbox_id AS int) IS NULL OR c.inbox_id = :inbox_id)
                      AND (CAST(:user_id AS int) IS NULL OR c.assignee_id = :user_id)
                      AND (CAST(:team_id AS int) IS NULL OR c.team_id = :team_id)),
         events AS (SELECT created_at AS at, 'opened' AS kind FROM scoped
                    UNION ALL SELECT resolved_at, 'resolved' FROM scoped WHERE resolved_at IS NOT NULL
                    UNION ALL SELECT m.created_at, m.type FROM messages m JOIN scoped c ON c.id = m.conversation_id
                              WHERE m.type IN ('incoming', 'outgoing') AND m.deleted_at IS NULL)
    SELECT (at AT TIME ZONE :tz)::date, extract(hour FROM at AT TIME ZONE :tz)::int,
           count(*) FILTER (WHERE kind = 'opened'), count(*) FILTER (WHERE kind = 'resolved'),
           count(*) FILTER (WHERE kind = 'incoming'), count(*) FILTER (WHERE kind = 'outgoing')
    FROM events WHERE at >= :start AND at < :end GROUP BY 1, 2"""


def _plain(flt: reports.ReportFilter) -> tuple[dict[date, list[int]], list[list[int]]]:
    """Per day (opened, resolved, incoming, outgoing) and the weekday × hour heat map, counted plainly."""
    start, end = flt.bounds()
    days = {d: [0, 0, 0, 0] for d in flt.days()}
    heatmap = [[0] * 24 for _ in range(7)]
    for day, hour, *counts in db.session.execute(sa.text(PLAIN_COUNT), {
            "tz": flt.tz, "start": start, "end": end, "inbox_id": flt.inbox_id, "user_id": flt.user_id,
            "team_id": flt.team_id}).all():
        days[day] = [a + b for a, b in zip(days[day], counts, strict=True)]
        heatmap[day.weekday()][hour] += counts[0]
    return days, heatmap


def _reported(flt: reports.ReportFilter) -> tuple[dict[date, list[int]], list[list[int]]]:
    report = reports.build(flt)
    return {day: list(rest) for day, *rest in report.daily}, report.heatmap


class World:
    """Two inboxes, three operators, a team and a handful of visitors' conversations."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.inboxes = [make_inbox(name="North"), make_inbox(name="South")]
        self.admin = make_user(role="admin", inboxes=self.inboxes)
        self.ops = [make_user(inboxes=self.inboxes) for _ in range(3)]
        self.team = Team(name="Tier 2")
        db.session.add(self.team)
        db.session.commit()
        self.convs: list[int] = []
        for _ in range(5):
            self.new_conversation()

    def new_conversation(self) -> None:
        visitor, _ = make_visitor(self.rng.choice(self.inboxes))
        sent = msg_service.send_visitor_message(visitor, None, "hello", str(uuid.uuid4()))
        self.convs.append(sent.message.conversation_id)

    def conv(self) -> Conversation:
        return db.session.get(Conversation, self.rng.choice(self.convs))

    def message(self) -> Message | None:
        return db.session.scalar(sa.select(Message).where(Message.conversation_id.in_(self.convs))
                                 .order_by(sa.func.random()).limit(1))


def _visitor_writes(w: World) -> None:
    conv = w.conv()  # the conversation's contact, in the inbox it is in now (it may have moved)
    msg_service.send_visitor_message(Visitor(session_id=0, contact_id=conv.contact_id, inbox_id=conv.inbox_id,
                                             token_id="test"), conv.id, "more", str(uuid.uuid4()))


def _operator_writes(w: World) -> None:
    msg_service.send_operator_message(w.rng.choice(w.ops), w.conv().id, "reply", str(uuid.uuid4()),
                                      private=w.rng.random() < 0.3, reopen=True)


def _assign(w: World) -> None:
    manual.assign_to(w.admin, w.conv().id, {"user_id": w.rng.choice([None, *[o.id for o in w.ops]])})


def _team(w: World) -> None:
    manual.assign_to(w.admin, w.conv().id, {"team_id": w.rng.choice([None, w.team.id])})


def _delete_reply(w: World) -> None:
    mine = db.session.execute(sa.select(Message.id, Message.conversation_id, Message.sender_user_id).where(
        Message.conversation_id.in_(w.convs), Message.type.in_(("outgoing", "note")),
        Message.deleted_at.is_(None)).order_by(sa.func.random()).limit(1)).first()
    if mine is not None:
        try:
            message_edits.delete_message(db.session.get(User, mine.sender_user_id), mine.conversation_id,
                                         mine.id)
        except Conflict:  # re-timed out of the edit window
            pass


def _move_inbox(w: World) -> None:
    conv = w.conv()
    other = next(i for i in w.inboxes if i.id != conv.inbox_id)
    display_id = db.session.execute(sa.text(  # the target inbox's next display id, as a new conversation gets
        "UPDATE inboxes SET next_display_id = next_display_id + 1 WHERE id = :i RETURNING next_display_id - 1"),
        {"i": other.id}).scalar_one()
    db.session.execute(sa.text("UPDATE conversations SET inbox_id = :i, display_id = :d WHERE id = :c"),
                       {"i": other.id, "d": display_id, "c": conv.id})
    db.session.commit()


def _retime(w: World) -> None:
    msg = w.message()
    if msg is not None:
        # Anywhere in the last three days, to the minute: quarters and local midnights in every zone.
        when = datetime.now(timezone.utc) - timedelta(minutes=w.rng.randrange(3 * 24 * 60))
        db.session.execute(sa.text("UPDATE messages SET created_at = :t WHERE id = :m"), {"t": when, "m": msg.id})
        db.session.commit()


def _status(w: World) -> None:
    conv = w.conv()
    try:
        conv_service.change_status(w.admin, conv.id, "open" if conv.status == "resolved" else "resolved")
    except Conflict:  # a newer conversation of the same contact is open
        pass


def _retime_conversation(w: World) -> None:
    when = datetime.now(timezone.utc) - timedelta(minutes=w.rng.randrange(3 * 24 * 60))
    column = w.rng.choice(["created_at", "resolved_at"])
    db.session.execute(sa.text(f"UPDATE conversations SET {column} = :t WHERE id = :c AND {column} IS NOT NULL"),
                       {"t": when, "c": w.conv().id})
    db.session.commit()


def _compact(w: World) -> None:
    reports.compact_report_counts()


def _delete_message_row(w: World) -> None:
    msg = w.message()
    if msg is not None:
        db.session.execute(sa.text("DELETE FROM messages WHERE id = :m"), {"m": msg.id})
        db.session.commit()


def _delete_conversation(w: World) -> None:
    conv = w.conv()
    w.convs.remove(conv.id)
    db.session.execute(sa.text("DELETE FROM conversations WHERE id = :c"), {"c": conv.id})
    db.session.commit()
    w.new_conversation()


def _erase(w: World) -> None:
    try:
        data_requests.erase_contact(w.admin, w.conv().contact_id)
    except NotFound:  # erased already
        pass


STEPS = {_visitor_writes: 8, _operator_writes: 8, _assign: 4, _team: 2, _delete_reply: 2, _move_inbox: 2,
         _retime: 6, _status: 3, _retime_conversation: 3, _delete_message_row: 2, _delete_conversation: 1,
         _erase: 1, _compact: 3}


def test_counts_equal_a_recount_after_a_random_mix_of_writes(app) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(20261128)
    w = World(rng)
    done = []
    for step in range(150):
        action = rng.choices(list(STEPS), weights=list(STEPS.values()))[0]
        action(w)
        done.append(action.__name__)
        assert reports.report_count_drift() == 0, f"after step {step}: {done[-5:]}"
    assert {"_assign", "_move_inbox", "_retime", "_status", "_retime_conversation", "_delete_conversation",
            "_delete_reply", "_compact"} <= set(done)
    counted = db.session.scalar(sa.text("SELECT count(*) FROM messages WHERE type IN ('incoming', 'outgoing') "
                                        "AND deleted_at IS NULL"))
    assert counted > 25
    today = datetime.now(timezone.utc).date()
    scopes: list[dict[str, Any]] = [{}, {"inbox_id": w.inboxes[0].id}, {"user_id": w.ops[0].id},
                                    {"team_id": w.team.id}, {"inbox_id": w.inboxes[1].id, "user_id": w.ops[1].id}]
    for tz in ZONES:
        for scope in scopes:
            flt = reports.make_filter(today - timedelta(days=4), today + timedelta(days=1), tz, **scope)
            assert _reported(flt) == _plain(flt), (tz, scope)
    everything = reports.make_filter(today - timedelta(days=4), today + timedelta(days=1), "Asia/Kathmandu")
    assert sum(i + o for _opened, _resolved, i, o in _reported(everything)[0].values()) == counted


def _at(day: int, hh: int, mm: int) -> datetime:
    return datetime(2026, 3, day, hh, mm, tzinfo=timezone.utc)


def test_days_split_inside_an_hour_in_half_hour_and_45_minute_zones(app) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox()
    conv = make_conversation(inbox)
    for kind, when in [("incoming", _at(2, 18, 10)), ("incoming", _at(2, 18, 20)), ("incoming", _at(2, 18, 40)),
                       ("incoming", _at(2, 18, 50)), ("note", _at(2, 18, 55))]:
        db.session.add(Message(conversation_id=conv.id, type=kind, content="x", created_at=when,
                               sender_contact_id=conv.contact_id if kind == "incoming" else None,
                               sender_user_id=make_user().id if kind == "note" else None))
    db.session.commit()

    def per_day(tz: str) -> dict[str, int]:
        flt = reports.make_filter(date(2026, 3, 2), date(2026, 3, 3), tz)
        return {d.isoformat(): i for d, _o, _r, i, _out in reports.build(flt).daily}

    # Kolkata is UTC+5:30: local midnight of 3 March is 18:30 UTC, inside the hour 18:00–19:00.
    assert per_day("Asia/Kolkata") == {"2026-03-02": 2, "2026-03-03": 2}
    # Kathmandu is UTC+5:45: midnight at 18:15 UTC.
    assert per_day("Asia/Kathmandu") == {"2026-03-02": 1, "2026-03-03": 3}
    assert per_day("UTC") == {"2026-03-02": 4, "2026-03-03": 0}


def test_a_transfer_takes_the_conversations_messages_along(app) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox()
    ann, bob = make_user(name="Ann", inboxes=[inbox]), make_user(name="Bob", inboxes=[inbox])
    admin = make_user(role="admin", inboxes=[inbox])
    visitor, _ = make_visitor(inbox)
    conv_id = msg_service.send_visitor_message(visitor, None, "hi", str(uuid.uuid4())).message.conversation_id
    manual.assign_to(admin, conv_id, {"user_id": ann.id})
    msg_service.send_operator_message(ann, conv_id, "hello", str(uuid.uuid4()))
    reply = msg_service.send_operator_message(ann, conv_id, "oops", str(uuid.uuid4())).message
    today = datetime.now(timezone.utc).date()

    def messages_of(user: Any) -> tuple[int, int]:
        daily = reports.build(reports.make_filter(today, today, "UTC", user_id=user.id)).daily
        return daily[0][3], daily[0][4]

    assert (messages_of(ann), messages_of(bob)) == ((1, 2), (0, 0))
    message_edits.delete_message(ann, conv_id, reply.id)  # deleted: no longer counted
    assert messages_of(ann) == (1, 1)
    manual.assign_to(admin, conv_id, {"user_id": bob.id})
    assert (messages_of(ann), messages_of(bob)) == ((0, 0), (1, 1))


@pytest.mark.committing
def test_concurrent_sends_and_reassignments_keep_the_counts_exact(app) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox()
    admin_id = make_user(role="admin", inboxes=[inbox]).id
    ops = [make_user(inboxes=[inbox]).id for _ in range(3)]
    visitors = [make_visitor(inbox)[0] for _ in range(4)]
    convs = [msg_service.send_visitor_message(v, None, "hi", str(uuid.uuid4())).message.conversation_id
             for v in visitors]
    db.session.remove()

    def writer(n: int) -> None:
        rng = random.Random(n)
        for _ in range(15):
            i = rng.randrange(len(convs))
            if n < 3:  # visitors write into the same few conversations (and the same hour rows)
                msg_service.send_visitor_message(visitors[i], convs[i], "again", str(uuid.uuid4()))
            elif n < 5:  # operators reply
                msg_service.send_operator_message(db.session.get(User, ops[n - 3]), convs[i], "reply",
                                                  str(uuid.uuid4()), reopen=True)
            elif n < 6:  # the admin keeps moving them between operators
                manual.assign_to(db.session.get(User, admin_id), convs[i], {"user_id": rng.choice([None, *ops])})
            else:  # and the worker folds the deltas in meanwhile
                reports.compact_report_counts()
            db.session.remove()

    failures = [r for r in in_threads(app, 7, writer) if r is not None]
    assert not failures, failures
    assert reports.report_count_drift() == 0
    reports.compact_report_counts()
    assert db.session.scalar(sa.text("SELECT count(*) FROM report_count_deltas")) == 0
    stored = db.session.scalar(sa.text("SELECT sum(incoming_00 + incoming_15 + incoming_30 + incoming_45) "
                                       "FROM report_counts WHERE level = 1"))  # the all-keys level
    assert stored == 4 + 3 * 15
    assert reports.report_count_drift() == 0


def test_report_counts_command_finds_and_repairs_drift(app) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox()
    visitor, _ = make_visitor(inbox)
    msg_service.send_visitor_message(visitor, None, "hi", str(uuid.uuid4()))
    runner = app.test_cli_runner()
    assert "exact" in runner.invoke(args=["messenger", "report-counts"]).output
    # A count that no message explains (as writes with triggers off, like a bulk import, would leave).
    db.session.execute(sa.text("INSERT INTO report_count_deltas (hour, inbox_id, incoming_00) "
                               "VALUES (date_trunc('hour', now(), 'UTC'), :i, 7)"), {"i": inbox.id})
    checked = runner.invoke(args=["messenger", "report-counts"])
    assert checked.exit_code == 1 and "1 rows differ" in checked.output
    rebuilt = runner.invoke(args=["messenger", "report-counts", "--rebuild"])
    assert rebuilt.exit_code == 0 and "rebuilt report_counts: 5 rows" in rebuilt.output
    assert reports.report_count_drift() == 0
    today = datetime.now(timezone.utc).date()
    assert reports.build(reports.make_filter(today, today, "UTC")).daily[0][3] == 1
