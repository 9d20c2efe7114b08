"""An admin's change of an operator's inboxes or role reaches their open stream at once, not at the
next heartbeat (issue 11 "live without restarts"; docs/realtime.md)."""
from __future__ import annotations

import pytest

from messenger.services import inboxes as inbox_service
from messenger.services import operators as operator_service
from tests.factories import make_conversation
from tests.factories import make_visitor
from tests.helpers import LiveServer
from tests.realtime.conftest import World
from tests.realtime.conftest import ready_operator_stream
from tests.realtime.conftest import send_replies
from tests.realtime.conftest import slow_heartbeat_server  # noqa: F401  (fixture)
from tests.realtime.conftest import world  # noqa: F401  (fixture)
from tests.realtime.helpers import SSE

pytestmark = pytest.mark.committing


def _texts(stream: SSE) -> list[str]:
    return [str(m.data) for m in stream.messages()]


def _arrives(stream: SSE, text: str) -> bool:
    return stream.wait_for(lambda s: any(text in t for t in _texts(s)), 15)


def test_inbox_membership_and_role_changes_reach_an_open_stream_at_once(
        slow_heartbeat_server: LiveServer, world: World) -> None:  # noqa: F811
    """The server re-checks principals every 2 minutes; each change below is seen within seconds."""
    other_conversation = make_conversation(world.other_inbox, make_visitor(world.other_inbox)[0])
    third = inbox_service.create_inbox(None, name="Third", allowed_origins=["http://127.0.0.1"])
    third_conversation = make_conversation(third, make_visitor(third)[0])
    browser, stream = ready_operator_stream(slow_heartbeat_server, world.agent)
    try:
        send_replies(world.admin, world.conversation.id, 1, text="shop before")
        assert _arrives(stream, "shop before")

        # Admin → Operators: the agent moves from the shop inbox to the other one.
        operator_service.update_operator(world.admin.id, world.agent.id, name=world.agent.name, role="agent",
                                         capacity=10, inbox_ids=[world.other_inbox.id], team_ids=[])
        send_replies(world.admin, world.conversation.id, 1, text="shop after removal")
        send_replies(world.admin, other_conversation.id, 1, text="other after joining")
        assert _arrives(stream, "other after joining")
        assert not any("shop after removal" in t for t in _texts(stream))  # the log order proves it was skipped

        # Added back to the shop inbox (inbox members list / add_member): its events flow again.
        inbox_service.add_member(world.admin.id, world.inbox.id, world.agent.id)
        send_replies(world.admin, world.conversation.id, 1, text="shop after re-adding")
        assert _arrives(stream, "shop after re-adding")

        # Promoted to admin: every inbox, including one they were never a member of.
        operator_service.update_operator(world.admin.id, world.agent.id, name=world.agent.name, role="admin",
                                         capacity=10, inbox_ids=[world.inbox.id], team_ids=[])
        send_replies(world.admin, third_conversation.id, 1, text="third as admin")
        assert _arrives(stream, "third as admin")
        assert not stream.ended
    finally:
        stream.close()
