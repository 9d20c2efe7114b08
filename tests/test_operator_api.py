"""Operator JSON API: keyset list, filters and sorts, actions with versions, contacts, search, access."""
from __future__ import annotations

import uuid
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import CannedResponse
from messenger.models import Contact
from messenger.models import ConversationLabel
from messenger.models import Label
from messenger.models import Message
from messenger.models import Team
from messenger.services import messages as msg_service
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user
from tests.factories import make_visitor
from tests.helpers import Api


def _at(minutes: int) -> datetime:
    return datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=minutes)


@pytest.fixture
def world(auth):  # type: ignore[no-untyped-def]
    inbox, other_inbox = make_inbox(), make_inbox()
    me = make_user(inboxes=[inbox])
    colleague = make_user(inboxes=[inbox])
    api = auth(me)
    return {"inbox": inbox, "other": other_inbox, "me": me, "colleague": colleague, "api": api}


def _walk(api: Api, **params) -> list[dict]:  # type: ignore[type-arg]
    seen, cursor = [], None
    while True:
        resp = api.get("/api/v1/conversations", limit=3, **params, **({"cursor": cursor} if cursor else {}))
        assert resp.status_code == 200, resp.get_json()
        body = resp.get_json()
        seen.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return seen


def test_keyset_pages_return_every_conversation_once_while_new_ones_arrive(world):
    inbox = world["inbox"]
    convs = [make_conversation(inbox, last_activity_at=_at(i)) for i in range(10)]
    api = world["api"]
    first = api.get("/api/v1/conversations", limit=4).get_json()
    assert [c["id"] for c in first["items"]] == [c.id for c in reversed(convs)][:4]
    # New conversations arrive (newer activity) while the operator scrolls down.
    for i in range(3):
        make_conversation(inbox, last_activity_at=_at(100 + i))
    ids = [c["id"] for c in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        body = api.get("/api/v1/conversations", limit=4, cursor=cursor).get_json()
        ids.extend(c["id"] for c in body["items"])
        cursor = body["next_cursor"]
    assert sorted(ids) == sorted(c.id for c in convs)
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("sort", ["latest", "newest", "oldest_waiting", "priority"])
def test_every_sort_walks_all_pages_in_order(world, sort):
    inbox = world["inbox"]
    for i in range(8):
        make_conversation(inbox, last_activity_at=_at(i % 5), priority=i % 3,
                          waiting_since=None if i % 4 == 0 else _at(50 - i))
    items = _walk(world["api"], sort=sort)
    assert len(items) == 8 and len({c["id"] for c in items}) == 8
    if sort == "latest":
        keys = [(c["last_activity_at"], c["id"]) for c in items]
        assert keys == sorted(keys, reverse=True)
    elif sort == "priority":
        keys = [(c["priority"], c["last_activity_at"], c["id"]) for c in items]
        assert keys == sorted(keys, reverse=True)
    elif sort == "oldest_waiting":
        waiting = [c["waiting_since"] for c in items]
        present = [w for w in waiting if w is not None]
        assert present == sorted(present) and waiting[len(present):] == [None] * (len(waiting) - len(present))
    else:
        keys = [(c["created_at"], c["id"]) for c in items]
        assert keys == sorted(keys, reverse=True)


def test_tabs_filters_and_counts(world):
    inbox, me, colleague = world["inbox"], world["me"], world["colleague"]
    team = Team(name=f"Billing {uuid.uuid4().hex[:6]}")
    label = Label(name=f"vip-{uuid.uuid4().hex[:6]}")
    db.session.add_all([team, label])
    db.session.commit()
    mine = make_conversation(inbox, assignee_id=me.id, priority=4)
    theirs = make_conversation(inbox, assignee_id=colleague.id, team_id=team.id)
    free = make_conversation(inbox)
    done = make_conversation(inbox, status="resolved")
    db.session.add(ConversationLabel(conversation_id=free.id, label_id=label.id))
    db.session.commit()
    make_conversation(world["other"])  # invisible to me
    api = world["api"]

    def ids(**params):  # type: ignore[no-untyped-def]
        return {c["id"] for c in api.get("/api/v1/conversations", **params).get_json()["items"]}

    assert ids() == {mine.id, theirs.id, free.id}
    assert ids(tab="mine") == {mine.id}
    assert ids(tab="unassigned") == {free.id}
    assert ids(status="resolved") == {done.id}
    assert ids(status="any") == {mine.id, theirs.id, free.id, done.id}
    assert ids(team_id=team.id) == {theirs.id}
    assert ids(label_id=label.id) == {free.id}
    assert ids(priority=4) == {mine.id}
    assert ids(inbox_id=world["other"].id) == set()
    card = api.get(f"/api/v1/conversations/{free.id}").get_json()
    assert card["labels"] == [label.id] and card["contact"]["id"] == free.contact_id
    assert api.get("/api/v1/conversations/counts").get_json() == {"waiting": 1, "mine": 1, "unassigned": 1, "all": 3}
    assert api.get("/api/v1/conversations/counts", status="any").get_json()["all"] == 4


def test_waiting_tab_holds_every_conversation_nobody_took_pending_included(world):
    """A fresh operator sees the queue without hunting: open and pending, unassigned, any status filter."""
    inbox, me = world["inbox"], world["me"]
    queued = make_conversation(inbox, status="pending")
    fresh = make_conversation(inbox)
    make_conversation(inbox, assignee_id=me.id)
    make_conversation(inbox, status="snoozed", snoozed_until=datetime.now(timezone.utc) + timedelta(hours=1))
    make_conversation(inbox, status="resolved")
    make_conversation(world["other"], status="pending")  # another inbox: not mine to see
    api = world["api"]
    for status in ("open", "resolved", "any"):
        page = api.get("/api/v1/conversations", tab="waiting", status=status, sort="oldest_waiting").get_json()
        assert [c["id"] for c in page["items"]] == [queued.id, fresh.id], status
        assert api.get("/api/v1/conversations/counts", status=status).get_json()["waiting"] == 2
    counts = api.get("/api/v1/conversations/counts").get_json()
    assert counts == {"waiting": 2, "mine": 1, "unassigned": 1, "all": 2}


@pytest.mark.parametrize("params", [
    {"sort": "id;--"}, {"status": "open' OR 1=1"}, {"tab": "everyone"}, {"inbox_id": "1 OR 1=1"},
    {"priority": "9"}, {"limit": "0"}, {"limit": "1000"}, {"cursor": "not-a-cursor"}, {"order": "id"},
    {"label_id": "-1"}, {"team_id": "[1]"},
])
def test_list_parameters_are_allowlisted_and_typed(world, params):
    resp = world["api"].get("/api/v1/conversations", **params)
    assert resp.status_code == 422
    assert resp.get_json()["error"] in ("invalid", "invalid_cursor")


def test_cursor_from_another_sort_is_refused(world):
    for i in range(3):
        make_conversation(world["inbox"], last_activity_at=_at(i))
    cursor = world["api"].get("/api/v1/conversations", limit=1).get_json()["next_cursor"]
    resp = world["api"].get("/api/v1/conversations", limit=1, sort="newest", cursor=cursor)
    assert resp.status_code == 422 and resp.get_json()["error"] == "invalid_cursor"


def test_reply_note_messages_and_scroll_up(world):
    conv = make_conversation(world["inbox"])
    api = world["api"]
    for i in range(5):
        resp = api.send("POST", f"/api/v1/conversations/{conv.id}/messages",
                        {"content": f"hello {i}", "client_id": str(uuid.uuid4())})
        assert resp.status_code == 201
    note = api.send("POST", f"/api/v1/conversations/{conv.id}/messages",
                    {"content": "internal", "client_id": str(uuid.uuid4()), "private": True}).get_json()
    assert note["message"]["type"] == "note"
    page = api.get(f"/api/v1/conversations/{conv.id}/messages", limit=4).get_json()
    assert [m["content"] for m in page["messages"]] == ["hello 2", "hello 3", "hello 4", "internal"]
    assert page["has_more"] is True
    older = api.get(f"/api/v1/conversations/{conv.id}/messages", limit=4,
                    before_id=page["messages"][0]["id"]).get_json()
    assert [m["content"] for m in older["messages"]] == ["hello 0", "hello 1"] and older["has_more"] is False
    again = api.send("POST", f"/api/v1/conversations/{conv.id}/messages",
                     {"content": "", "client_id": str(uuid.uuid4())})
    assert again.status_code == 422


def test_stale_version_is_409_with_current_state(world):
    conv = make_conversation(world["inbox"])
    api = world["api"]
    version = api.get(f"/api/v1/conversations/{conv.id}").get_json()["version"]
    ok = api.send("POST", f"/api/v1/conversations/{conv.id}/priority", {"priority": 3, "version": version})
    assert ok.status_code == 200 and ok.get_json()["priority"] == 3
    stale = api.send("POST", f"/api/v1/conversations/{conv.id}/status", {"status": "resolved", "version": version})
    assert stale.status_code == 409
    body = stale.get_json()
    assert body["error"] == "stale_version"
    assert body["conversation"]["priority"] == 3 and body["conversation"]["version"] == version + 1
    resolved = api.send("POST", f"/api/v1/conversations/{conv.id}/status",
                        {"status": "resolved", "version": version + 1})
    assert resolved.status_code == 200 and resolved.get_json()["status"] == "resolved"


def test_resolved_while_typing_refuses_reply_then_reopen_and_send(world):
    """A colleague resolves while I type: my send is refused (409), "Reopen and send" works."""
    conv = make_conversation(world["inbox"])
    from messenger.services import conversations as conv_service

    conv_service.change_status(world["colleague"], conv.id, "resolved")
    api = world["api"]
    cid = str(uuid.uuid4())
    refused = api.send("POST", f"/api/v1/conversations/{conv.id}/messages", {"content": "hi", "client_id": cid})
    assert refused.status_code == 409
    assert refused.get_json()["error"] == "conversation_resolved"
    assert refused.get_json()["conversation"]["status"] == "resolved"
    sent = api.send("POST", f"/api/v1/conversations/{conv.id}/messages",
                    {"content": "hi", "client_id": cid, "reopen": True})
    assert sent.status_code == 201 and sent.get_json()["conversation"]["status"] == "open"


def test_reply_to_a_conversation_a_colleague_just_took_is_allowed(world):
    conv = make_conversation(world["inbox"])
    conv.assignee_id = world["colleague"].id
    db.session.commit()
    resp = world["api"].send("POST", f"/api/v1/conversations/{conv.id}/messages",
                             {"content": "I can help too", "client_id": str(uuid.uuid4())})
    assert resp.status_code == 201
    assert resp.get_json()["conversation"]["assignee_id"] == world["colleague"].id


def test_labels_read_and_snooze(world):
    conv = make_conversation(world["inbox"])
    label = Label(name=f"bug-{uuid.uuid4().hex[:6]}")
    db.session.add(label)
    db.session.commit()
    api = world["api"]
    resp = api.send("PUT", f"/api/v1/conversations/{conv.id}/labels", {"labels": [label.id]})
    assert resp.status_code == 200 and resp.get_json()["labels"] == [label.id]
    assert api.send("PUT", f"/api/v1/conversations/{conv.id}/labels", {"labels": [999999]}).status_code == 422
    assert api.send("PUT", f"/api/v1/conversations/{conv.id}/labels", {"labels": "1"}).status_code == 422
    visitor_msg_conv = conv
    visitor_msg_conv.unread_count = 3
    db.session.commit()
    assert api.send("POST", f"/api/v1/conversations/{conv.id}/read").get_json()["unread_count"] == 0
    later = (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()
    snoozed = api.send("POST", f"/api/v1/conversations/{conv.id}/status", {"status": "snoozed",
                                                                           "snoozed_until": later})
    assert snoozed.status_code == 200 and snoozed.get_json()["snoozed_until"]
    bad = api.send("POST", f"/api/v1/conversations/{conv.id}/status", {"status": "snoozed",
                                                                       "snoozed_until": "tomorrow"})
    assert bad.status_code == 422


def test_snooze_activity_names_the_time_in_utc_whatever_offset_the_client_sent(world):
    conv = make_conversation(world["inbox"])
    until = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=1)
    moscow = until.astimezone(timezone(timedelta(hours=3))).isoformat()  # "…T15:00:00+03:00" for 12:00 UTC
    resp = world["api"].send("POST", f"/api/v1/conversations/{conv.id}/status",
                             {"status": "snoozed", "snoozed_until": moscow})
    assert resp.status_code == 200, resp.get_json()
    texts = [m.content for m in db.session.scalars(sa.select(Message).where(
        Message.conversation_id == conv.id, Message.type == "activity"))]
    assert any(f"until {until:%Y-%m-%d %H:%M} UTC" in t for t in texts), texts


def test_contact_detail_and_edit(world):
    conv = make_conversation(world["inbox"])
    api = world["api"]
    detail = api.get(f"/api/v1/contacts/{conv.contact_id}").get_json()
    assert detail["session"]["user_agent"] == "pytest"
    assert [c["id"] for c in detail["conversations"]] == [conv.id]
    resp = api.send("PATCH", f"/api/v1/contacts/{conv.contact_id}",
                    {"name": "Ada  Lovelace", "email": "ADA@Example.com", "phone": "+44 20 7946 0000",
                     "custom_attributes": {"plan": "pro", "seats": 12}})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["name"] == "Ada Lovelace" and resp.get_json()["email"] == "ada@example.com"
    for bad in ({"email": "nope"}, {"phone": "<script>"}, {"name": "x" * 300}, {"identifier": "x"},
                {"custom_attributes": {"Bad Key": 1}}, {"custom_attributes": {"a": {"nested": 1}}}, {"name": 5}):
        assert api.send("PATCH", f"/api/v1/contacts/{conv.contact_id}", bad).status_code == 422, bad
    other = make_conversation(world["inbox"])
    taken = api.send("PATCH", f"/api/v1/contacts/{other.contact_id}", {"email": "ada@example.com"})
    assert taken.status_code == 409 and taken.get_json()["error"] == "email_taken"


def test_search_by_message_words_and_contact_email(world):
    inbox = world["inbox"]
    visitor, _ = make_visitor(inbox)
    msg_service.send_visitor_message(visitor, None, "My invoice <b>number</b> is wrong", str(uuid.uuid4()))
    contact = db.session.get(Contact, visitor.contact_id)
    contact.email = f"grace-{uuid.uuid4().hex[:6]}@example.org"
    db.session.commit()
    hidden, _ = make_visitor(world["other"])
    msg_service.send_visitor_message(hidden, None, "another invoice question", str(uuid.uuid4()))
    api = world["api"]
    found = api.get("/api/v1/search", q="invoice").get_json()
    assert len(found["messages"]) == 1
    hit = found["messages"][0]
    assert ["invoice", True] in hit["snippet"]
    text = "".join(part for part, _ in hit["snippet"])
    assert "invoice" in text and "number" in text and "is wrong" in text
    assert hit["message_id"] and hit["conversation_id"]
    prefix = api.get("/api/v1/search", q="invoice numb").get_json()   # the last word may be unfinished
    assert len(prefix["messages"]) == 1
    by_email = api.get("/api/v1/search", q=contact.email).get_json()
    assert [c["id"] for c in by_email["contacts"]] == [contact.id]
    assert by_email["contacts"][0]["conversation_id"] == hit["conversation_id"]
    assert api.get("/api/v1/search", q="").status_code == 422
    assert api.get("/api/v1/search", q="'&|!:*()").status_code == 422
    assert api.get("/api/v1/search", q="x" * 500).status_code == 422


def test_directory_and_canned_responses(world):
    db.session.add_all([CannedResponse(short_code="hello", content="Hello! How can I help?"),
                        CannedResponse(short_code="refund", content="Refunds take 5 days.")])
    db.session.commit()
    api = world["api"]
    assert [c["short_code"] for c in api.get("/api/v1/canned-responses", prefix="re").get_json()["items"]] == [
        "refund"]
    assert len(api.get("/api/v1/canned-responses").get_json()["items"]) == 2
    directory = api.get("/api/v1/directory").get_json()
    assert directory["me"]["id"] == world["me"].id
    assert isinstance(directory["position"], int)
    assert [i["id"] for i in directory["inboxes"]] == [world["inbox"].id]
    assert {o["id"] for o in directory["operators"]} == {world["me"].id, world["colleague"].id}


def test_another_inboxs_ids_are_404_everywhere(world):
    conv = make_conversation(world["other"])
    api = world["api"]
    base = f"/api/v1/conversations/{conv.id}"
    for method, path, body in [
        ("GET", base, None), ("GET", base + "/messages", None),
        ("POST", base + "/messages", {"content": "x", "client_id": str(uuid.uuid4())}),
        ("POST", base + "/status", {"status": "resolved"}), ("POST", base + "/priority", {"priority": 1}),
        ("PUT", base + "/labels", {"labels": []}), ("POST", base + "/read", None),
        ("GET", f"/api/v1/contacts/{conv.contact_id}", None),
        ("PATCH", f"/api/v1/contacts/{conv.contact_id}", {"name": "x"}),
        ("GET", "/api/v1/conversations/99999999999", None),
    ]:
        resp = api.send(method, path, body)
        assert resp.status_code == 404, (method, path)
        assert resp.get_json()["error"] == "not_found"


def test_state_changes_need_csrf_and_login(world, app):
    conv = make_conversation(world["inbox"])
    resp = world["api"].send("POST", f"/api/v1/conversations/{conv.id}/status", {"status": "resolved"}, csrf=False)
    assert resp.status_code == 400 and resp.get_json()["error"] == "csrf_failed"
    anonymous = app.test_client()
    assert anonymous.get("/api/v1/conversations").status_code == 401
    assert world["api"].send("POST", f"/api/v1/conversations/{conv.id}/status", ["x"]).status_code == 422


def test_search_finds_old_rare_words_beyond_the_recent_window(world, monkeypatch):
    """Rare words outside the newest-rows window are found through the GIN index, newest first."""
    from messenger.services import search as search_service

    visitor, _ = make_visitor(world["inbox"])
    msg_service.send_visitor_message(visitor, None, "zebracorn appears early", str(uuid.uuid4()))
    msg_service.send_visitor_message(visitor, None, "zebracorn again", str(uuid.uuid4()))
    for i in range(4):
        msg_service.send_visitor_message(visitor, None, f"filler message {i}", str(uuid.uuid4()))
    monkeypatch.setattr(search_service, "MESSAGE_WINDOW", 2)
    found = world["api"].get("/api/v1/search", q="zebracorn").get_json()["messages"]
    assert [m["snippet"][0][0] for m in found] == ["zebracorn", "zebracorn"]
    assert found[0]["message_id"] > found[1]["message_id"]
    fillers = world["api"].get("/api/v1/search", q="filler").get_json()["messages"]
    assert len(fillers) == 4


def test_seed_bench_command_bulk_loads_without_events(app):
    """``flask messenger seed-bench``: conversations, messages, display ids, labels; no event flood."""
    import sqlalchemy as sa

    from messenger.models import Conversation
    from messenger.models import Event
    from messenger.models import Inbox
    from messenger.models import Message

    events_before = db.session.scalar(sa.select(sa.func.count()).select_from(Event))
    result = app.test_cli_runner().invoke(args=["messenger", "seed-bench", "--conversations", "200", "--messages",
                                                "1000", "--inboxes", "2", "--operators", "3"])
    assert result.exit_code == 0, result.output
    assert "seeded 200 conversations and 1000 messages" in result.output
    inbox_ids = list(db.session.scalars(sa.select(Inbox.id).where(Inbox.name.like("Bench inbox %"))))
    assert len(inbox_ids) == 2
    convs = db.session.execute(sa.select(Conversation.inbox_id, Conversation.display_id)
                               .where(Conversation.inbox_id.in_(inbox_ids))).all()
    assert len(convs) == 200 and len(set(convs)) == 200
    for inbox_id in inbox_ids:
        top = max(d for i, d in convs if i == inbox_id)
        assert db.session.get(Inbox, inbox_id).next_display_id == top + 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message).join(Conversation).where(
        Conversation.inbox_id.in_(inbox_ids))) == 1000
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ConversationLabel)) > 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == events_before
    from messenger.services import reports
    assert reports.report_count_drift() == 0  # the seed recounts the reports' hourly counts it bypassed
    admin = make_user(role="admin")
    from messenger.services import search as search_service

    assert search_service.search(admin, "refund")["messages"]


