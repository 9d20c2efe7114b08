"""Fixtures of the fault-injection suite: a world of visitors with conversations, a 2-worker gunicorn."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from messenger.extensions import db
from tests.factories import PASSWORD
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user
from tests.factories import make_visitor
from tests.faults.harness import Visitor
from tests.faults.harness import operator_cookie
from tests.helpers import LiveServer

FAULT_ENV = {"SSE_HEARTBEAT_S": "2", "SSE_NAMED_HEARTBEAT_S": "4", "HUB_POLL_S": "1", "LOG_LEVEL": "WARNING",
             "WIDGET_RATE_LIMIT": "6000 per minute", "WIDGET_IP_RATE_LIMIT": "60000 per minute",
             "SPAM_MIN_FIRST_MESSAGE_S": "0"}


@dataclass
class FaultWorld:
    inbox: Any
    admin: Any
    visitors: list[Visitor]

    @property
    def conversation_ids(self) -> list[int]:
        return [v.conversation_id for v in self.visitors]


def make_world(visitors: int = 4, **inbox_settings: Any) -> FaultWorld:
    inbox = make_inbox(**inbox_settings)
    admin = make_user(role="admin")
    people = []
    for _ in range(visitors):
        visitor, token = make_visitor(inbox)
        people.append(Visitor(token=token, conversation_id=make_conversation(inbox, visitor).id))
    db.session.commit()
    return FaultWorld(inbox, admin, people)


@pytest.fixture
def fault_world() -> FaultWorld:
    return make_world()


def _two_workers(env: dict[str, str]) -> Iterator[LiveServer]:
    server = LiveServer(dict(env, **FAULT_ENV), workers=2)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def fault_server(app, env_for_servers: dict[str, str]) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """A 2-worker gunicorn shared by a module's tests (faults that leave it running)."""
    yield from _two_workers(env_for_servers)


@pytest.fixture
def own_server(app, env_for_servers: dict[str, str]) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """A 2-worker gunicorn of the test's own (faults that kill or reload it)."""
    yield from _two_workers(env_for_servers)


def cookie_for(server: LiveServer, world: FaultWorld) -> str:
    return operator_cookie(server.url, world.admin.email, PASSWORD)
