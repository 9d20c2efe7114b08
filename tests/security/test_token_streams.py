"""A stream opened with an API token ends when the token is revoked or its owner deactivated,
and its reconnect is refused (issue 13; docs/realtime.md, docs/integrations.md "API tokens")."""
from __future__ import annotations

import json
import threading
from typing import Any

import pytest
import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import ApiToken
from messenger.realtime.access import OperatorScope
from messenger.realtime.hub import Hub
from messenger.realtime.streams import StreamSettings
from messenger.realtime.streams import long_poll
from messenger.services import api_tokens
from messenger.services import users as users_service
from tests.helpers import LiveServer
from tests.realtime.conftest import World
from tests.realtime.conftest import fast_server  # noqa: F401  (fixture)
from tests.realtime.conftest import head
from tests.realtime.conftest import ready_operator_stream
from tests.realtime.conftest import send_replies
from tests.realtime.conftest import slow_heartbeat_server  # noqa: F401  (fixture)
from tests.realtime.conftest import world  # noqa: F401  (fixture)
from tests.realtime.helpers import SSE
from tests.realtime.helpers import Http
from tests.realtime.helpers import subscribers
from tests.realtime.helpers import wait_until

pytestmark = pytest.mark.committing

# The slow server's heartbeat (the periodic re-check) is far longer than this: what closes a
# stream within it is the revocation itself.
CLOSES_WITHIN_S = 20


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_stream(server: LiveServer, token: str) -> SSE:
    stream = SSE(server.url, "/api/v1/stream", bearer(token))
    assert stream.status == 200, stream.body
    stream.wait_count("ready", 1)
    return stream


class LongPoll(threading.Thread):
    """One long-poll with a token, waiting in the background."""

    def __init__(self, server: LiveServer, token: str, after: int) -> None:
        super().__init__(daemon=True)
        self.server, self.token, self.after = server, token, after
        self.answer: tuple[int, Any] | None = None
        self.start()

    def run(self) -> None:
        self.answer = Http(self.server.url).request("GET", f"/api/v1/events?after={self.after}",
                                                    headers=bearer(self.token))


def test_revoking_a_token_ends_its_stream_and_long_poll_at_once_and_refuses_the_reconnect(
        slow_heartbeat_server: LiveServer, world: World) -> None:  # noqa: F811
    server = slow_heartbeat_server
    row, token = api_tokens.create_token(world.agent, "CRM sync")
    _, other_token = api_tokens.create_token(world.agent, "Reports")
    stream, other_stream = token_stream(server, token), token_stream(server, other_token)
    browser, cookie_stream = ready_operator_stream(server, world.agent)
    poll = LongPoll(server, token, head())
    try:
        send_replies(world.agent, world.conversation.id, 1, text="before revocation")
        assert stream.wait_for(lambda s: any("before revocation" in str(m.data) for m in s.messages()), 15)
        poll.join(15)
        assert poll.answer is not None and poll.answer[0] == 200  # the reply answered the poll
        poll = LongPoll(server, token, head())
        # Revoke only once the poll waits in the hub (a poll that arrives later is refused with 401).
        assert wait_until(lambda: subscribers(server.url) == 4), subscribers(server.url)
        assert not stream.ended

        api_tokens.revoke_token(world.admin, row.id)
        assert stream.wait_for(lambda s: s.ended, CLOSES_WITHIN_S)
        assert stream.named("closed")[-1].data == {"reason": "revoked"}
        poll.join(CLOSES_WITHIN_S)
        assert not poll.is_alive(), "the long-poll with the revoked token still waits"
        assert poll.answer is not None and poll.answer[0] == 200 and poll.answer[1]["events"] == []

        reconnect = SSE(server.url, "/api/v1/stream", bearer(token))
        assert reconnect.status == 401 and reconnect.body["error"] == "invalid_token"
        status, body = Http(server.url).request("GET", f"/api/v1/events?after={head()}", headers=bearer(token))
        assert status == 401 and body["error"] == "invalid_token"

        # The owner's other token and their browser session are untouched and still live.
        send_replies(world.agent, world.conversation.id, 1, text="after revocation")
        for live in (other_stream, cookie_stream):
            assert live.wait_for(lambda s: any("after revocation" in str(m.data) for m in s.messages()), 15)
            assert not live.ended
        assert not any("after revocation" in str(m.data) for m in stream.messages())
    finally:
        for s in (stream, other_stream, cookie_stream):
            s.close()
        browser.request("POST", "/logout", form={"csrf_token": browser.csrf})


