"""Realtime streams against the real gunicorn+gevent server and PostgreSQL: delivery, access, replay."""
from __future__ import annotations

from typing import Any

import pytest

from messenger.extensions import db
from messenger.models import Contact
from messenger.services import conversations as conv_service
from messenger.services import messages as msg_service
from tests.factories import make_conversation
from tests.realtime.conftest import World
from tests.realtime.conftest import head
from tests.realtime.conftest import new_client_id
from tests.realtime.conftest import operator_http
from tests.realtime.conftest import operator_stream
from tests.realtime.conftest import send_replies
from tests.realtime.conftest import visitor_stream
from tests.realtime.conftest import visitor_ticket
from tests.realtime.helpers import SSE
from tests.realtime.helpers import Http

pytestmark = pytest.mark.committing


def test_message_reaches_operator_and_its_visitor_note_only_operators_other_visitor_nothing(
        live_server, world: World) -> None:  # type: ignore[no-untyped-def]
    agent = operator_stream(live_server, world.agent)
    mine = visitor_stream(live_server, world.visitor_token)
    other = visitor_stream(live_server, world.other_token)
    try:
        for stream in (agent, mine, other):
            assert stream.status == 200
            assert stream.headers["Cache-Control"] == "no-cache"
            assert stream.headers["X-Accel-Buffering"] == "no"
            stream.wait_count("ready", 1)
            assert stream.retry == 3000
        visitor_msg = msg_service.send_visitor_message(world.visitor, world.conversation.id, "hello",
                                                       new_client_id()).message
        reply = msg_service.send_operator_message(world.agent, world.conversation.id, "hi there",
                                                  new_client_id()).message
        note = msg_service.send_operator_message(world.agent, world.conversation.id, "internal: VIP",
                                                 new_client_id(), private=True).message
        ops = agent.wait_count("message.created", 3)
        assert [e.data["id"] for e in ops] == [visitor_msg.id, reply.id, note.id]
        assert all(e.id is not None for e in ops)
        assert [e.id for e in ops] == sorted(e.id for e in ops)
        # The visitor gets the two public messages and never the note, even after it.
        got = mine.wait_count("message.created", 2)
        assert [e.data["id"] for e in got] == [visitor_msg.id, reply.id]
        agent.wait_for(lambda s: len(s.named("conversation.updated")) >= 1)
        mine.wait_for(lambda s: len(s.named("conversation.updated")) >= 1)
        for e in mine.named("conversation.updated"):
            for hidden in ("unread_count", "priority", "team_id", "labels", "version", "custom_attributes"):
                assert hidden not in e.data
        # Give the hub time to deliver anything it (wrongly) would, then check.
        later = msg_service.send_visitor_message(world.other_visitor, world.other_conversation.id, "me too",
                                                 new_client_id()).message
        other.wait_count("message.created", 1)
        assert [e.data["id"] for e in other.messages()] == [later.id]
        assert note.id not in [e.data["id"] for e in mine.messages()]
        assert all(e.data.get("conversation_id", e.data.get("id")) == world.conversation.id
                   for e in mine.events if e.event.startswith(("message.", "conversation.")))
        assert all(e.data.get("conversation_id", e.data.get("id")) == world.other_conversation.id
                   for e in other.events if e.event.startswith(("message.", "conversation.")))
    finally:
        for stream in (agent, mine, other):
            stream.close()


def _unique_increasing(ids: list[int | None]) -> bool:
    real = [i for i in ids if i is not None]
    return real == sorted(set(real))


def _poll_messages(client: Http, path: str, after: int, want: int, headers: dict[str, str] | None = None,
                   rounds: int = 20) -> tuple[list[dict[str, Any]], int]:
    """Long-poll until ``want`` message.created events arrived; returns them and the final position."""
    got: list[dict[str, Any]] = []
    ids: list[int] = []
    position = after
    for _ in range(rounds):
        status, body = client.request("GET", f"{path}?after={position}", headers=headers)
        assert status == 200, body
        assert "resync" not in body
        for event in body["events"]:
            if event["id"] is not None:
                assert event["id"] > position
                ids.append(event["id"])
            if event["kind"] == "message.created":
                got.append(event["data"])
        assert body["position"] >= position
        position = body["position"]
        if len(got) >= want:
            break
    assert ids == sorted(set(ids))
    return got, position


@pytest.mark.parametrize("server_name", ["live_server", "fast_server"])  # ring replay / log replay (ring of 16)
def test_reconnect_with_last_event_id_replays_exactly_the_missed_50_in_order(
        request: pytest.FixtureRequest, server_name: str, world: World) -> None:
    server = request.getfixturevalue(server_name)
    client = operator_http(server, world.agent)
    first = operator_stream(server, world.agent, client=client)
    try:
        first.wait_count("ready", 1)
        send_replies(world.agent, world.conversation.id, 1)
        last_id = first.wait_count("message.created", 1)[-1].id
    finally:
        first.close()
    assert last_id is not None
    sent = send_replies(world.agent, world.conversation.id, 50)
    again = operator_stream(server, world.agent, last_event_id=last_id, client=client)
    try:
        got = again.wait_count("message.created", 50)
        assert [e.data["id"] for e in got] == sent
        assert again.named("ready")[0].data["position"] == last_id
        assert _unique_increasing([e.id for e in again.events])
        assert all(e.id is not None and e.id > last_id for e in again.events if e.event != "ready")
        # Live events keep flowing after the replay, still without duplicates.
        more = send_replies(world.agent, world.conversation.id, 2)
        got = again.wait_count("message.created", 52)
        assert [e.data["id"] for e in got] == sent + more
        assert _unique_increasing([e.id for e in again.events])
    finally:
        again.close()
    # The same through the long-poll fallback, for the operator and for the visitor.
    polled, _ = _poll_messages(client, "/api/v1/events", last_id, 52)
    assert [m["id"] for m in polled] == sent + more
    polled, _ = _poll_messages(Http(server.url), "/widget/api/v1/events", last_id, 52,
                               headers={"X-Visitor-Token": world.visitor_token})
    assert [m["id"] for m in polled] == sent + more


