"""Typing indicators (ephemeral, both ways) and presence (availability, grace sweep, visitor online)."""
from __future__ import annotations

import time

import pytest

from messenger.errors import Forbidden
from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.models import ContactSession
from messenger.models import User
from messenger.services import presence
from tests.realtime.conftest import World
from tests.realtime.conftest import operator_stream
from tests.realtime.conftest import ready_operator_stream
from tests.realtime.conftest import visitor_stream
from tests.realtime.helpers import Http

pytestmark = pytest.mark.committing


def test_typing_reaches_colleagues_and_the_visitor_but_never_yourself_nor_notes_to_the_visitor(
        live_server, world: World) -> None:  # type: ignore[no-untyped-def]
    agent_client, agent = ready_operator_stream(live_server, world.agent)
    _, admin = ready_operator_stream(live_server, world.admin)
    _, outsider = ready_operator_stream(live_server, world.outsider)
    mine = visitor_stream(live_server, world.visitor_token)
    other = visitor_stream(live_server, world.other_token)
    visitor_http = Http(live_server.url)
    token = {"X-Visitor-Token": world.visitor_token}
    conv = world.conversation.id
    try:
        mine.wait_count("ready", 1)
        other.wait_count("ready", 1)
        status, body = agent_client.request("POST", f"/api/v1/conversations/{conv}/typing", {"on": True})
        assert (status, body) == (200, {"ok": True, "sent": True})
        seen = admin.wait_count("typing", 1)[0]
        assert seen.id is None
        assert seen.data == {"conversation_id": conv, "inbox_id": world.inbox.id, "on": True, "from": "operator",
                             "user_id": world.agent.id, "name": world.agent.name, "private": False,
                             "expires_in": 6}
        shown = mine.wait_count("typing", 1)[0]
        assert shown.data == {"conversation_id": conv, "on": True, "from": "operator", "name": world.agent.name,
                              "expires_in": 6}
        # Repeated "on" within the throttle window costs nothing; a state change always goes out.
        assert agent_client.request("POST", f"/api/v1/conversations/{conv}/typing", {"on": True})[1]["sent"] is False
        agent_client.request("POST", f"/api/v1/conversations/{conv}/typing", {"on": False})
        assert admin.wait_count("typing", 2)[1].data["on"] is False
        # Typing a private note: colleagues see it, the visitor does not.
        agent_client.request("POST", f"/api/v1/conversations/{conv}/typing", {"on": True, "private": True})
        assert admin.wait_count("typing", 3)[2].data["private"] is True
        # The visitor types: operators of the inbox see it.
        status, body = visitor_http.request("POST", f"/widget/api/v1/conversations/{conv}/typing", {"on": True},
                                            headers=token)
        assert status == 200 and body["sent"] is True
        from_visitor = agent.wait_count("typing", 1)[0]
        assert from_visitor.data["from"] == "visitor" and from_visitor.data["user_id"] is None
        admin.wait_count("typing", 4)
        time.sleep(0.5)
        assert [e.data["from"] for e in agent.named("typing")] == ["visitor"]  # never its own typing
        assert len(mine.named("typing")) == 2  # on, off; not the note, not its own
        assert other.named("typing") == [] and outsider.named("typing") == []
    finally:
        for stream in (agent, admin, outsider, mine, other):
            stream.close()


def test_typing_rejects_bad_input_and_foreign_conversations(live_server, world: World) -> None:  # type: ignore[no-untyped-def]
    _, stream = ready_operator_stream(live_server, world.outsider)
    stream.close()
    outsider = Http(live_server.url)
    outsider.login(world.outsider.email, "correct horse battery")
    conv = world.conversation.id
    assert outsider.request("POST", f"/api/v1/conversations/{conv}/typing", {"on": True})[0] == 404
    agent = Http(live_server.url)
    agent.login(world.agent.email, "correct horse battery")
    for body in ({"on": "yes"}, {}, [1], {"on": True, "private": "no"}):
        status, answer = agent.request("POST", f"/api/v1/conversations/{conv}/typing", body)
        assert status == 422, answer
    token = {"X-Visitor-Token": world.other_token}
    assert Http(live_server.url).request("POST", f"/widget/api/v1/conversations/{conv}/typing", {"on": True},
                                         headers=token)[0] == 404