def test_a_request_that_subscribes_after_the_revocation_signal_ends_at_once(app) -> None:  # type: ignore[no-untyped-def]
    """The race a live server leaves to chance: the token was valid when the request checked it,
    the revocation's signal reached the hub before the request subscribed. It must not wait for
    the heartbeat re-check (minutes): the hub remembers the revoked token."""
    hub = Hub(app)
    hub.position = hub.floor = 0
    hub._on_signal(json.dumps({"kind": "api_token.revoked", "token_id": 41}))
    settings = StreamSettings(retry_ms=3000, heartbeat_s=120, named_heartbeat_s=120, longpoll_wait_s=60)

    revoked, _, _ = hub.subscribe(OperatorScope(user_id=1, session_version=1, inbox_ids=None, token_id=41), None)
    other, _, _ = hub.subscribe(OperatorScope(user_id=1, session_version=1, inbox_ids=None, token_id=42), None)
    browser, _, _ = hub.subscribe(OperatorScope(user_id=1, session_version=1, inbox_ids=None, session_id="s"), None)
    assert revoked.closed == "revoked"
    assert other.closed is None and browser.closed is None

    # A long-poll with the revoked token answers at once (no 60 s wait), with nothing in it.
    scope = OperatorScope(user_id=1, session_version=1, inbox_ids=None, token_id=41)
    assert long_poll(hub, scope, 0, db.engine, settings) == {"events": [], "position": 0}


def test_deactivating_the_owner_ends_token_streams_at_once(
        slow_heartbeat_server: LiveServer, world: World) -> None:  # noqa: F811
    _, token = api_tokens.create_token(world.agent, "CRM sync")
    stream = token_stream(slow_heartbeat_server, token)
    try:
        users_service.deactivate_user(world.admin.id, world.agent.id)
        assert stream.wait_for(lambda s: s.ended, CLOSES_WITHIN_S)
        assert stream.named("closed")[-1].data == {"reason": "revoked"}
        reconnect = SSE(slow_heartbeat_server.url, "/api/v1/stream", bearer(token))
        assert reconnect.status == 401 and reconnect.body["error"] == "invalid_token"
    finally:
        stream.close()


def test_the_heartbeat_recheck_ends_a_token_stream_whose_revocation_sent_no_signal(
        fast_server: LiveServer, world: World) -> None:  # noqa: F811
    """The safety net: a revocation the hub never heard about (its LISTEN connection was down,
    a row changed by hand) still ends the stream at the next heartbeat; a password change does not."""
    row, token = api_tokens.create_token(world.agent, "CRM sync")
    stream = token_stream(fast_server, token)
    try:
        users_service.set_password(world.admin.id, world.agent.id, "a new long password 42")
        send_replies(world.agent, world.conversation.id, 1, text="after the password change")
        assert stream.wait_for(lambda s: any("password change" in str(m.data) for m in s.messages()), 15)
        assert not stream.ended  # the token outlives a password change, and so does its stream

        with db.engine.begin() as conn:
            conn.execute(sa.update(ApiToken).where(ApiToken.id == row.id).values(revoked_at=sa.func.now()))
        assert stream.wait_for(lambda s: s.ended, 15)
        assert stream.named("closed")[-1].data == {"reason": "revoked"}
    finally:
        stream.close()
