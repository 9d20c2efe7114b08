"""Realtime streams against the real gunicorn+gevent server and PostgreSQL: delivery, access, replay."""
from __future__ import annotations

import pytest

from messenger.services import messages as msg_service
from tests.realtime.conftest import World
from tests.realtime.conftest import new_client_id
from tests.realtime.conftest import operator_http
from tests.realtime.helpers import SSE
from tests.realtime.helpers import Http

pytestmark = pytest.mark.committing


def visitor_ticket(server, token: str) -> str:  # type: ignore[no-untyped-def]
    status, body = Http(server.url).request("POST", "/widget/api/v1/stream-ticket",
                                            headers={"X-Visitor-Token": token})
    assert status == 200, body
    assert body["expires_in"] == 60
    return str(body["ticket"])


def visitor_stream(server, token: str, after: int | None = None) -> SSE:  # type: ignore[no-untyped-def]
    query = f"?ticket={visitor_ticket(server, token)}" + (f"&after={after}" if after is not None else "")
    return SSE(server.url, "/widget/api/v1/stream" + query)


def operator_stream(server, user, after: int | None = None, last_event_id: int | None = None) -> SSE:  # type: ignore[no-untyped-def]
    client = operator_http(server, user)
    headers = {"Cookie": client.cookie_header()}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    return SSE(server.url, "/api/v1/stream" + (f"?after={after}" if after is not None else ""), headers)


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
