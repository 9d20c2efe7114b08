"""``make run`` smoke test: the real stack starts on embedded servers, serves, and stops cleanly."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import ROOT
from tests.helpers import free_port


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
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
        assert _healthy(port, 30)  # the first request after boot may wait for the app import on a busy machine
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
        assert _healthy(port, 30)
        status, again = _get(f"http://127.0.0.1:{port}/demo")
        token = re.search(rb'data-inbox="([^"]+)"', demo)
        assert status == 200 and token is not None and token.group(0) in again
    finally:
        _stop(proc)


class _Output:
    """The runner's output, read by a thread (the children share the pipe: it must never fill up)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        import threading

        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line)

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            for line in self.lines[seen:]:
                match = re.search(pattern, line)
                if match:
                    return match
            time.sleep(0.1)
        raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(self.lines[-40:])}")


def _healthy(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if _get(f"http://127.0.0.1:{port}/healthz")[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_make_run_restarts_a_crashed_worker_and_web_server_and_stops_only_on_sigterm(tmp_path: Path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "ADMIN_PASSWORD")}
    env.update(PORT=str(port), MESSENGER_INSTANCE=str(tmp_path / "instance"), WEB_WORKERS="1", LOG_LEVEL="WARNING")
    proc = subprocess.Popen([sys.executable, "-m", "messenger.runner"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    out = _Output(proc)
    try:
        worker = int(out.wait_for(r"runner: worker started \(pid (\d+)\)", 90).group(1))
        web = int(out.wait_for(r"runner: web started \(pid (\d+)\)").group(1))
        out.wait_for("Login:")
        assert _healthy(port, 30)
        os.kill(worker, signal.SIGKILL)
        out.wait_for(r"runner: worker exited \(signal 9\); restarting in 1s")
        new_worker = int(out.wait_for(r"runner: worker started \(pid (?!%d\))(\d+)\)" % worker).group(1))
        web_children = subprocess.run(["pgrep", "-g", str(web)], capture_output=True, text=True).stdout.split()
        assert new_worker != worker and proc.poll() is None
        assert _get(f"http://127.0.0.1:{port}/healthz")[0] == 200  # the web server never noticed
        os.kill(web, signal.SIGKILL)
        out.wait_for(r"runner: web exited \(signal 9\); restarting in 1s")
        new_web = int(out.wait_for(r"runner: web started \(pid (?!%d\))(\d+)\)" % web).group(1))
        assert web_children and not any(_alive(int(pid)) for pid in web_children)  # its workers went too
        assert _healthy(port, 30), "the restarted web server does not answer"
        os.kill(new_worker, signal.SIGKILL)  # a second crash of the same child within 30 s: longer backoff
        out.wait_for(r"runner: worker exited \(signal 9\); restarting in 2s")
        proc.send_signal(signal.SIGTERM)
        proc.wait(40)
        assert proc.returncode == 0, "".join(out.lines[-30:])
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout.split()
    assert leftovers == []
    assert not _alive(new_web) and not any(
        _alive(int(pid)) for pid in subprocess.run(["pgrep", "-g", str(new_web)], capture_output=True,
                                                   text=True).stdout.split())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
