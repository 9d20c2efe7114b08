"""Operator API for manual assignment: self-assign, assign/transfer with a note, team, unassign, errors."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import Event
from messenger.models import Message
from messenger.models import Team
from messenger.models import TeamMember
from messenger.services import assignment
from messenger.services import conversations as conv_service
from tests.assignment_helpers import activities
from tests.assignment_helpers import conv
from tests.assignment_helpers import set_user
from tests.assignment_helpers import work
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user
from tests.helpers import Api


def _assign(api: Api, conversation_id: int, body: object):  # type: ignore[no-untyped-def]
    return api.send("POST", f"/api/v1/conversations/{conversation_id}/assign", body)


def test_self_assign_then_a_colleague_is_refused_with_the_current_state(auth):
    inbox = make_inbox()
    anna, ben = make_user(inboxes=[inbox]), make_user(inboxes=[inbox])
    c = make_conversation(inbox).id
    taken = make_conversation(inbox).id
    assignment.self_assign(ben, taken)
    api = auth(anna)
    resp = api.send("POST", f"/api/v1/conversations/{c}/self-assign")
    assert resp.status_code == 200 and resp.json["assignee_id"] == anna.id
    assert api.send("POST", f"/api/v1/conversations/{c}/self-assign").status_code == 200  # idempotent
    assert [m.content for m in activities(c, "assignment")] == [f"{anna.name} took the conversation"]
    resp = api.send("POST", f"/api/v1/conversations/{taken}/self-assign", {"version": 1})
    assert resp.status_code == 409 and resp.json["error"] == "stale_version"
    resp = api.send("POST", f"/api/v1/conversations/{taken}/self-assign")
    assert resp.status_code == 409 and resp.json["error"] == "already_assigned"
    assert resp.json["conversation"]["assignee_id"] == ben.id


def test_transfer_with_a_private_note_and_unassign(auth):
    inbox = make_inbox()
    anna, ben = make_user(inboxes=[inbox]), make_user(inboxes=[inbox])
    c = make_conversation(inbox, assignee_id=anna.id).id
    api = auth(anna)
    version = conv(c).version
    resp = _assign(api, c, {"user_id": ben.id, "note": "VIP, billing question", "version": version})
    assert resp.status_code == 200 and resp.json["assignee_id"] == ben.id
    assert conv(c).previous_assignee_id == anna.id and conv(c).version == version + 1
    assert activities(c, "assignment")[-1].content == f"{anna.name} transferred the conversation to {ben.name}"
    note = db.session.scalar(sa.select(Message).where(Message.conversation_id == c, Message.type == "note"))
    assert note is not None and note.content == "VIP, billing question" and note.sender_user_id == anna.id
    resp = _assign(api, c, {"user_id": None})
    assert resp.status_code == 200 and resp.json["assignee_id"] is None
    assert "back in the queue" in activities(c, "assignment")[-1].content
    assert _assign(api, c, {"user_id": ben.id, "version": version}).status_code == 409


def test_assign_to_a_team_keeps_a_member_and_drops_a_non_member(auth):
    inbox = make_inbox()
    anna, ben = make_user(inboxes=[inbox]), make_user(inboxes=[inbox])
    team = Team(name=f"Billing {uuid.uuid4().hex[:6]}")
    db.session.add(team)
    db.session.flush()
    db.session.add(TeamMember(team_id=team.id, user_id=ben.id))
    db.session.commit()
    c = make_conversation(inbox, assignee_id=anna.id).id
    api = auth(anna)
    resp = _assign(api, c, {"team_id": team.id})
    assert resp.status_code == 200 and resp.json["team_id"] == team.id and resp.json["assignee_id"] is None
    resp = _assign(api, c, {"user_id": ben.id})
    assert resp.json["assignee_id"] == ben.id and resp.json["team_id"] == team.id
    resp = _assign(api, c, {"team_id": team.id})  # ben is in the team: nothing changes
    assert resp.json["assignee_id"] == ben.id


def test_bad_input_and_foreign_conversations(auth, client):
    inbox, elsewhere = make_inbox(), make_inbox()
    anna = make_user(inboxes=[inbox])
    outsider = make_user(inboxes=[elsewhere])
    offline = make_user(inboxes=[inbox], availability="offline")
    full = make_user(inboxes=[inbox], capacity=1)
    make_conversation(inbox, assignee_id=full.id)
    c = make_conversation(inbox).id
    foreign = make_conversation(elsewhere).id
    api = auth(anna)
    assert _assign(api, foreign, {"user_id": anna.id}).status_code == 404
    assert api.send("POST", f"/api/v1/conversations/{foreign}/self-assign").status_code == 404
    assert api.get(f"/api/v1/conversations/{foreign}/queue").status_code == 404
    for body, code in [({"user_id": outsider.id}, "not_member"), ({"user_id": offline.id}, "operator_offline"),
                       ({"user_id": "7"}, "invalid"), ({"user_id": 2**40}, "invalid"), ({}, "invalid"),
                       ({"team_id": 999999}, "unknown_team"), ({"user_id": None, "note": 5}, "invalid"),
                       ({"user_id": anna.id, "colour": "red"}, "invalid"), ([1], "invalid")]:
        resp = _assign(api, c, body)
        assert resp.status_code == 422 and resp.json["error"] == code, (body, resp.json)
    resp = _assign(api, c, {"user_id": full.id})
    assert resp.status_code == 409 and resp.json["error"] == "at_capacity"
    assert api.send("POST", f"/api/v1/conversations/{c}/assign", {"user_id": anna.id}, csrf=False).status_code == 400
    assert client.post(f"/api/v1/conversations/{c}/self-assign", data="{", content_type="application/json",
                       headers={"X-CSRFToken": api.token}).status_code == 422
    assert conv(c).assignee_id is None


@pytest.mark.committing
def test_unassign_in_an_auto_inbox_hands_the_conversation_to_someone_else(auth, app):
    inbox = make_inbox(auto_assignment=True, assignment_policy="least_busy")
    anna, ben = make_user(inboxes=[inbox]), make_user(inboxes=[inbox])
    c = make_conversation(inbox).id
    work(app)
    other = make_conversation(inbox).id
    work(app)
    assert (conv(c).assignee_id, conv(other).assignee_id) == (anna.id, ben.id)
    api = auth(anna)
    assert api.get(f"/api/v1/conversations/{c}/queue").json == {"conversation_id": c, "position": None}
    assert _assign(api, c, {"user_id": None}).status_code == 200
    work(app)
    # Least busy alone would hand it straight back to anna (0 open); a colleague gets it instead.
    assert conv(c).assignee_id == ben.id and conv(c).previous_assignee_id == anna.id
    set_user(anna.id, availability="busy")
    set_user(ben.id, availability="busy")
    waiting = make_conversation(inbox).id
    work(app)
    assert api.get(f"/api/v1/conversations/{waiting}/queue").json["position"] == 1
    kinds = set(db.session.scalars(sa.select(Event.kind).where(Event.inbox_id == inbox.id)))
    assert {"conversation.updated", "message.created", "queue.changed"} <= kinds


@pytest.mark.committing
def test_the_visitor_sees_the_queue_position_change_live(app, live_server):
    from tests.realtime.conftest import visitor_stream
    from tests.realtime.helpers import Http

    inbox = make_inbox(auto_assignment=True)
    op = make_user(inboxes=[inbox], capacity=1)
    visitors = []
    for i in range(3):
        http = Http(live_server.url)
        status, session = http.request("POST", "/widget/api/v1/session", {"inbox": inbox.website_token})
        assert status == 201, session
        headers = {"X-Visitor-Token": session["token"]}
        status, sent = http.request("POST", "/widget/api/v1/messages",
                                    {"content": f"Hello {i}", "client_id": str(uuid.uuid4())}, headers)
        assert status == 201, sent
        visitors.append((http, headers, sent["conversation"]["id"]))
    work(app)
    http, headers, last = visitors[2]

    def position() -> object:
        status, body = http.request("GET", f"/widget/api/v1/conversations/{last}", headers=headers)
        assert status == 200, body
        return body["queue"]["position"]

    assert position() == 2
    stream = visitor_stream(live_server, headers["X-Visitor-Token"])
    try:
        assert stream.wait_for(lambda s: bool(s.named("ready")))
        conv_service.change_status(op, visitors[0][2], "resolved")
        work(app)
        assert conv(visitors[1][2]).assignee_id == op.id
        changed = stream.wait_count("queue.changed", 1)
        assert changed[0].data == {"inbox_id": inbox.id}
        assert position() == 1
    finally:
        stream.close()
