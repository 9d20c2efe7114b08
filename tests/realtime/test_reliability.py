"""Reliability cases 2, 3, 4 (at test scale), 6, 7 and case 21 of docs/security.md.

Against gunicorn+gevent and real PostgreSQL.
"""
from __future__ import annotations

import socket
import threading
import time
import urllib.parse
from typing import Any

import pytest
import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import User
from messenger.realtime.log import prune_events
from messenger.services import messages as msg_service
from messenger.services import users as user_service
from tests.realtime.conftest import World
from tests.realtime.conftest import head
from tests.realtime.conftest import new_client_id
from tests.realtime.conftest import operator_http
from tests.realtime.conftest import operator_stream
from tests.realtime.conftest import ready_operator_stream
from tests.realtime.conftest import send_replies
from tests.realtime.conftest import visitor_stream
from tests.realtime.helpers import SSE
from tests.realtime.helpers import subscribers
from tests.realtime.helpers import wait_until

pytestmark = pytest.mark.committing


def _message_ids(stream: SSE) -> list[int]:
    return [e.data["id"] for e in stream.messages()]


def _reopen_if_ended(stream: SSE, reopen: Any) -> SSE:
    """A stream that ended (server restarted it) is reopened from its last id, like a browser would."""
    if not stream.ended:
        return stream
    last = max((e.id for e in stream.events if e.id is not None), default=None)
    fresh = reopen(last)
    fresh.events[:0] = stream.events
    return fresh


def test_postgres_restart_while_streams_are_open_loses_nothing(live_server, servers, world: World) -> None:  # type: ignore[no-untyped-def]
    """Reliability case 4 at test scale (1,000 streams: bench/fanout.py --restart-db-at): nothing lost."""
    agent = operator_stream(live_server, world.agent)
    mine = visitor_stream(live_server, world.visitor_token)
    try:
        agent.wait_count("ready", 1)
        mine.wait_count("ready", 1)
        before = send_replies(world.agent, world.conversation.id, 3)
        agent.wait_count("message.created", 3)
        agent_id, conversation_id = world.agent.id, world.conversation.id
        db.session.remove()  # give our connection back; pool_pre_ping replaces it after the restart
        servers["postgres"].pg_ctl("restart", "-m", "fast")
        user = db.session.get(User, agent_id)
        after = send_replies(user, conversation_id, 20)
        client = operator_http(live_server, user)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(agent.messages()) < 23:
            agent = _reopen_if_ended(agent, lambda last: operator_stream(live_server, user, last_event_id=last,
                                                                           client=client))
            agent.wait_for(lambda s: len(s.messages()) >= 23 or s.ended, 1)
        assert _message_ids(agent) == before + after
        mine.wait_for(lambda s: len(s.messages()) >= 23 or s.ended, 15)
        if mine.ended:
            mine = visitor_stream(live_server, world.visitor_token,
                                  after=max(e.id for e in mine.events if e.id is not None))
            mine.wait_count("message.created", 20)
            assert _message_ids(mine)[-20:] == after
        else:
            assert _message_ids(mine) == before + after
        status, health = client.request("GET", "/healthz")
        assert health["hub"]["state"] == "listening"
    finally:
        agent.close()
        mine.close()


