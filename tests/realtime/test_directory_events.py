"""``directory.changed``: an admin's change to what the panel's pickers list reaches every open
panel (migration 0019; docs/event-log.md). One event per table and transaction, only when a
column the panel shows changed; the routing's own writes emit nothing."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import Inbox
from messenger.models import Label
from messenger.models import User
from messenger.realtime import log
from messenger.services import canned as canned_service
from messenger.services import labels as labels_service
from messenger.services import teams as teams_service
from tests.factories import make_inbox
from tests.factories import make_user
from tests.helpers import LiveServer
from tests.realtime.conftest import World
from tests.realtime.conftest import operator_stream
from tests.realtime.conftest import send_replies
from tests.realtime.conftest import visitor_stream

pytestmark = pytest.mark.committing


def _changes(after: int) -> list[str]:
    """The tables named by ``directory.changed`` events after ``after``, in log order."""
    return [e.payload["what"] for e in log.events_after(after) if e.kind == "directory.changed"]


def test_one_event_per_table_and_transaction_and_only_for_shown_columns(app) -> None:  # type: ignore[no-untyped-def]
    admin = make_user(role="admin")
    inbox = make_inbox(name="Support")
    db.session.commit()

    start = log.head_position()
    for name in ("Billing", "Refund", "VIP"):  # three rows, one transaction
        db.session.add(Label(name=name, color="#123456"))
    db.session.commit()
    assert _changes(start) == ["labels"]

    start = log.head_position()
    # The routing's own writes and presence: nothing for the pickers.
    db.session.execute(sa.update(User).where(User.id == admin.id).values(
        availability="online", last_seen_at=sa.func.now(), last_assigned_at=sa.func.now()))
    db.session.execute(sa.update(Inbox).where(Inbox.id == inbox.id).values(rr_last_user_id=admin.id))
    db.session.execute(sa.update(Inbox).where(Inbox.id == inbox.id).values(name="Support"))  # the same name
    db.session.commit()
    assert _changes(start) == []

    start = log.head_position()
    db.session.execute(sa.update(Inbox).where(Inbox.id == inbox.id).values(name="Customer care"))
    db.session.commit()
    label = labels_service.save_label(admin.id, None, name="Urgent", color="#ff0000")
    labels_service.delete_label(admin.id, label.id)
    teams_service.save_team(admin.id, None, name="Tier 2", members=[admin.id])
    canned_service.save_canned(admin.id, None, None, short_code="hi", content="Hello!")
    db.session.execute(sa.update(User).where(User.id == admin.id).values(name="Ada Lovelace"))
    db.session.commit()
    assert _changes(start) == ["inboxes", "labels", "labels", "teams", "team_members", "canned_responses", "users"]
    events = [e for e in log.events_after(start) if e.kind == "directory.changed"]
    assert all(e.private and e.inbox_id is None and e.contact_id is None and set(e.payload) == {"what"}
               for e in events)


def test_every_operator_stream_receives_it_and_no_visitor_stream_does(
        live_server: LiveServer, world: World) -> None:  # type: ignore[no-untyped-def]
    agent = operator_stream(live_server, world.agent)  # an agent of one inbox: the event names none
    visitor = visitor_stream(live_server, world.visitor_token)
    try:
        agent.wait_count("ready", 1)
        visitor.wait_count("ready", 1)
        labels_service.save_label(world.admin.id, None, name="Returns", color="#00aa00")
        assert agent.wait_count("directory.changed", 1)[0].data == {"what": "labels"}
        [reply] = send_replies(world.agent, world.conversation.id, 1)  # after it in the log
        assert [int(e.data["id"]) for e in visitor.wait_count("message.created", 1)] == [reply]
        assert visitor.named("directory.changed") == []
    finally:
        agent.close()
        visitor.close()
