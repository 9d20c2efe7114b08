"""PostgreSQL faults under a steady load (reliability cases in docs/security.md): restarts with fast and
immediate shutdown, the hub's LISTEN backend terminated, and a commit held 10 s over 100 others."""
from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from messenger.extensions import db
from tests.faults.conftest import FaultWorld
from tests.faults.conftest import cookie_for
from tests.faults.harness import Load
from tests.faults.harness import Watcher
from tests.faults.harness import assert_nothing_lost
from tests.faults.harness import verdict
from tests.realtime.helpers import Http

pytestmark = [pytest.mark.committing, pytest.mark.slow]


def _run(server, world: FaultWorld, fault, scenario: str, *, settle: float = 3.0):  # type: ignore[no-untyped-def]
    cookie = cookie_for(server, world)
    watchers = [Watcher(server.url, cookie).start() for _ in range(2)]
    load = Load(server.url, world.visitors).start()
    try:
        time.sleep(settle)
        fault_at = time.monotonic()
        fault()
        time.sleep(settle)
    finally:
        load.stop()
    try:
        return verdict(scenario, load, watchers, fault_at, world.conversation_ids), watchers
    finally:
        for w in watchers:
            w.stop()


def test_postgres_restarted_with_fast_then_immediate_shutdown_under_load(servers, fault_server,
                                                                          fault_world: FaultWorld) -> None:  # type: ignore[no-untyped-def]
    def restart() -> None:
        db.session.remove()
        servers["postgres"].pg_ctl("restart", "-m", "fast")
        time.sleep(2)
        servers["postgres"].pg_ctl("restart", "-m", "immediate")

    result, watchers = _run(fault_server, fault_world, restart, "PostgreSQL restarted (fast, then immediate)")
    assert_nothing_lost(result)
    assert result.recovery_s < 30, result


def test_hub_listen_backend_terminated_under_load(fault_server, fault_world: FaultWorld) -> None:  # type: ignore[no-untyped-def]
    killed = []

    def terminate() -> None:
        for _ in range(5):
            with db.engine.begin() as conn:
                killed.append(conn.execute(sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = 'messenger-hub'")).scalar_one())
            time.sleep(0.5)

    result, _ = _run(fault_server, fault_world, terminate, "hub LISTEN backend terminated x5")
    assert sum(killed) >= 5
    assert_nothing_lost(result)


def test_a_commit_held_10s_over_100_others_reaches_streams_and_long_poll_in_commit_order(
        fault_server, fault_world: FaultWorld) -> None:  # type: ignore[no-untyped-def]
    """The early transaction inserts first and commits last: nobody skips it (position = commit order)."""
    cookie = cookie_for(fault_server, fault_world)
    watcher = Watcher(fault_server.url, cookie).start()
    poller = Http(fault_server.url)
    start = db.session.execute(sa.text("SELECT coalesce(max(id), 0) FROM events")).scalar_one()
    db.session.rollback()
    engine, conv_id, admin_id = db.engine, fault_world.conversation_ids[0], fault_world.admin.id
    held: list[int] = []
    began = threading.Event()

    def slow_writer() -> None:
        with engine.begin() as conn:
            held.append(conn.execute(sa.text(
                "INSERT INTO messages (conversation_id, type, sender_user_id, content) "
                "VALUES (:c, 'outgoing', :u, 'held 10 s') RETURNING id"), {"c": conv_id, "u": admin_id}).scalar_one())
            began.set()
            conn.execute(sa.text("SELECT pg_sleep(10)"))

    writer = threading.Thread(target=slow_writer)
    writer.start()
    assert began.wait(10)
    load = Load(fault_server.url, fault_world.visitors[1:], interval=0.05).start()
    fault_at = time.monotonic()
    while len(load.acknowledged) < 100:
        time.sleep(0.1)
    load.stop()
    writer.join(20)
    result = verdict("commit held 10 s over 100 others", load, [watcher], fault_at, fault_world.conversation_ids[1:])
    assert_nothing_lost(result, min_acked=100)
    assert watcher.wait_for_messages({held[0]}, 20)
    received = [m for _, m in watcher.received]
    position = {m: p for p, m in watcher.received}
    first_load = min(load.acknowledged.values())
    assert received.count(held[0]) == 1
    # Inserted first (smaller message id), committed 10 s later: its position comes after the others'.
    assert held[0] < first_load and position[held[0]] > position[first_load]
    # The long-poll from the start position gets all 101, the held one last.
    got: list[int] = []
    after = start
    headers = {"Cookie": cookie}
    while len(got) < len(load.acknowledged) + 1:
        status, body = poller.request("GET", f"/api/v1/events?after={after}", headers=headers)
        assert status == 200 and "resync" not in body, body
        got += [e["data"]["id"] for e in body["events"] if e["kind"] == "message.created"]
        after = body["position"]
    assert set(got) == {held[0], *load.acknowledged.values()} and len(got) == len(set(got))
    assert got.index(held[0]) > got.index(first_load)
    watcher.stop()
