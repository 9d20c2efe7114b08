"""Long-poll answers hand out every event up to the position they return (operator and visitor).

The fast server's queues hold 32 deliveries: one commit that makes more events visible at
once overflows a waiting poll's queue. A client that follows the contract (next poll from
the answer's ``position``, as ``stream.js`` does) must still receive every event.
"""
from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa

from messenger.extensions import db
from tests.realtime.conftest import World
from tests.realtime.conftest import head
from tests.realtime.conftest import operator_http
from tests.realtime.helpers import Http
from tests.realtime.helpers import subscribers
from tests.realtime.helpers import wait_until

pytestmark = pytest.mark.committing

BURST = 80  # > SSE_QUEUE_SIZE (32) of the fast server


def _commit_burst(conversation_id: int, user_id: int, n: int) -> list[int]:
    """``n`` operator messages committed in ONE transaction: their events become visible at once."""
    with db.engine.begin() as conn:
        return [conn.execute(sa.text(
            "INSERT INTO messages (conversation_id, type, sender_user_id, content) "
            "VALUES (:c, 'outgoing', :u, :t) RETURNING id"), {"c": conversation_id, "u": user_id, "t": f"b{i}"}
        ).scalar_one() for i in range(n)]


def _follow(client: Http, path: str, after: int, want: int, headers: dict[str, str] | None = None,
            first: dict[str, Any] | None = None) -> tuple[list[int], int]:
    """Poll like stream.js: deliver events, move to the answer's position; message ids seen, polls made."""
    seen: list[int] = []
    polls = 0
    body = first
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if body is None:
            status, body = client.request("GET", f"{path}?after={after}", headers=headers)
            assert status == 200, body
            polls += 1
        assert "resync" not in body, body
        seen += [e["data"]["id"] for e in body["events"] if e["kind"] == "message.created"]
        assert body["position"] >= after
        after, body = body["position"], None
        if len(seen) >= want:
            break
    return seen, polls


def _parked_poll(client: Http, path: str, after: int, audience: str,
                 headers: dict[str, str] | None = None) -> tuple[threading.Thread, dict[str, Any]]:
    answer: dict[str, Any] = {}
    parked = subscribers(client.base, audience)

    def run() -> None:
        answer["status"], answer["body"] = client.request("GET", f"{path}?after={after}", headers=headers)

    thread = threading.Thread(target=run)
    thread.start()
    assert wait_until(lambda: subscribers(client.base, audience) > parked)  # the poll waits at the head
    return thread, answer


def test_operator_long_poll_at_the_head_gets_every_event_of_a_burst_bigger_than_its_queue(
        fast_server, world: World) -> None:  # type: ignore[no-untyped-def]
    client = operator_http(fast_server, world.agent)
    start = head()
    thread, answer = _parked_poll(client, "/api/v1/events", start, "operator")
    sent = _commit_burst(world.conversation.id, world.agent.id, BURST)
    thread.join(10)
    assert answer["status"] == 200, answer
    seen, _ = _follow(client, "/api/v1/events", start, BURST, first=answer["body"])
    assert seen == sent


def test_visitor_long_poll_at_the_head_gets_every_event_of_a_burst_bigger_than_its_queue(
        fast_server, world: World) -> None:  # type: ignore[no-untyped-def]
    client = Http(fast_server.url)
    headers = {"X-Visitor-Token": world.visitor_token}
    start = head()
    thread, answer = _parked_poll(client, "/widget/api/v1/events", start, "visitor", headers)
    sent = _commit_burst(world.conversation.id, world.agent.id, BURST)
    thread.join(10)
    assert answer["status"] == 200, answer
    seen, _ = _follow(client, "/widget/api/v1/events", start, BURST, headers, first=answer["body"])
    assert seen == sent


def test_visitor_long_poll_during_a_burst_of_separate_commits_gets_them_in_few_answers(
        fast_server, world: World) -> None:  # type: ignore[no-untyped-def]
    """40 replies, one commit each 20 ms apart, while the visitor polls: a few answers, not one request per event."""
    client = Http(fast_server.url)
    headers = {"X-Visitor-Token": world.visitor_token}
    start = head()
    sent: list[int] = []
    conversation_id, agent_id = world.conversation.id, world.agent.id
    engine = db.engine

    def replies() -> None:
        time.sleep(0.5)  # the first poll is parked by now
        for i in range(40):
            with engine.begin() as conn:
                sent.append(conn.execute(sa.text(
                    "INSERT INTO messages (conversation_id, type, sender_user_id, content) "
                    "VALUES (:c, 'outgoing', :u, :t) RETURNING id"), {"c": conversation_id, "u": agent_id,
                                                                      "t": f"burst {i}"}).scalar_one())
            time.sleep(0.02)

    writer = threading.Thread(target=replies)
    writer.start()
    seen, polls = _follow(client, "/widget/api/v1/events", start, 40, headers)
    writer.join()
    assert seen == sent
    assert polls <= 8, f"{polls} requests for 40 events"


def test_visitor_polling_never_uses_up_the_send_limit(app, env_for_servers, world: World) -> None:  # type: ignore[no-untyped-def]
    from tests.helpers import LiveServer
    from tests.realtime.conftest import FAST_ENV
    from tests.realtime.conftest import new_client_id

    server = LiveServer(dict(env_for_servers, **FAST_ENV, WIDGET_RATE_LIMIT="4 per minute",
                             WIDGET_POLL_RATE_LIMIT="6 per minute"))
    try:
        client = Http(server.url)
        headers = {"X-Visitor-Token": world.visitor_token}
        polls = [client.request("GET", "/widget/api/v1/events", headers=headers)[0] for _ in range(7)]
        assert polls == [200] * 6 + [429]  # polling has its own limit ...
        sends = [client.request("POST", "/widget/api/v1/messages", {
            "conversation_id": world.conversation.id, "content": f"hi {i}", "client_id": new_client_id()},
            headers=headers)[0] for i in range(5)]
        assert sends == [201] * 4 + [429]  # ... and every send of the visitor's budget is still there
    finally:
        server.stop()
