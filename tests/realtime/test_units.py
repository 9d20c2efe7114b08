"""Pure parts of realtime: SSE framing, access rules and payload shaping, subscriber queues."""
from __future__ import annotations

from datetime import datetime
from datetime import timezone
from typing import Any

import pytest

from messenger.realtime import access
from messenger.realtime.access import OperatorScope
from messenger.realtime.access import Signal
from messenger.realtime.access import VisitorScope
from messenger.realtime.log import LogEvent
from messenger.realtime.sse import comment
from messenger.realtime.sse import frame
from messenger.realtime.sse import retry
from messenger.realtime.subscriptions import Delivery
from messenger.realtime.subscriptions import Prepared
from messenger.realtime.subscriptions import Subscriber
from messenger.services.conversations import OPERATOR_ONLY_FIELDS


def event(kind: str, *, inbox: int | None = 1, conversation: int | None = 10, contact: int | None = 100,
          user: int | None = None, private: bool = False, **payload: Any) -> LogEvent:
    return LogEvent(7, kind, inbox, conversation, contact, user, private, payload,
                    datetime(2026, 1, 1, tzinfo=timezone.utc))


def test_frames_follow_the_sse_format() -> None:
    assert frame({"a": 1}, event="message.created", id=42) == b'id: 42\nevent: message.created\ndata: {"a":1}\n\n'
    assert frame("two\nlines") == b"data: two\ndata: lines\n\n"
    assert frame({"t": "é\n"}) == 'data: {"t":"é\\n"}\n\n'.encode()
    assert comment("hb") == b": hb\n\n" and comment() == b":\n\n"
    assert retry(3000) == b"retry: 3000\n\n"
    with pytest.raises(ValueError):
        frame({}, event="a\nb")


@pytest.mark.parametrize("scope, kind, inbox, user, visible", [
    (OperatorScope(5, 1, frozenset({1})), "message.created", 1, None, True),
    (OperatorScope(5, 1, frozenset({2})), "message.created", 1, None, False),
    (OperatorScope(5, 1, frozenset({2})), "message.created", 1, 5, False),  # own, but not their inbox
    (OperatorScope(5, 1, None), "message.created", 1, None, True),  # admin
    (OperatorScope(5, 1, frozenset()), "presence.updated", None, 9, True),  # colleagues' presence
    (OperatorScope(5, 1, frozenset()), "directory.changed", None, None, True),  # the admin's setup, for everyone
])
def test_operator_visibility(scope: OperatorScope, kind: str, inbox: int | None, user: int | None,
                             visible: bool) -> None:
    assert access.operator_may_see(scope, event(kind, inbox=inbox, user=user)) is visible


def test_visitors_never_see_notes_other_contacts_other_inboxes_or_private_kinds() -> None:
    me = VisitorScope(session_id=3, contact_id=100, inbox_id=1)
    assert access.visitor_may_see(me, event("message.created", id=1))
    assert not access.visitor_may_see(me, event("message.created", private=True))
    assert not access.visitor_may_see(me, event("message.created", contact=101))
    assert not access.visitor_may_see(me, event("message.created", inbox=2))
    for kind in ("contact.updated", "contact.session", "presence.updated", "csat.created", "directory.changed"):
        assert not access.visitor_may_see(me, event(kind))
    assert access.visitor_may_see(me, event("queue.changed", contact=None, conversation=None))
    assert access.payload_for("visitor", event("queue.changed", contact=None, secret="x")) == {"inbox_id": 1}
    assert not access.visitor_may_see(me, event("queue.changed", inbox=2, contact=None))


def test_conversation_payload_is_shaped_for_visitors() -> None:
    payload = {field: "internal" for field in OPERATOR_ONLY_FIELDS}
    ev = event("conversation.updated", id=10, status="open", changed=["status", "priority"], **payload)
    shaped = access.visitor_payload(ev)
    assert shaped is not None
    assert not set(OPERATOR_ONLY_FIELDS) & set(shaped)
    assert shaped["changed"] == ["status"] and shaped["status"] == "open"
    assert access.payload_for("operator", ev) is ev.payload
    # Only operator fields changed: the visitor is not told anything happened.
    assert access.visitor_payload(event("conversation.updated", changed=["priority", "team_id"])) is None


def test_typing_reaches_colleagues_not_yourself_and_visitors_get_only_a_name() -> None:
    signal = Signal("typing", 1, 10, 100, "operator", 5, "Ana", True, False, 6)
    assert not access.signal_may_reach(OperatorScope(5, 1, None), signal)
    assert access.signal_may_reach(OperatorScope(6, 1, frozenset({1})), signal)
    assert not access.signal_may_reach(OperatorScope(6, 1, frozenset({2})), signal)
    visitor = VisitorScope(3, 100, 1)
    assert access.signal_may_reach(visitor, signal)
    assert access.signal_payload("visitor", signal) == {"conversation_id": 10, "on": True, "from": "operator",
                                                        "name": "Ana", "expires_in": 6}
    note = Signal("typing", 1, 10, 100, "operator", 5, "Ana", True, True, 6)
    assert not access.signal_may_reach(visitor, note)
    from_visitor = Signal("typing", 1, 10, 100, "visitor", None, "", True, False, 6)
    assert not access.signal_may_reach(visitor, from_visitor)


def test_prepared_event_builds_each_audience_once() -> None:
    prepared = Prepared(event("message.created", id=1, content="hi"))
    first = prepared.delivery("operator")
    assert first is prepared.delivery("operator")
    assert first is not None and first.frame.startswith(b"id: 7\nevent: message.created\n")
    assert Prepared(event("message.created", private=True)).delivery("visitor") is None


def test_an_overflowing_subscriber_is_closed_not_trimmed() -> None:
    sub = Subscriber(OperatorScope(1, 1, None), maxsize=2)
    item = Delivery(1, "k", {}, b"x")
    sub.offer(item)
    sub.offer(item)
    assert sub.wait(0) == [item, item]
    for _ in range(3):
        sub.offer(item)
    assert sub.closed == "overflow"
    assert sub.wait(0) == []
