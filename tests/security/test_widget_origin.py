"""The widget on its own origin (issue 14 item 9, docs/security.md): with ``WIDGET_BASE_URL`` the
loader, frame, widget API and streams are served from another host name, the panel's session
cookie never travels there, and each host serves only its own half. Two names for one machine
(127.0.0.1 for the panel, localhost for the widget) and real Chromium."""
from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.factories import PASSWORD
from tests.factories import make_inbox
from tests.factories import make_user
from tests.helpers import LiveServer
from tests.test_widget_browser import frame_of
from tests.test_widget_browser import incoming
from tests.test_widget_browser import open_and_send

pytestmark = [pytest.mark.committing, pytest.mark.browser]


@pytest.fixture(scope="module")
def split_server(app, env_for_servers: dict[str, str]) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    server = LiveServer(env_for_servers, widget_host="localhost")
    try:
        yield server
    finally:
        server.stop()


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def test_each_host_serves_only_its_own_half(split_server) -> None:
    inbox = make_inbox(origins=[split_server.url])
    widget, panel = split_server.widget_url, split_server.url
    for path in ("/app", "/login", "/admin/", "/api/v1/conversations", "/demo"):
        assert _status(widget + path) == 404, path
    for path in (f"/widget/frame?inbox={inbox.website_token}", f"/widget/api/v1/config?inbox={inbox.website_token}",
                 "/widget/api/v1/stream?ticket=x", "/widget/api/v1/contact"):
        assert _status(panel + path) == 404, path
        assert _status(widget + path) != 404, path
    # The loader is a static file (served on both names): everything it loads comes from the
    # origin it was loaded from, so an old embed code pointing at the panel host gets no frame.
    assert _status(widget + "/widget/loader.js") == 200
    assert _status(panel + "/login") == 200 and _status(widget + "/healthz") == 200
    assert _status(widget + "/static/css/base.css") == 200


def test_the_panel_cookie_never_reaches_the_widget_origin(split_server, browser, artifacts) -> None:
    inbox = make_inbox(name="Split origins", origins=[split_server.url])
    admin = make_user(role="admin", inboxes=[inbox])
    context = browser.new_context(viewport={"width": 1200, "height": 800}, locale="en-US")
    widget_requests = []
    context.on("request", lambda r: widget_requests.append(r) if r.url.startswith(split_server.widget_url) else None)
    try:
        panel = context.new_page()
        panel.goto(split_server.url + "/login")
        panel.fill("input[name=email]", admin.email)
        panel.fill("input[name=password]", PASSWORD)
        panel.click("button[type=submit]")
        panel.wait_for_selector("#panel[data-ready='1']", timeout=15000)
        assert any(c["name"] == "session" for c in context.cookies(split_server.url))
        # A customer page (the demo, on the panel host) embeds the widget from the widget origin.
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("requestfailed", lambda r: problems.append(f"failed {r.url}"))
        page.goto(split_server.url + "/demo")
        chat = open_and_send(page, inbox, "Hello across origins")
        assert incoming(inbox.id) == ["Hello across origins"]
        src = page.locator(f"iframe[src*='inbox={inbox.website_token}']").get_attribute("src")
        assert src and src.startswith(split_server.widget_url + "/widget/frame")
        assert chat.locator(".msg.me", has_text="Hello across origins").count() == 1
        page.screenshot(path=str(artifacts / "widget-separate-origin.png"))
        assert problems == [], problems  # no CSP violation, nothing refused
        kinds = {r.url.split("?")[0].removeprefix(split_server.widget_url) for r in widget_requests}
        assert {"/widget/loader.js", "/widget/frame", "/widget/api/v1/session", "/widget/api/v1/messages"} <= kinds
        assert any(k.startswith("/widget/api/v1/stream") or k == "/widget/api/v1/events" for k in kinds)
        for request in widget_requests:
            assert "session=" not in request.all_headers().get("cookie", ""), request.url
        assert not any(c["name"] == "session" for c in context.cookies(split_server.widget_url))
        frame_of(page, inbox).locator("#input").wait_for()
    finally:
        context.close()
