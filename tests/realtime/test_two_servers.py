"""Two web servers over one database: an event written through one reaches streams on the other exactly once.

Each web process holds its own LISTEN connection and replays from the event log, so
nodes behind a plain load balancer need no sticky sessions (docs/scaling.md).
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import LiveServer
from tests.realtime.conftest import World
from tests.realtime.conftest import new_client_id
from tests.realtime.conftest import operator_http
from tests.realtime.conftest import ready_operator_stream
from tests.realtime.conftest import visitor_stream
from tests.realtime.helpers import Http

pytestmark = pytest.mark.committing


@pytest.fixture(scope="module")
def two_servers(app, env_for_servers: dict[str, str]) -> Iterator[tuple[LiveServer, LiveServer]]:  # type: ignore[no-untyped-def]
    """Two gunicorn+gevent servers on different ports, both on the test database."""
    first = LiveServer(env_for_servers)
    try:
        second = LiveServer(env_for_servers)
        try:
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()


def _ids(stream, kind: str) -> list[int]:  # type: ignore[no-untyped-def]
    return [int(e.data["id"]) for e in stream.named(kind)]


def test_a_message_posted_to_one_server_reaches_streams_on_the_other_exactly_once(
        two_servers: tuple[LiveServer, LiveServer], world: World) -> None:
    first, second = two_servers
    _, operator_on_second = ready_operator_stream(second, world.agent)
    visitor_on_second = visitor_stream(second, world.visitor_token)
    visitor_on_second.wait_count("ready", 1)

    sent = []
    for i in range(5):  # the visitor writes through the first server...
        status, body = Http(first.url).request(
            "POST", "/widget/api/v1/messages", {"content": f"from the first server {i}", "client_id": new_client_id(),
                                                "conversation_id": world.conversation.id},
            headers={"X-Visitor-Token": world.visitor_token})
        assert status == 201, body
        sent.append(int(body["message"]["id"]))
    operator = operator_http(first, world.agent)  # ...and an operator answers there too
    status, body = operator.request("POST", f"/api/v1/conversations/{world.conversation.id}/messages",
                                    {"content": "answer from the first server", "client_id": new_client_id()})
    assert status == 201, body
    sent.append(int(body["message"]["id"]))

    operator_on_second.wait_for(lambda s: set(sent) <= set(_ids(s, "message.created")))
    visitor_on_second.wait_for(lambda s: set(sent) <= set(_ids(s, "message.created")))
    for stream in (operator_on_second, visitor_on_second):
        received = [i for i in _ids(stream, "message.created") if i in sent]
        assert sorted(received) == sorted(sent), received  # every one, none twice
    operator_on_second.close()
    visitor_on_second.close()
