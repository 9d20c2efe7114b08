"""Signing out closes that browser's open operator stream within one heartbeat; other browsers stay
(issue 14 item 3, docs/security.md case 21)."""
from __future__ import annotations

import time

import pytest

from tests.realtime.conftest import World
from tests.realtime.conftest import fast_server  # noqa: F401  (fixture)
from tests.realtime.conftest import ready_operator_stream
from tests.realtime.conftest import world  # noqa: F401  (fixture)
from tests.realtime.helpers import SSE

pytestmark = pytest.mark.committing


def test_logout_closes_this_browsers_stream_only(fast_server, world: World) -> None:  # noqa: F811
    laptop, laptop_stream = ready_operator_stream(fast_server, world.agent)
    phone, phone_stream = ready_operator_stream(fast_server, world.agent)
    try:
        cookie = laptop.cookie_header()
        status, _ = laptop.request("POST", "/logout", form={"csrf_token": laptop.csrf})
        assert status == 200  # followed to the sign-in page
        signed_out = time.monotonic()
        assert laptop_stream.wait_for(lambda s: s.ended, 5)
        assert time.monotonic() - signed_out < 3
        assert laptop_stream.named("closed")[-1].data == {"reason": "revoked"}
        assert SSE(fast_server.url, "/api/v1/stream", {"Cookie": cookie}).status == 401
        time.sleep(1.5)  # a heartbeat later the other browser is still live
        assert not phone_stream.ended
        status, _ = phone.request("POST", "/logout/everywhere", form={"csrf_token": phone.csrf})
        assert phone_stream.wait_for(lambda s: s.ended, 5)
    finally:
        laptop_stream.close()
        phone_stream.close()