def test_availability_changes_are_broadcast_and_validated(live_server, world: World) -> None:  # type: ignore[no-untyped-def]
    agent_client, agent = ready_operator_stream(live_server, world.agent)
    _, admin = ready_operator_stream(live_server, world.admin)
    try:
        status, body = agent_client.request("POST", "/api/v1/me/availability", {"availability": "busy"})
        assert (status, body) == (200, {"user_id": world.agent.id, "availability": "busy",
                                        "availability_choice": "busy"})
        update = admin.wait_count("presence.updated", 1)[0]
        assert update.id is not None
        assert update.data["user_id"] == world.agent.id and update.data["availability"] == "busy"
        assert agent.wait_count("presence.updated", 1)[0].data["availability"] == "busy"
        for bad in ({"availability": "away"}, {"availability": None}, {}, ["online"]):
            assert agent_client.request("POST", "/api/v1/me/availability", bad)[0] == 422
        no_csrf = Http(live_server.url)
        no_csrf.jar = agent_client.jar
        assert no_csrf.request("POST", "/api/v1/me/availability", {"availability": "online"})[0] == 400
    finally:
        agent.close()
        admin.close()


def test_set_availability_service_rules(world: World) -> None:
    with pytest.raises(Forbidden):
        presence.set_availability(world.agent.id, world.admin.id, "offline")
    with pytest.raises(ValidationError):
        presence.set_availability(None, world.agent.id, "away")
    user = presence.set_availability(world.admin.id, world.agent.id, "offline")
    assert user.availability == "offline"
    user = presence.set_availability(None, world.agent.id, "online")
    assert user.availability == "online" and user.last_seen_at is not None


def test_operator_with_no_stream_past_the_grace_period_goes_offline(fast_server, world: World) -> None:  # type: ignore[no-untyped-def]
    """Grace 2 s, heartbeat 1 s: an open stream keeps the operator online; closing it ends that."""
    agent_id = world.agent.id
    presence.set_availability(agent_id, agent_id, "online")
    _, agent = ready_operator_stream(fast_server, world.agent)
    _, admin = ready_operator_stream(fast_server, world.admin)
    try:
        time.sleep(4)  # twice the grace period, stream open
        db.session.expire_all()
        assert db.session.get(User, agent_id).availability == "online"  # type: ignore[union-attr]
        agent.close()
        closed_at = time.monotonic()
        update = admin.wait_for(lambda s: any(e.data["user_id"] == agent_id and e.data["availability"] == "offline"
                                              for e in s.named("presence.updated")), 10)
        assert update, [e.data for e in admin.named("presence.updated")]
        assert time.monotonic() - closed_at >= 1.5
        db.session.expire_all()
        assert db.session.get(User, agent_id).availability == "offline"  # type: ignore[union-attr]
    finally:
        agent.close()
        admin.close()


def test_visitor_online_and_offline_are_visible_to_operators(fast_server, world: World) -> None:  # type: ignore[no-untyped-def]
    _, admin = ready_operator_stream(fast_server, world.admin)
    try:
        mine = visitor_stream(fast_server, world.visitor_token)
        mine.wait_count("ready", 1)
        online = admin.wait_count("contact.session", 1)[0]
        assert online.data["contact_id"] == world.visitor.contact_id and online.data["online"] is True
        mine.close()
        offline = admin.wait_count("contact.session", 2, timeout=10)[1]
        assert offline.data["contact_id"] == world.visitor.contact_id and offline.data["online"] is False
        db.session.expire_all()
        assert db.session.get(ContactSession, world.visitor.session_id).online is False  # type: ignore[union-attr]
    finally:
        admin.close()


def test_admin_sees_new_operator_stream_position_via_ready(live_server, world: World) -> None:  # type: ignore[no-untyped-def]
    """A new EventSource without a position starts live at the hub's position (sent in ``ready``)."""
    stream = operator_stream(live_server, world.admin)
    try:
        ready = stream.wait_count("ready", 1)[0]
        assert ready.id == ready.data["position"] and ready.data["heartbeat"] == 60
    finally:
        stream.close()
