"""``make run`` smoke test: the real stack starts on embedded servers, serves, and stops cleanly."""
from __future__ import annotations

import json
import re
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.conftest import free_port


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _start(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m messenger.runner`` and return it with its output up to the login line."""
    proc = subprocess.Popen([sys.executable, "-m", "messenger.runner"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        output.append(line)
        if "Login:" in line or proc.poll() is not None:
            break
    return proc, "".join(output)


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=40)
    assert proc.returncode == 0, rest


@pytest.mark.slow
def test_make_run_serves_login_and_healthz_then_stops_everything(tmp_path: Path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "ADMIN_PASSWORD")}
    env.update(PORT=str(port), MESSENGER_INSTANCE=str(tmp_path / "instance"), ADMIN_EMAIL="boss@example.com",
               WEB_WORKERS="1", LOG_LEVEL="WARNING")
    proc, output = _start(dict(env, ADMIN_PASSWORD="smoke-test-password"))
    try:
        assert "boss@example.com / smoke-test-password" in output
        status, body = _get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"
        status, body = _get(f"http://127.0.0.1:{port}/login")
        assert status == 200 and b"Sign in" in body
        status, demo = _get(f"http://127.0.0.1:{port}/demo")
        assert status == 200 and b"/widget/loader.js" in demo
    finally:
        _stop(proc)
    # Nothing left behind: no server answers, postgres and redis of this instance are gone.
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout.split()
    assert leftovers == []

    # A second run reuses the data: same inbox (same embed token), same login.
    proc, output = _start(env)
    try:
        assert "boss@example.com / smoke-test-password" in output
        status, again = _get(f"http://127.0.0.1:{port}/demo")
        token = re.search(rb'data-inbox="([^"]+)"', demo)
        assert status == 200 and token is not None and token.group(0) in again
    finally:
        _stop(proc)
