"""Ctrl-C of ``make run`` under load, then start again: every acknowledged message is there exactly once,
and nothing the first run started is left running."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.faults.harness import Load
from tests.faults.harness import Visitor
from tests.faults.harness import record
from tests.helpers import ROOT
from tests.helpers import free_port
from tests.realtime.helpers import Http
from tests.realtime.helpers import wait_until

pytestmark = pytest.mark.slow


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "messenger.runner"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def _up(base: str) -> bool:
    try:
        return Http(base).request("GET", "/healthz")[0] == 200
    except OSError:
        return False


def _visitor(base: str, inbox_token: str) -> Visitor:
    http = Http(base)
    status, session = http.request("POST", "/widget/api/v1/session", {"inbox": inbox_token})
    assert status in (200, 201), session
    first = {"content": "hi", "client_id": str(uuid.uuid4())}
    status, sent = http.request("POST", "/widget/api/v1/messages", first, headers={"X-Visitor-Token": session["token"]})
    assert status == 201, sent
    return Visitor(token=session["token"], conversation_id=int(sent["message"]["conversation_id"]))


def _client_ids(http: Http, conversation_id: int) -> list[str]:
    ids: list[str] = []
    before = ""
    while True:
        status, page = http.request("GET", f"/api/v1/conversations/{conversation_id}/messages?limit=50{before}")
        assert status == 200, page
        ids += [m["client_id"] for m in page["messages"] if m["client_id"]]
        if not page["has_more"]:
            return ids
        before = f"&before_id={page['messages'][0]['id']}"


def test_ctrl_c_under_load_and_start_again_keeps_every_acknowledged_message(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(PORT=str(port), MESSENGER_INSTANCE=str(tmp_path / "instance"), WEB_WORKERS="1", LOG_LEVEL="WARNING",
               ADMIN_EMAIL="boss@example.com", ADMIN_PASSWORD="fault-test-password",
               WIDGET_RATE_LIMIT="6000 per minute", WIDGET_IP_RATE_LIMIT="60000 per minute",
               WIDGET_SESSION_RATE_LIMIT="600 per hour", SPAM_MIN_FIRST_MESSAGE_S="0")
    log = tmp_path / "runner.log"
    runner = _start(env, log)
    try:
        assert wait_until(lambda: _up(base), 120), log.read_text()[-3000:]
        _, demo = Http(base).request("GET", "/demo")
        token = re.search(r'data-inbox="([^"]+)"', str(demo))
        assert token, "no inbox token on the demo page"
        visitors = [_visitor(base, token.group(1)) for _ in range(3)]
        load = Load(base, visitors, interval=0.1).start()
        time.sleep(3)
        runner.send_signal(signal.SIGINT)  # Ctrl-C under load
        runner.wait(60)
        assert runner.returncode == 0, log.read_text()[-3000:]
        stopped_at = time.monotonic()
        leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout.split()
        assert leftovers == [], "the first run left processes behind"
        assert not _up(base)
        runner = _start(env, log)  # the visitors keep retrying with the same client_ids meanwhile
        assert wait_until(lambda: _up(base), 120), log.read_text()[-3000:]
        time.sleep(3)
        load.stop()
        recovery = max((t - stopped_at for t in load.ack_times() if t > stopped_at), default=0.0)
        operator = Http(base)
        operator.login("boss@example.com", "fault-test-password")
        acked = load.acknowledged
        stored = [cid for v in visitors for cid in _client_ids(operator, v.conversation_id)]
    finally:
        if runner.poll() is None:
            runner.send_signal(signal.SIGINT)
            runner.wait(60)
    assert len(acked) >= 20
    assert set(acked) <= set(stored), "an acknowledged message is missing after the restart"
    assert len(stored) == len(set(stored)), "a retried message was stored twice"
    assert recovery < 120
    assert subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout.split() == []
    record({"scenario": "Ctrl-C of make run under load, start again", "acknowledged": len(acked),
            "in_database": len(set(acked) & set(stored)), "lost": len(set(acked) - set(stored)),
            "duplicated": len(stored) - len(set(stored)), "recovery_s": recovery})