def test_language_and_last_availability_are_saved_for_the_operator(world):
    api, me = world["api"], world["me"]
    resp = api.send("PUT", "/api/v1/me/preferences", {"locale": "ru"})
    assert resp.status_code == 200 and resp.get_json() == {"locale": "ru"}
    assert "lang=ru" in resp.headers["Set-Cookie"]  # the admin pages follow the same choice
    assert api.get("/api/v1/directory").get_json()["me"]["locale"] == "ru"
    for body, field in (({"locale": "de"}, "locale"), ({"locale": 5}, "locale"), ({"theme": "dark"}, "theme")):
        bad = api.send("PUT", "/api/v1/me/preferences", body)
        assert bad.status_code == 422 and bad.get_json()["field"] == field
    assert api.send("PUT", "/api/v1/me/preferences", {"locale": None}, csrf=False).status_code in (400, 403)
    assert api.send("PUT", "/api/v1/me/preferences", {"locale": None}).get_json() == {"locale": None}
    # The availability chosen by hand is remembered; the directory tells the panel.
    assert api.get("/api/v1/directory").get_json()["me"]["availability_choice"] is None
    answer = api.send("POST", "/api/v1/me/availability", {"availability": "busy"}).get_json()
    assert answer["availability_choice"] == "busy"
    db.session.expire_all()
    assert db.session.get(type(me), me.id).availability_choice == "busy"
