"""Operators edit and delete their own replies and notes within 15 minutes (issue: panel edit/delete).

Server rules in ``services/message_edits.py``; the API adds CSRF and JSON errors. The
visitor side is checked through the widget API and the event log rows the streams read.
"""
from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from messenger.errors import Conflict
from messenger.extensions import db
from messenger.models import AuditLog
from messenger.models import Conversation
from messenger.models import Event
from messenger.models import Message
from messenger.models import User
from messenger.services import message_edits
from messenger.services import messages as msg_service
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user
from tests.factories import make_visitor
from tests.helpers import Api


@pytest.fixture
def chat(client):  # type: ignore[no-untyped-def]
    inbox, other_inbox = make_inbox(), make_inbox()
    me = make_user(name="Anna", inboxes=[inbox])
    colleague = make_user(name="Ben", inboxes=[inbox])
    visitor, token = make_visitor(inbox)
    conv = make_conversation(inbox, visitor)
    incoming = msg_service.send_visitor_message(visitor, conv.id, "Where is my order?", str(uuid.uuid4())).message
    reply = msg_service.send_operator_message(me, conv.id, "It ships tomorow", str(uuid.uuid4())).message
    note = msg_service.send_operator_message(me, conv.id, "Check the warehouse", str(uuid.uuid4()),
                                             private=True).message
    return {"inbox": inbox, "other": other_inbox, "me": me, "colleague": colleague, "conv": conv, "token": token,
            "incoming": incoming, "reply": reply, "note": note, "api": Api(client, me), "client": client}


def _url(chat, message_id: int, conversation_id: int | None = None) -> str:  # type: ignore[no-untyped-def]
    return f"/api/v1/conversations/{conversation_id or chat['conv'].id}/messages/{message_id}"


def _visitor_messages(chat) -> dict[int, dict]:  # type: ignore[no-untyped-def,type-arg]
    resp = chat["client"].get(f"/widget/api/v1/conversations/{chat['conv'].id}/messages",
                              headers={"X-Visitor-Token": chat["token"], "Origin": "http://127.0.0.1"})
    assert resp.status_code == 200, resp.get_json()
    return {m["id"]: m for m in resp.get_json()["messages"]}


def test_edit_own_reply_reaches_the_visitor_with_the_new_text(chat):
    api, reply = chat["api"], chat["reply"]
    resp = api.send("PATCH", _url(chat, reply.id), {"content": "It ships tomorrow", "version": 0})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()["message"]
    assert body["content"] == "It ships tomorrow" and body["edited_at"] and body["content_attributes"]["edits"] == 1
    seen = _visitor_messages(chat)[reply.id]
    assert seen["content"] == "It ships tomorrow" and seen["edited_at"] is not None
    # The list card follows (it was the latest reply) and the old text is kept in the audit log only.
    assert db.session.get(Conversation, chat["conv"].id).last_message_preview == "It ships tomorrow"
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "message.edited"))
    assert entry.data["previous"] == "It ships tomorow" and entry.actor_user_id == chat["me"].id


def test_delete_own_reply_shows_message_deleted_to_everyone(chat):
    api, reply = chat["api"], chat["reply"]
    resp = api.send("DELETE", _url(chat, reply.id))
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["message"]["deleted"] is True and resp.get_json()["message"]["content"] == ""
    seen = _visitor_messages(chat)[reply.id]
    assert seen["deleted"] is True and seen["content"] == ""
    assert db.session.get(Conversation, chat["conv"].id).last_message_preview == "Message deleted"
    # Deleted stays deleted: a second delete or an edit is refused, nothing changes.
    again = api.send("PATCH", _url(chat, reply.id), {"content": "back again"})
    assert again.status_code == 409 and again.get_json()["error"] == "message_deleted"
    db.session.expire_all()
    assert db.session.get(Message, reply.id).content == "It ships tomorow"  # kept for the record, never shown


