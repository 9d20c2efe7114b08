"""Ephemeral floods (issue 14 item 5, docs/security.md case 31): typing and presence are
rate-limited per visitor and per operator, and typing state flips are coalesced so a
flood of on/off reaches operators as a trickle, last state included."""
from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from flask import g

from tests.factories import PASSWORD
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user
from tests.factories import make_visitor
from tests.helpers import LiveServer
from tests.helpers import csrf_token_from
from tests.helpers import login
from tests.realtime.conftest import World
from tests.realtime.conftest import ready_operator_stream
from tests.realtime.conftest import world  # noqa: F401  (fixture)
from tests.realtime.helpers import Http


@pytest.fixture(scope="module")
def unlimited_server(app, env_for_servers: dict[str, str]) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """A live server without the typing rate limit, to see the coalescing on its own."""
    server = LiveServer(dict(env_for_servers, TYPING_RATE_LIMIT="100000 per minute",
                             WIDGET_RATE_LIMIT="100000 per minute", WIDGET_IP_RATE_LIMIT="100000 per minute"))
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.committing
def test_alternating_typing_reaches_operators_coalesced_with_the_last_state(unlimited_server,
                                                                           world: World) -> None:  # noqa: F811
    _, agent = ready_operator_stream(unlimited_server, world.agent)
    visitor = Http(unlimited_server.url)
    headers = {"X-Visitor-Token": world.visitor_token}
    path = f"/widget/api/v1/conversations/{world.conversation.id}/typing"
    try:
        started = time.monotonic()
        flips = 200
        for i in range(flips):
            status, _ = visitor.request("POST", path, {"on": i % 2 == 0}, headers=headers)
            assert status == 200
        elapsed = time.monotonic() - started
        time.sleep(1.6)  # one coalescing window plus delivery
        seen = [e.data["on"] for e in agent.named("typing")]
        # At most a leading and a trailing publish per 1 s window, never one per flip.
        assert 2 <= len(seen) <= 2 * (elapsed + 1) + 2 and len(seen) < flips / 4, (len(seen), elapsed)
        assert seen[0] is True and seen[-1] is False  # the last word (off) still arrives
    finally:
        agent.close()


def test_visitor_typing_is_rate_limited_per_visitor(app, client) -> None:
    app.config["TYPING_RATE_LIMIT"] = "5 per minute"
    try:
        inbox = make_inbox()
        visitor, token = make_visitor(inbox)
        conv = make_conversation(inbox, visitor)
        other, other_token = make_visitor(inbox)
        other_conv = make_conversation(inbox, other)
        path = "/widget/api/v1/conversations/{}/typing"
        codes = [client.post(path.format(conv.id), json={"on": i % 2 == 0},
                             headers={"X-Visitor-Token": token}).status_code for i in range(7)]
        assert codes == [200] * 5 + [429, 429]
        limited = client.post(path.format(conv.id), json={"on": True}, headers={"X-Visitor-Token": token})
        assert limited.get_json()["error"] == "rate_limited" and "Retry-After" in limited.headers
        # Another visitor (same IP) is not affected.
        assert client.post(path.format(other_conv.id), json={"on": True},
                           headers={"X-Visitor-Token": other_token}).status_code == 200
    finally:
        app.config["TYPING_RATE_LIMIT"] = "60 per minute"


def test_operator_typing_and_availability_are_rate_limited_per_operator(app, client) -> None:
    app.config.update(TYPING_RATE_LIMIT="5 per minute", PRESENCE_RATE_LIMIT="4 per minute")
    try:
        inbox = make_inbox()
        user = make_user(inboxes=[inbox])
        conv = make_conversation(inbox)
        login(client, user.email, PASSWORD)
        g.pop("csrf_token", None)  # the suite's app context spans the test: use this client's own token
        headers = {"X-CSRFToken": csrf_token_from(client.get("/app").get_data(as_text=True))}
        typing = [client.post(f"/api/v1/conversations/{conv.id}/typing", json={"on": i % 2 == 0},
                              headers=headers).status_code for i in range(6)]
        assert typing == [200] * 5 + [429]
        states = ["online", "busy", "offline", "online", "busy"]
        presence = [client.post("/api/v1/me/availability", json={"availability": s}, headers=headers).status_code
                    for s in states]
        assert presence == [200] * 4 + [429]
    finally:
        app.config.update(TYPING_RATE_LIMIT="60 per minute", PRESENCE_RATE_LIMIT="30 per minute")
