"""Chromium: two tabs of one operator hold one stream (Web Locks leader + BroadcastChannel)."""
from __future__ import annotations

import time

import pytest

from tests.factories import PASSWORD
from tests.realtime.conftest import World
from tests.realtime.conftest import send_replies
from tests.realtime.helpers import Http
from tests.realtime.helpers import subscribers
from tests.realtime.helpers import wait_until

pytestmark = [pytest.mark.committing, pytest.mark.browser]

START = """async () => {
  const { connectShared } = await import('/static/js/common/tabstream.js');
  window.got = []; window.roles = []; window.statuses = [];
  window.live = connectShared({
    name: 'test-operator-stream', streamUrl: '/api/v1/stream', pollUrl: '/api/v1/events',
    onEvent: (kind, data, id) => window.got.push({kind, id, mid: data && data.id}),
    onStatus: (s) => window.statuses.push(s),
    onRole: (r) => window.roles.push(r),
  });
}"""


def _signed_in_page(context, server, user):  # type: ignore[no-untyped-def]
    """A page of ``context`` signed in as ``user``, parked on a script-free same-origin page."""
    page = context.new_page()
    page.goto(server.url + "/login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.goto(server.url + "/healthz")
    return page


def _messages(page) -> list[int]:  # type: ignore[no-untyped-def]
    return [e["mid"] for e in page.evaluate("window.got") if e["kind"] == "message.created"]


def test_two_tabs_share_one_stream_and_the_survivor_takes_over(browser, fast_server, world: World,  # type: ignore[no-untyped-def]
                                                                 artifacts) -> None:
    context = browser.new_context()
    try:
        first = _signed_in_page(context, fast_server, world.agent)
        first.evaluate(START)
        second = context.new_page()
        second.goto(fast_server.url + "/healthz")
        second.evaluate(START)
        assert wait_until(lambda: "live" in first.evaluate("window.statuses"))
        assert first.evaluate("window.live.isLeader()") is True
        assert second.evaluate("window.live.isLeader()") is False
        # One stream for the two tabs (stale streams of other tests end within a 1 s heartbeat).
        assert wait_until(lambda: subscribers(fast_server.url) == 1, timeout=10)
        sent = send_replies(world.agent, world.conversation.id, 2)
        assert wait_until(lambda: _messages(first) == sent and _messages(second) == sent), (
            _messages(first), _messages(second))
        first.close()
        assert wait_until(lambda: second.evaluate("window.live.isLeader()") is True, timeout=10)
        assert second.evaluate("window.roles") == ["follower", "leader"]
        more = send_replies(world.agent, world.conversation.id, 2)
        assert wait_until(lambda: _messages(second) == sent + more, timeout=10), _messages(second)
        assert wait_until(lambda: subscribers(fast_server.url) == 1, timeout=10)
        ids = [e["id"] for e in second.evaluate("window.got") if e["id"] is not None]
        assert ids == sorted(set(ids))
        second.screenshot(path=str(artifacts / "realtime-two-tabs.png"))
    finally:
        context.close()


FALLBACK = """async () => {
  const { connect } = await import('/static/js/common/stream.js');
  window.got = []; window.statuses = [];
  window.live = connect({
    streamUrl: '/api/v1/stream', pollUrl: '/api/v1/events', streamRetryMs: 4000,
    onEvent: (kind, data, id) => window.got.push({kind, id, mid: data && data.id}),
    onStatus: (s) => window.statuses.push(s),
  });
}"""


def test_client_falls_back_to_long_poll_when_the_stream_keeps_failing_and_comes_back(
        browser, fast_server, world: World) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context()
    try:
        page = _signed_in_page(context, fast_server, world.agent)
        # A "proxy" that breaks every stream request.
        page.route("**/api/v1/stream*", lambda route: route.abort())
        page.evaluate(FALLBACK)
        assert wait_until(lambda: "polling" in page.evaluate("window.statuses"), timeout=15)
        sent = send_replies(world.agent, world.conversation.id, 3)
        assert wait_until(lambda: _messages(page) == sent, timeout=15), _messages(page)
        page.unroute("**/api/v1/stream*")
        assert wait_until(lambda: page.evaluate("window.statuses").count("live") >= 1, timeout=20)
        assert page.evaluate("window.live.mode") == "stream"
        more = send_replies(world.agent, world.conversation.id, 2)
        assert wait_until(lambda: _messages(page) == sent + more, timeout=15), _messages(page)
        ids = [e["id"] for e in page.evaluate("window.got") if e["id"] is not None]
        assert ids == sorted(set(ids))
    finally:
        context.close()


TYPING = """async () => {
  const { connect, createTypingTracker } = await import('/static/js/common/stream.js');
  window.changes = []; window.statuses = [];
  const tracker = createTypingTracker({
    onChange: (conversationId, typers) => window.changes.push({conversationId, from: typers.map(t => t.from)}),
  });
  window.live = connect({
    streamUrl: '/api/v1/stream', pollUrl: '/api/v1/events',
    onEvent: (kind, data) => { if (kind === 'typing') tracker.handle(data); },
    onStatus: (s) => window.statuses.push(s),
  });
}"""


def test_typing_indicator_shows_and_expires_without_a_refresh(browser, fast_server, world: World) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context()
    try:
        page = _signed_in_page(context, fast_server, world.agent)
        page.evaluate(TYPING)
        assert wait_until(lambda: "live" in page.evaluate("window.statuses"))
        conv = world.conversation.id
        status, _ = Http(fast_server.url).request("POST", f"/widget/api/v1/conversations/{conv}/typing",
                                                  {"on": True}, headers={"X-Visitor-Token": world.visitor_token})
        assert status == 200
        assert wait_until(lambda: page.evaluate("window.changes") == [{"conversationId": conv, "from": ["visitor"]}])
        started = time.monotonic()
        # No "off" ever comes (the visitor closed the tab): the indicator expires after expires_in (6 s).
        assert wait_until(lambda: len(page.evaluate("window.changes")) == 2, timeout=10)
        assert page.evaluate("window.changes")[1] == {"conversationId": conv, "from": []}
        assert time.monotonic() - started > 4
    finally:
        context.close()