def test_notes_can_be_edited_and_never_reach_the_visitor(chat):
    api, note = chat["api"], chat["note"]
    resp = api.send("PATCH", _url(chat, note.id), {"content": "Check warehouse B"})
    assert resp.status_code == 200
    assert note.id not in _visitor_messages(chat)
    db.session.expire_all()
    assert db.session.get(Message, note.id).content == "Check warehouse B"
    assert api.send("DELETE", _url(chat, note.id), {"version": 1}).status_code == 200


def test_only_my_own_replies_and_notes_within_fifteen_minutes(chat):
    api = chat["api"]
    colleague_reply = msg_service.send_operator_message(chat["colleague"], chat["conv"].id, "Ben here",
                                                        str(uuid.uuid4())).message
    for msg in (colleague_reply, chat["incoming"]):
        for method, body in (("PATCH", {"content": "hijacked"}), ("DELETE", None)):
            resp = api.send(method, _url(chat, msg.id), body)
            assert resp.status_code == 403 and resp.get_json()["error"] == "not_author", (method, msg.type)
    activity = db.session.scalar(sa.select(Message).where(Message.type == "activity"))
    if activity is not None:
        assert api.send("DELETE", _url(chat, activity.id)).status_code == 403
    # Another inbox's conversation, or a message id of another conversation: 404.
    other_conv = make_conversation(chat["other"])
    assert api.send("PATCH", _url(chat, chat["reply"].id, other_conv.id), {"content": "x"}).status_code == 404
    second = make_conversation(chat["inbox"])
    assert api.send("PATCH", _url(chat, chat["reply"].id, second.id), {"content": "x"}).status_code == 404
    assert api.send("PATCH", _url(chat, 999_999_999), {"content": "x"}).status_code == 404
    # Past the window: refused with the window in the answer.
    db.session.execute(sa.update(Message).where(Message.id == chat["reply"].id)
                       .values(created_at=sa.func.now() - timedelta(minutes=16)))
    db.session.commit()
    resp = api.send("PATCH", _url(chat, chat["reply"].id), {"content": "late fix"})
    assert resp.status_code == 409 and resp.get_json()["error"] == "edit_window_closed"
    assert resp.get_json()["window_s"] == 900
    assert api.send("DELETE", _url(chat, chat["reply"].id)).status_code == 409
    db.session.expire_all()
    assert db.session.get(Message, chat["reply"].id).content == "It ships tomorow"
    assert colleague_reply.content == "Ben here"


def test_bad_input_csrf_and_stale_versions_are_clear_4xx(chat):
    api, reply = chat["api"], chat["reply"]
    assert api.send("PATCH", _url(chat, reply.id), {"content": "no token"}, csrf=False).status_code in (400, 403)
    for body, field in (({"content": ""}, "content"), ({"content": 5}, "content"),
                        ({"content": "x" * 10_001}, "content"), ({"content": "ok", "version": "1"}, "version"),
                        ([], "body")):
        resp = api.send("PATCH", _url(chat, reply.id), body)
        assert resp.status_code == 422 and resp.get_json()["field"] == field, (body, resp.get_json())
    assert api.send("DELETE", _url(chat, reply.id), {"version": -1}).get_json()["field"] == "version"
    assert api.send("PATCH", _url(chat, reply.id), {"content": "v1", "version": 0}).status_code == 200
    stale = api.send("PATCH", _url(chat, reply.id), {"content": "v2 from an old tab", "version": 0})
    assert stale.status_code == 409 and stale.get_json()["error"] == "stale_version"
    assert stale.get_json()["current"]["content"] == "v1"  # the current state, to show
    assert api.send("DELETE", _url(chat, reply.id), {"version": 0}).status_code == 409
    db.session.expire_all()
    assert db.session.get(Message, reply.id).content == "v1" and db.session.get(Message, reply.id).deleted_at is None


