"""Reliability cases of docs/security.md that had no test naming them: 1 (retried sends under
concurrency), 5 (Redis restart: chat keeps flowing) and 9 (a stuck listener). Cases 2, 3, 4, 6, 7
are in tests/realtime/test_reliability.py, case 8 in tests/realtime/test_streams.py."""
from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from messenger.config import libpq_url
from messenger.extensions import db
from messenger.models import Message
from tests.helpers import LiveServer
from tests.realtime.conftest import World
from tests.realtime.conftest import fast_server  # noqa: F401  (fixture)
from tests.realtime.conftest import ready_operator_stream
from tests.realtime.conftest import send_replies
from tests.realtime.conftest import world  # noqa: F401  (fixture)
from tests.realtime.helpers import Http
from tests.realtime.helpers import wait_until

pytestmark = pytest.mark.committing


@pytest.fixture(scope="module")
def unlimited_server(app, env_for_servers: dict[str, str]) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """Rate limits off: a thousand retries must reach the send path, not a 429."""
    server = LiveServer(dict(env_for_servers, RATELIMIT_ENABLED="0"))
    try:
        yield server
    finally:
        server.stop()


def test_reliability_case_1_a_thousand_retries_from_sixteen_senders_store_one_message(
        unlimited_server, world: World) -> None:  # noqa: F811
    """Reliability case 1: 1,000 retries of one (conversation, client_id) from 16 concurrent senders → one row,
    every answer carries the same message id, exactly one answer says "created"."""
    client_id = str(uuid.uuid4())
    body = {"content": "Is my order on its way?", "client_id": client_id, "conversation_id": world.conversation.id}
    results: list[tuple[int, int | None, bool | None]] = []
    lock = threading.Lock()

    def sender(n: int) -> None:
        http = Http(unlimited_server.url)
        for _ in range(n):
            status, answer = http.request("POST", "/widget/api/v1/messages", body,
                                          headers={"X-Visitor-Token": world.visitor_token})
            message = answer.get("message", {}) if isinstance(answer, dict) else {}
            with lock:
                results.append((status, message.get("id"), answer.get("created") if isinstance(answer, dict) else None))

    threads = [threading.Thread(target=sender, args=(1000 // 16 + (1 if i < 1000 % 16 else 0),)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert len(results) == 1000
    assert Counter(status for status, _, _ in results) == Counter({200: 999, 201: 1})
    assert len({message_id for _, message_id, _ in results}) == 1
    assert [created for _, _, created in results].count(True) == 1
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)
                             .where(Message.client_id == client_id)) == 1


def test_reliability_case_9_a_stuck_listener_shows_in_healthz_and_the_hub_holds_no_transaction(
        app, fast_server, world: World) -> None:  # noqa: F811
    """Reliability case 9: a session LISTENing inside an open transaction makes the NOTIFY queue grow;
    the hub reports it in /healthz, and the hub's own connection is never idle in a transaction."""
    client, stream = ready_operator_stream(fast_server, world.agent)
    dsn = libpq_url(str(app.config["SQLALCHEMY_DATABASE_URI"]))
    stuck = psycopg.connect(dsn)
    try:
        stuck.execute("LISTEN messenger")
        stuck.commit()
        stuck.execute("SELECT 1")  # a transaction is open now and stays open
        send_replies(world.agent, world.conversation.id, 3)
        db.session.rollback()  # this test's own session must not count as a hung transaction
        with psycopg.connect(dsn, autocommit=True) as noisy:  # fill a few queue pages behind the stuck session
            for i in range(40):
                noisy.execute("SELECT pg_notify('case9_noise', %s)", (f"{i}:" + "x" * 7000,))
        assert wait_until(lambda: client.request("GET", "/healthz")[1]["hub"]["notify_queue_usage"] > 0, 10)
        with psycopg.connect(dsn, autocommit=True) as probe:
            stuck_pid = stuck.info.backend_pid
            hung = probe.execute("SELECT pid, query FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND state LIKE 'idle in transaction%%' AND pid <> %s", (stuck_pid,)).fetchall()
            assert hung == []  # the hub (and everyone else) is not holding one open
    finally:
        stuck.close()
        stream.close()


def test_reliability_case_5_redis_restart_chat_keeps_flowing(app, env_for_servers, tmp_path, world: World) -> None:  # noqa: F811
    """Reliability case 5: with Redis down, visitors still send and operators still receive (limits fail open);
    after Redis is back the limits count again. A Redis of its own, so the suite's stays up."""
    from messenger.devservers import start_redis
    from tests.realtime.conftest import visitor_stream

    redis = start_redis(tmp_path / "redis", persist=False)
    server = LiveServer(dict(env_for_servers, REDIS_URL=redis.url, WIDGET_RATE_LIMIT="1000 per minute"))
    visitor = Http(server.url)
    headers = {"X-Visitor-Token": world.visitor_token}

    def send(text: str) -> int:
        body = {"content": text, "client_id": str(uuid.uuid4()), "conversation_id": world.conversation.id}
        return visitor.request("POST", "/widget/api/v1/messages", body, headers=headers)[0]

    stream = visitor_stream(server, world.visitor_token)
    try:
        stream.wait_count("ready", 1)
        assert send("before") == 201
        redis.stop()
        assert [send(f"during {i}") for i in range(5)] == [201] * 5
        stream.wait_count("message.created", 6)
        redis = start_redis(tmp_path / "redis", persist=False)
        assert send("after") == 201
        stream.wait_count("message.created", 7)
        status, answer = visitor.request("GET", "/healthz")
        assert answer["redis"] == "ok"
    finally:
        stream.close()
        server.stop()
        redis.stop()
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)
                             .where(Message.conversation_id == world.conversation.id,
                                    Message.type == "incoming")) == 7