def test_hub_connection_killed_mid_burst_no_gap_no_duplicate(app, live_server, world: World) -> None:  # type: ignore[no-untyped-def]
    """Reliability case 3: pg_terminate_backend on the hub's LISTEN connection while 150 messages are committed."""
    stream = operator_stream(live_server, world.agent)
    sent: list[int] = []
    agent_id, conversation_id = world.agent.id, world.conversation.id

    def burst() -> None:
        with app.app_context():
            user = db.session.get(User, agent_id)
            for i in range(150):
                sent.append(msg_service.send_operator_message(user, conversation_id, f"burst {i}",
                                                              new_client_id()).message.id)

    try:
        stream.wait_count("ready", 1)
        writer = threading.Thread(target=burst)
        writer.start()
        killed = 0
        while writer.is_alive():
            time.sleep(0.15)
            with db.engine.begin() as conn:
                killed += conn.execute(sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = 'messenger-hub'")).scalar_one()
        writer.join()
        assert killed >= 2
        stream.wait_count("message.created", 150, timeout=30)
        assert _message_ids(stream) == sent
        ids = [e.id for e in stream.events if e.id is not None and e.event != "ready"]
        assert ids == sorted(set(ids))
    finally:
        stream.close()


def test_two_writers_commit_out_of_order_every_stream_gets_both_in_position_order(
        live_server, world: World) -> None:  # type: ignore[no-untyped-def]
    """Reliability case 2: T1 inserts first but commits last (held open with pg_sleep)."""
    stream = operator_stream(live_server, world.agent)
    start = head()
    first_id: list[int] = []
    engine, values = db.engine, {"c": world.conversation.id, "u": world.agent.id}
    inserted = threading.Event()

    def slow_writer() -> None:
        with engine.begin() as conn:
            first_id.append(conn.execute(sa.text(
                "INSERT INTO messages (conversation_id, type, sender_user_id, content) "
                "VALUES (:c, 'outgoing', :u, 'slow') RETURNING id"), values).scalar_one())
            inserted.set()
            conn.execute(sa.text("SELECT pg_sleep(1.0)"))

    try:
        stream.wait_count("ready", 1)
        writer = threading.Thread(target=slow_writer)
        writer.start()
        assert inserted.wait(10)  # T1 inserted first
        # Another conversation: the slow insert's key-share lock on its conversation would serialise us.
        fast = msg_service.send_operator_message(world.agent, world.other_conversation.id, "fast",
                                                 new_client_id()).message
        writer.join()
        got = stream.wait_count("message.created", 2)
        assert [e.data["id"] for e in got] == [fast.id, first_id[0]]  # commit order, not insert order
        assert got[0].id < got[1].id
        replay = operator_stream(live_server, world.agent, after=start)
        try:
            assert [e.data["id"] for e in replay.wait_count("message.created", 2)] == [fast.id, first_id[0]]
        finally:
            replay.close()
    finally:
        stream.close()


def test_old_position_replays_fully_and_a_pruned_gap_answers_resync(fast_server, world: World) -> None:  # type: ignore[no-untyped-def]
    """Reliability case 6: an old Last-Event-ID gets the full replay from the log, or event: resync when pruned."""
    client = operator_http(fast_server, world.agent)
    start = head()
    sent = send_replies(world.agent, world.conversation.id, 30)  # 60 events, the ring holds 16
    old = operator_stream(fast_server, world.agent, last_event_id=start, client=client)
    try:
        assert [e.data["id"] for e in old.wait_count("message.created", 30)] == sent
        assert old.named("resync") == []
    finally:
        old.close()
    assert prune_events(keep_hours=0) > 0
    pruned = operator_stream(fast_server, world.agent, last_event_id=start, client=client)
    try:
        resync = pruned.wait_count("resync", 1)[0]
        pruned.wait_count("ready", 1)
        assert resync.data["position"] == resync.id >= head() - 1
        assert pruned.events[0].event == "resync" and pruned.events[1].event == "ready"
        assert pruned.messages() == []
        fresh = send_replies(world.agent, world.conversation.id, 1)
        assert [e.data["id"] for e in pruned.wait_count("message.created", 1)] == fresh
    finally:
        pruned.close()
    status, body = client.request("GET", f"/api/v1/events?after={start}")
    assert status == 200 and body["resync"] is True and body["position"] >= resync.data["position"]


def test_a_slow_consumer_is_dropped_alone_and_replays(fast_server, world: World) -> None:  # type: ignore[no-untyped-def]
    """Reliability case 7: a client that stops reading overflows its bounded queue (32) and only its stream ends."""
    client = operator_http(fast_server, world.agent)
    normal = operator_stream(fast_server, world.agent, client=client)
    normal.wait_count("ready", 1)
    assert wait_until(lambda: subscribers(fast_server.url) == 1)  # earlier tests' streams are gone
    parsed = urllib.parse.urlsplit(fast_server.url)
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect((parsed.hostname, parsed.port))
    slow.sendall(f"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nCookie: {client.cookie_header()}\r\n\r\n".encode())
    try:
        assert wait_until(lambda: subscribers(fast_server.url) == 2)  # the slow client's stream is live too
        body = "x" * 9000
        sent = [msg_service.send_operator_message(world.agent, world.conversation.id, f"{i} {body}",
                                                  new_client_id()).message.id for i in range(500)]
        assert [e.data["id"] for e in normal.wait_count("message.created", 500, timeout=60)] == sent
        # Now read what the slow client was sent: a prefix, then "closed: overflow", then the end.
        slow.settimeout(20)
        chunks = []
        while True:
            data = slow.recv(1 << 20)
            if not data:
                break
            chunks.append(data)
            if b"event: closed" in b"".join(chunks[-2:]):
                break
        text = b"".join(chunks).decode("utf-8", "replace")
        assert 'event: closed\ndata: {"reason":"overflow"}' in text
        assert 0 < text.count("event: message.created") < 500
        assert not normal.ended
    finally:
        slow.close()
        normal.close()


def test_password_change_closes_open_operator_streams_within_a_heartbeat(fast_server, world: World) -> None:  # type: ignore[no-untyped-def]
    """Case 21: the session is revoked, so the open stream closes (heartbeat 1 s here) and stays closed."""
    client, stream = ready_operator_stream(fast_server, world.agent)
    _, deactivated = ready_operator_stream(fast_server, world.admin)
    try:
        user_service.set_password(None, world.agent.id, "another long password")
        changed_at = time.monotonic()
        assert stream.wait_for(lambda s: s.ended, 5)
        assert time.monotonic() - changed_at < 3
        assert stream.named("closed")[-1].data == {"reason": "revoked"}
        again = SSE(fast_server.url, "/api/v1/stream", {"Cookie": client.cookie_header()})
        assert again.status == 401
        user_service.deactivate_user(None, world.admin.id)
        assert deactivated.wait_for(lambda s: s.ended, 3)
        assert deactivated.named("closed")[-1].data == {"reason": "revoked"}
    finally:
        stream.close()
        deactivated.close()


def test_hub_reports_state_position_and_lag_in_healthz(live_server, world: World) -> None:  # type: ignore[no-untyped-def]
    client, stream = ready_operator_stream(live_server, world.agent)
    try:
        assert wait_until(lambda: client.request("GET", "/healthz")[1]["hub"]["position"] >= head())
        status, health = client.request("GET", "/healthz")
        assert status == 200
        hub = health["hub"]
        assert hub["state"] == "listening" and hub["subscribers"]["operator"] >= 1
        assert hub["lag_s"] is not None and hub["lag_s"] < 10
        assert 0 <= hub["notify_queue_usage"] < 0.5
    finally:
        stream.close()