def test_an_operator_without_access_to_an_inbox_never_receives_its_events(fast_server, world: World) -> None:  # type: ignore[no-untyped-def]
    start = head()
    client = operator_http(fast_server, world.outsider)
    outsider = operator_stream(fast_server, world.outsider, client=client)
    admin = operator_stream(fast_server, world.admin)
    try:
        outsider.wait_count("ready", 1)
        admin.wait_count("ready", 1)
        send_replies(world.agent, world.conversation.id, 8)  # more events than the ring holds
        send_replies(world.agent, world.conversation.id, 1, private=True)
        msg_service.send_visitor_message(world.other_visitor, world.other_conversation.id, "x", new_client_id())
        assert len(admin.wait_count("message.created", 10)) == 10
        # Something the outsider may see, so we know its stream is live and caught up.
        theirs = make_conversation(world.other_inbox)
        outsider.wait_for(lambda s: any(e.data.get("id") == theirs.id for e in s.named("conversation.created")))
        assert outsider.messages() == []
        assert all(e.data.get("inbox_id") in (None, world.other_inbox.id) for e in outsider.events
                   if e.event.startswith("conversation."))
    finally:
        outsider.close()
        admin.close()
    # Replay from before: from the log (ring of 16 < events written), with the same filter.
    replay = operator_stream(fast_server, world.outsider, after=start, client=client)
    try:
        replay.wait_for(lambda s: any(e.data.get("id") == theirs.id for e in s.named("conversation.created")))
        assert replay.messages() == []
        assert not any(e.data.get("conversation_id") in (world.conversation.id, world.other_conversation.id)
                       for e in replay.events if e.data)
    finally:
        replay.close()
    status, body = client.request("GET", f"/api/v1/events?after={start}")
    assert status == 200
    kinds = [(e["kind"], e["data"].get("inbox_id")) for e in body["events"]]
    assert ("conversation.created", world.other_inbox.id) in kinds
    assert not [e for e in body["events"] if e["kind"].startswith("message.")]


def test_streams_answer_401_or_403_json_not_a_stream(live_server, world: World) -> None:  # type: ignore[no-untyped-def]
    anonymous = SSE(live_server.url, "/api/v1/stream")
    assert anonymous.status == 401 and anonymous.body["error"] == "unauthorized"
    for ticket in ("nope-not-a-ticket", world.visitor_token):  # a visitor token is not a ticket
        bad = SSE(live_server.url, f"/widget/api/v1/stream?ticket={ticket}")
        assert bad.status == 401 and bad.body["error"] == "invalid_ticket"
    status, body = Http(live_server.url).request("GET", "/widget/api/v1/events?after=0",
                                                 headers={"X-Visitor-Token": "garbage-garbage"})
    assert status == 401 and body["error"] == "invalid_token"
    ticket = visitor_ticket(live_server, world.visitor_token)
    contact = db.session.get(Contact, world.visitor.contact_id)
    assert contact is not None
    contact.blocked = True
    db.session.commit()
    blocked = SSE(live_server.url, f"/widget/api/v1/stream?ticket={ticket}")
    assert blocked.status == 403 and blocked.body["error"] == "blocked"
    client = operator_http(live_server, world.agent)
    for after in ("-1", "abc", "1e3", "99999999999999999999"):
        bad_after = SSE(live_server.url, f"/api/v1/stream?after={after}", {"Cookie": client.cookie_header()})
        assert bad_after.status == 422 and bad_after.body["field"] == "after"


def test_resolved_while_the_widget_was_away_shows_resolved_on_reconnect(live_server, world: World) -> None:  # type: ignore[no-untyped-def]
    """Reliability case 8: the visitor's replay carries the status change it missed."""
    mine = visitor_stream(live_server, world.visitor_token)
    try:
        position = mine.wait_count("ready", 1)[0].data["position"]
    finally:
        mine.close()
    conv_service.change_status(world.agent, world.conversation.id, "resolved")
    back = visitor_stream(live_server, world.visitor_token, after=position)
    try:
        assert back.wait_for(lambda s: any(e.data.get("status") == "resolved" and "status" in e.data["changed"]
                                           for e in s.named("conversation.updated")))
    finally:
        back.close()


def test_open_streams_hold_no_database_connection_while_they_wait(live_server, world: World) -> None:  # type: ignore[no-untyped-def]
    """Twelve open streams (operators and visitors) leave no server backend inside a transaction:
    a stream that kept its request's connection would exhaust the pool long before the stream cap."""
    import sqlalchemy as sa

    streams = [operator_stream(live_server, world.agent) for _ in range(3)]
    streams += [visitor_stream(live_server, world.visitor_token) for _ in range(3)]
    streams += [visitor_stream(live_server, world.other_token) for _ in range(3)]
    streams += [operator_stream(live_server, world.admin) for _ in range(3)]
    try:
        for stream in streams:
            stream.wait_count("ready", 1)
        db.session.commit()  # this test's own session read the world; only the server's backends count
        with db.engine.connect() as conn:
            held = conn.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()")).scalar_one()
        assert held == 0
    finally:
        for stream in streams:
            stream.close()
