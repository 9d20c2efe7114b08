"""gunicorn faults under load: a worker SIGKILLed with open streams; HUP (new workers) and SIGTERM of the
master are graceful: streams end with a final ``retry:`` and reconnect, in-flight requests finish."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.faults.conftest import FaultWorld
from tests.faults.conftest import cookie_for
from tests.faults.harness import Load
from tests.faults.harness import Watcher
from tests.faults.harness import assert_nothing_lost
from tests.faults.harness import verdict

pytestmark = [pytest.mark.committing, pytest.mark.slow]


def _workers(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    return sorted(int(p) for p in out)


def _established_sockets(port: int) -> set[str]:
    """Socket inodes of established TCP connections whose local port is ``port``."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":  # 01 = ESTABLISHED
                inodes.add(fields[9])
    return inodes


def _worker_holding_streams(master: int, port: int) -> int:
    """The worker with the most open client connections (the streams), so the kill is sure to cut some."""
    established = _established_sockets(port)

    def held(pid: int) -> int:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            return 0
        return sum(1 for link in links if link.startswith("socket:[") and link[8:-1] in established)

    return max(_workers(master), key=held)


def _wait_workers(master: int, n: int, exclude: set[int], timeout: float = 30) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fresh = [p for p in _workers(master) if p not in exclude]
        if len(fresh) >= n:
            return fresh
        time.sleep(0.2)
    raise AssertionError(f"gunicorn did not start {n} new workers")


def test_a_gunicorn_worker_sigkilled_with_open_streams_loses_nothing(own_server, fault_world: FaultWorld) -> None:  # type: ignore[no-untyped-def]
    cookie = cookie_for(own_server, fault_world)
    watchers = [Watcher(own_server.url, cookie).start() for _ in range(4)]  # spread over both workers
    load = Load(own_server.url, fault_world.visitors).start()
    time.sleep(3)
    fault_at = time.monotonic()
    victim = _worker_holding_streams(own_server.process.pid, own_server.port)
    os.kill(victim, signal.SIGKILL)
    _wait_workers(own_server.process.pid, 2, {victim})
    time.sleep(3)
    load.stop()
    result = verdict("gunicorn worker SIGKILLed with open streams", load, watchers, fault_at,
                     fault_world.conversation_ids)
    for w in watchers:
        w.stop()
    assert_nothing_lost(result)
    assert sum(w.reconnects for w in watchers) >= 1, "no stream was on the killed worker?"


def test_hup_and_sigterm_of_the_master_are_graceful(own_server, fault_world: FaultWorld) -> None:  # type: ignore[no-untyped-def]
    cookie = cookie_for(own_server, fault_world)
    watchers = [Watcher(own_server.url, cookie).start() for _ in range(4)]
    load = Load(own_server.url, fault_world.visitors).start()
    time.sleep(2)
    master = own_server.process.pid
    old = set(_workers(master))
    fault_at = time.monotonic()
    os.kill(master, signal.SIGHUP)  # new workers start, the old ones stop gracefully
    _wait_workers(master, 2, old)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and set(_workers(master)) & old:
        time.sleep(0.2)
    stopped_in = time.monotonic() - fault_at
    time.sleep(5)
    load.stop()
    result = verdict("gunicorn HUP (graceful reload)", load, watchers, fault_at, fault_world.conversation_ids)
    assert_nothing_lost(result, min_acked=10)
    assert result.recovery_s < 60, result  # new workers import the app before they accept (slow on a busy machine)
    assert not set(_workers(master)) & old and stopped_in < 10
    assert all("shutdown" in w.closed_reasons for w in watchers), [w.closed_reasons for w in watchers]
    assert all(w.reconnects >= 1 for w in watchers)
    # SIGTERM: the streams end cleanly (retry hint + closed), the master exits before its graceful timeout.
    before = [len(w.closed_reasons) for w in watchers]
    term_at = time.monotonic()
    os.kill(master, signal.SIGTERM)
    own_server.process.wait(10)
    assert time.monotonic() - term_at < 10
    for w, n in zip(watchers, before, strict=True):
        w.stop()
        assert w.closed_reasons[n:] == ["shutdown"] or w.closed_reasons[n:][:1] == ["shutdown"], w.closed_reasons
