"""Open streams are capped per visitor, per operator and per IP (the newest wins, the oldest is
closed "replaced"), and a stream ticket opens one stream only (issue 14 item 6, docs/security.md
case 20), against a real gunicorn + gevent server."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import LiveServer
from tests.realtime.conftest import World
from tests.realtime.conftest import operator_http
from tests.realtime.conftest import visitor_ticket
from tests.realtime.conftest import world  # noqa: F401  (fixture)
from tests.realtime.helpers import SSE
from tests.realtime.helpers import wait_until

pytestmark = pytest.mark.committing


@pytest.fixture(scope="module")
def capped_server(app, env_for_servers: dict[str, str]) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    server = LiveServer(dict(env_for_servers, STREAMS_PER_VISITOR="2", STREAMS_PER_OPERATOR="2", STREAMS_PER_IP="4",
                             WIDGET_RATE_LIMIT="100000 per minute", WIDGET_IP_RATE_LIMIT="100000 per minute"))
    try:
        yield server
    finally:
        server.stop()


def _visitor_stream(server: LiveServer, token: str) -> SSE:
    stream = SSE(server.url, f"/widget/api/v1/stream?ticket={visitor_ticket(server, token)}")
    stream.wait_count("ready", 1)
    return stream


def _open(streams: list[SSE]) -> list[bool]:
    return [not s.ended for s in streams]


def test_a_ticket_opens_one_stream_only(capped_server, world: World) -> None:  # noqa: F811
    ticket = visitor_ticket(capped_server, world.visitor_token)
    first = SSE(capped_server.url, f"/widget/api/v1/stream?ticket={ticket}")
    try:
        first.wait_count("ready", 1)
        # Streams carry the security headers like every other response.
        assert first.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in first.headers["Content-Security-Policy"]
        assert first.headers["Referrer-Policy"] and first.headers["Cross-Origin-Resource-Policy"] == "same-origin"
        replayed = SSE(capped_server.url, f"/widget/api/v1/stream?ticket={ticket}")
        assert replayed.status == 401 and replayed.body["error"] == "invalid_ticket"
        assert not first.ended
    finally:
        first.close()


def test_a_visitors_new_stream_closes_its_oldest_over_the_cap(capped_server, world: World) -> None:  # noqa: F811
    streams = [_visitor_stream(capped_server, world.visitor_token) for _ in range(3)]
    try:
        assert streams[0].wait_for(lambda s: s.ended, 5)
        assert streams[0].named("closed")[-1].data == {"reason": "replaced"}
        assert _open(streams) == [False, True, True]
        # Another visitor is not affected by this one's streams.
        other = _visitor_stream(capped_server, world.other_token)
        assert not other.ended and _open(streams) == [False, True, True]
        other.close()
    finally:
        for stream in streams:
            stream.close()


def test_an_operators_streams_are_capped_too(capped_server, world: World) -> None:  # noqa: F811
    client = operator_http(capped_server, world.agent)
    streams = []
    try:
        for _ in range(3):
            stream = SSE(capped_server.url, "/api/v1/stream", {"Cookie": client.cookie_header()})
            stream.wait_count("ready", 1)
            streams.append(stream)
        assert streams[0].wait_for(lambda s: s.ended, 5)
        assert streams[0].named("closed")[-1].data == {"reason": "replaced"}
        assert _open(streams) == [False, True, True]
    finally:
        for stream in streams:
            stream.close()


def test_one_address_never_holds_more_than_its_share_of_connections(capped_server, world: World) -> None:  # noqa: F811
    """Twenty streams from one IP (two visitors, ten each): only the newest four stay open."""
    streams = []
    try:
        for i in range(20):
            streams.append(_visitor_stream(capped_server, world.visitor_token if i % 2 else world.other_token))
        assert wait_until(lambda: sum(_open(streams)) == 4, 5)
        assert _open(streams)[-4:] == [True] * 4
        assert all(s.named("closed")[-1].data == {"reason": "replaced"} for s in streams[:-4])
        status, health = operator_http(capped_server, world.agent).request("GET", "/healthz")
        assert health["hub"]["subscribers"]["visitor"] == 4
    finally:
        for stream in streams:
            stream.close()
