"""Fixtures for the realtime tests: a second live server with short timings, and a small world."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from messenger.services import messages as msg_service
from tests.factories import PASSWORD
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user
from tests.factories import make_visitor
from tests.helpers import LiveServer
from tests.realtime.helpers import SSE
from tests.realtime.helpers import Http

FAST_ENV = {"SSE_HEARTBEAT_S": "1", "SSE_NAMED_HEARTBEAT_S": "2", "PRESENCE_GRACE_S": "2", "HUB_RING_SIZE": "16",
            "SSE_QUEUE_SIZE": "32", "LONGPOLL_WAIT_S": "3", "HUB_POLL_S": "1"}


@pytest.fixture(scope="module")
def fast_server(app, env_for_servers: dict[str, str]) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """A gunicorn+gevent server with 1 s heartbeats, a 16-event ring, 32-item queues, 2 s presence grace."""
    server = LiveServer(dict(env_for_servers, **FAST_ENV))
    try:
        yield server
    finally:
        server.stop()


# Heartbeats (the periodic re-check) and long-polls far longer than a test waits: what changes a
# stream within seconds on this server is the change itself, not the next heartbeat.
SLOW_ENV = dict(FAST_ENV, SSE_HEARTBEAT_S="120", SSE_NAMED_HEARTBEAT_S="120", LONGPOLL_WAIT_S="120",
                PRESENCE_GRACE_S="600")


@pytest.fixture(scope="module")
def slow_heartbeat_server(app, env_for_servers: dict[str, str]) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """A gunicorn+gevent server whose streams re-check their principals only every 2 minutes."""
    server = LiveServer(dict(env_for_servers, **SLOW_ENV))
    try:
        yield server
    finally:
        server.stop()


@dataclass
class World:
    inbox: Any
    other_inbox: Any
    admin: Any
    agent: Any
    outsider: Any
    visitor: Any
    visitor_token: str
    conversation: Any
    other_visitor: Any
    other_token: str
    other_conversation: Any


@pytest.fixture
def world() -> World:
    """One inbox with an agent, an admin, an operator of another inbox only, two visitors with a conversation each."""
    inbox = make_inbox()
    other_inbox = make_inbox()
    admin = make_user(role="admin")
    agent = make_user(inboxes=[inbox])
    outsider = make_user(inboxes=[other_inbox])
    visitor, token = make_visitor(inbox)
    conversation = make_conversation(inbox, visitor)
    other_visitor, other_token = make_visitor(inbox)
    other_conversation = make_conversation(inbox, other_visitor)
    return World(inbox, other_inbox, admin, agent, outsider, visitor, token, conversation, other_visitor,
                 other_token, other_conversation)


def operator_http(server: LiveServer, user: Any) -> Http:
    """A signed-in operator client for ``server``."""
    client = Http(server.url)
    client.login(user.email, PASSWORD)
    return client


def new_client_id() -> str:
    return str(uuid.uuid4())


def visitor_ticket(server: LiveServer, token: str) -> str:
    """A fresh stream ticket for the visitor with ``token``."""
    status, body = Http(server.url).request("POST", "/widget/api/v1/stream-ticket",
                                            headers={"X-Visitor-Token": token})
    assert status == 200, body
    assert body["expires_in"] == 60
    return str(body["ticket"])


def visitor_stream(server: LiveServer, token: str, after: int | None = None) -> SSE:
    """An open visitor SSE stream (ticket fetched with the visitor token)."""
    query = f"?ticket={visitor_ticket(server, token)}" + (f"&after={after}" if after is not None else "")
    return SSE(server.url, "/widget/api/v1/stream" + query)


def operator_stream(server: LiveServer, user: Any, after: int | None = None,
                    last_event_id: int | None = None, client: Http | None = None) -> SSE:
    """An open operator SSE stream (signs in first unless ``client`` is given)."""
    client = client or operator_http(server, user)
    headers = {"Cookie": client.cookie_header()}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    return SSE(server.url, "/api/v1/stream" + (f"?after={after}" if after is not None else ""), headers)


def send_replies(user: Any, conversation_id: int, n: int, *, private: bool = False, text: str = "reply") -> list[int]:
    """``n`` committed operator messages; their ids in order."""
    return [msg_service.send_operator_message(user, conversation_id, f"{text} {i}", new_client_id(),
                                              private=private).message.id for i in range(n)]


def head() -> int:
    """The newest committed log position."""
    from messenger.realtime.log import head_position

    return head_position()


def ready_operator_stream(server: LiveServer, user: Any) -> tuple[Http, SSE]:
    """A signed-in client and its operator stream, once the stream said ``ready``."""
    client = operator_http(server, user)
    stream = operator_stream(server, user, client=client)
    stream.wait_count("ready", 1)
    return client, stream
