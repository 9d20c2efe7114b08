"""Statements per request on the hot write paths (performance budget).

A SQLAlchemy ``before_cursor_execute`` listener counts what each request sends to
PostgreSQL. A visitor's send and an operator's reply write in three statements (lock the
conversation, insert the message, update the conversation); a change that adds a read
to every send fails here before it shows up in ``bench/write_throughput.py``.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from messenger.extensions import db
from tests.factories import make_inbox
from tests.factories import make_user
from tests.helpers import Api

SITE = "http://127.0.0.1"
API = "/widget/api/v1"
CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


@contextmanager
def statements() -> Iterator[list[str]]:
    """Collect the SQL statements sent while the block runs (savepoints of the test harness left out)."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.startswith(CONTROL):
            seen.append(" ".join(statement.split()))

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


def writes(seen: list[str]) -> list[str]:
    """The statements of the send's transaction: the lock, inserts and updates."""
    return [s for s in seen if s.startswith(("INSERT", "UPDATE", "DELETE")) or "FOR UPDATE" in s]


def _send(client, token: str, conversation_id: int | None = None):  # type: ignore[no-untyped-def]
    return client.post(f"{API}/messages", json={"content": "hello", "client_id": str(uuid.uuid4()),
                                                "conversation_id": conversation_id},
                       headers={"X-Visitor-Token": token, "Origin": SITE})


def _visitor_with_conversation(client) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    inbox = make_inbox()
    resp = client.post(f"{API}/session", json={"inbox": inbox.website_token}, headers={"Origin": SITE})
    token = resp.get_json()["token"]
    first = _send(client, token)
    assert first.status_code == 201, first.get_json()
    return token, first.get_json()["conversation"]["id"]


def test_visitor_send_writes_in_three_statements(client) -> None:
    token, conv_id = _visitor_with_conversation(client)
    with statements() as seen:
        resp = _send(client, token, conv_id)
    assert resp.status_code == 201 and resp.get_json()["message"]["content"] == "hello"
    assert resp.get_json()["conversation"]["queue"]["waiting"] is True
    assert len(writes(seen)) == 3, seen
    # + the visitor (session, contact, inbox and the address block list in one read), and the
    # queue figures (wait, online; cached per inbox for QUEUE_CACHE_MS, off in tests).
    assert len(seen) <= 6, seen


def test_visitor_retry_returns_the_stored_message_without_writing(client) -> None:
    token, conv_id = _visitor_with_conversation(client)
    client_id = str(uuid.uuid4())
    body = {"content": "once", "client_id": client_id, "conversation_id": conv_id}
    headers = {"X-Visitor-Token": token, "Origin": SITE}
    first = client.post(f"{API}/messages", json=body, headers=headers)
    with statements() as seen:
        again = client.post(f"{API}/messages", json=body, headers=headers)
    assert again.status_code == 200 and again.get_json()["message"]["id"] == first.get_json()["message"]["id"]
    assert not [s for s in seen if s.startswith(("INSERT", "UPDATE"))], seen


def test_operator_reply_writes_in_three_statements(client) -> None:
    token, conv_id = _visitor_with_conversation(client)
    api = Api(client, make_user(role="admin"))
    with statements() as seen:
        resp = api.send("POST", f"/api/v1/conversations/{conv_id}/messages",
                        {"content": "hi there", "client_id": str(uuid.uuid4())})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["conversation"]["first_reply_at"] is not None
    assert len(writes(seen)) == 3, seen
    assert len(seen) <= 5, seen  # + the operator's session and the answer's conversation


def _visitor_call(client, path: str, token: str, body: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    return client.post(f"{API}{path}", json=body or {}, headers={"X-Visitor-Token": token, "Origin": SITE})


def test_read_receipt_stream_ticket_and_typing_stay_small(client) -> None:
    token, conv_id = _visitor_with_conversation(client)
    with statements() as seen:
        resp = _visitor_call(client, f"/conversations/{conv_id}/read", token)
    assert resp.status_code == 200 and resp.get_json()["visitor_unread_count"] == 0
    assert len(seen) <= 4, "\n".join(s[:120] for s in seen)  # visitor with address blocks; lock, unread count, ticks
    with statements() as seen:
        resp = _visitor_call(client, "/stream-ticket", token)
    assert resp.status_code == 200 and resp.get_json()["ticket"]
    assert len(seen) <= 1, seen  # visitor (with inbox, contact and the address block list)
    with statements() as seen:
        resp = _visitor_call(client, f"/conversations/{conv_id}/typing", token, {"on": True})
    assert resp.status_code == 200 and resp.get_json()["sent"] is True
    assert len(seen) <= 4, seen  # visitor with address blocks, the conversation, the NOTIFY, the inbox for CORS


def test_read_receipt_for_another_visitors_conversation_is_404(client) -> None:
    _, foreign = _visitor_with_conversation(client)
    token, _ = _visitor_with_conversation(client)
    resp = _visitor_call(client, f"/conversations/{foreign}/read", token)
    assert resp.status_code == 404
    assert _visitor_call(client, f"/conversations/{2**40}/read", token).status_code == 404