@pytest.mark.committing
def test_edit_and_delete_events_respect_the_audience(app):
    inbox = make_inbox()
    me = make_user(inboxes=[inbox])
    visitor, _ = make_visitor(inbox)
    conv = make_conversation(inbox, visitor)
    reply = msg_service.send_operator_message(me, conv.id, "Hello", str(uuid.uuid4())).message
    note = msg_service.send_operator_message(me, conv.id, "internal", str(uuid.uuid4()), private=True).message
    start = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(Event.id), 0)))
    message_edits.edit_message(me, conv.id, reply.id, "Hello there")
    message_edits.delete_message(me, conv.id, note.id)
    rows = db.session.scalars(sa.select(Event).where(Event.id > start, Event.kind == "message.updated")
                              .order_by(Event.id)).all()
    assert [(r.payload["id"], r.private) for r in rows] == [(reply.id, False), (note.id, True)]
    assert rows[0].payload["content"] == "Hello there" and rows[0].payload["edited_at"]
    assert rows[0].payload["content_attributes"]["edits"] == 1
    assert rows[1].payload["deleted"] is True and rows[1].payload["content"] == ""


@pytest.mark.committing
def test_an_edit_racing_a_delete_from_two_tabs_has_one_winner(app):
    inbox = make_inbox()
    me = make_user(inboxes=[inbox])
    conv = make_conversation(inbox)
    reply = msg_service.send_operator_message(me, conv.id, "Draft answer", str(uuid.uuid4())).message
    user_id, conv_id, msg_id = me.id, conv.id, reply.id
    for _ in range(5):
        barrier = threading.Barrier(2)
        outcomes: list[object] = [None, None]

        def run(i: int, barrier: threading.Barrier = barrier, outcomes: list[object] = outcomes) -> None:
            with app.app_context():
                try:
                    user = db.session.get(User, user_id)
                    barrier.wait(10)
                    if i == 0:
                        outcomes[i] = message_edits.edit_message(user, conv_id, msg_id, f"Edited {uuid.uuid4()}",
                                                                 expected_version=0).id
                    else:
                        outcomes[i] = message_edits.delete_message(user, conv_id, msg_id, expected_version=0).id
                except Conflict as exc:
                    outcomes[i] = exc.code
                finally:
                    db.session.remove()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        wins = [o for o in outcomes if o == msg_id]
        assert len(wins) == 1, outcomes
        assert set(outcomes) - {msg_id} <= {"stale_version", "message_deleted"}, outcomes
        db.session.expire_all()
        stored = db.session.get(Message, msg_id)
        assert (stored.deleted_at is not None) == (outcomes[1] == msg_id)
        # Reset for the next round.
        stored.deleted_at, stored.deleted_by_id, stored.content_attributes = None, None, {}
        stored.content = "Draft answer"
        db.session.commit()


def test_a_deleted_reply_takes_its_files_with_it_for_the_visitor(chat, app, tmp_path, monkeypatch):
    from messenger.models import Attachment
    from messenger.services import attachments as attachment_service
    from tests.test_attachments import PDF
    from tests.test_attachments import _Source

    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path / "uploads"))
    key = attachment_service.upload_by_operator(chat["me"], chat["conv"].id, _Source("offer.pdf", PDF)).key
    attachment_service.scan_attachment(db.session.scalar(sa.select(Attachment.id).where(Attachment.key == key)))
    sent = msg_service.send_operator_message(chat["me"], chat["conv"].id, "Our offer", str(uuid.uuid4()),
                                             attachment_keys=[key]).message
    download = f"/widget/api/v1/attachments/{key}"
    headers = {"X-Visitor-Token": chat["token"], "Origin": "http://127.0.0.1"}
    assert chat["client"].get(download, headers=headers).status_code == 200
    assert _visitor_messages(chat)[sent.id]["attachments"][0]["id"] == key
    assert chat["api"].send("DELETE", _url(chat, sent.id), {"version": 0}).status_code == 200
    assert _visitor_messages(chat)[sent.id]["attachments"] == []
    assert chat["client"].get(download, headers=headers).status_code == 404
    page = chat["api"].get(f"/api/v1/conversations/{chat['conv'].id}/messages").get_json()
    assert next(m for m in page["messages"] if m["id"] == sent.id)["attachments"] == []
