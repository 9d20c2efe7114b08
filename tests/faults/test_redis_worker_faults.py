"""Redis and RQ worker faults: Redis frozen (SIGSTOP) and killed + restarted under load, the worker
SIGKILLed mid-job 30 times, and a drain that meets a locked row. The database is the memory of work
to do: what Redis lost, the worker's database loop finds (at start and every REPAIR_INTERVAL_S)."""
from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from messenger.devservers import EmbeddedRedis
from messenger.devservers import start_redis
from messenger.extensions import db
from messenger.models import Conversation
from messenger.processes import kill_tree
from messenger.services import assignment
from tests.assignment_helpers import activities
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user
from tests.faults.conftest import FAULT_ENV
from tests.faults.conftest import cookie_for
from tests.faults.conftest import make_world
from tests.faults.harness import Load
from tests.faults.harness import Watcher
from tests.faults.harness import assert_nothing_lost
from tests.faults.harness import verdict
from tests.helpers import ROOT
from tests.helpers import LiveServer
from tests.realtime.helpers import Http
from tests.realtime.helpers import wait_until

pytestmark = [pytest.mark.committing, pytest.mark.slow]


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    redis = start_redis(tmp_path / "redis")  # persistent, like make run's
    try:
        yield redis
    finally:
        redis.stop()
        subprocess.run(["pkill", "-CONT", "-f", str(tmp_path / "redis")], capture_output=True)


def _new_conversation(base: str, inbox_token: str) -> int:
    """A visitor arrives and writes: the widget's session + first message (retried like the widget)."""
    http = Http(base)
    status, session = http.request("POST", "/widget/api/v1/session", {"inbox": inbox_token})
    assert status in (200, 201), session
    body = {"content": "hello, anyone?", "client_id": str(uuid.uuid4())}
    for _ in range(20):
        status, sent = http.request("POST", "/widget/api/v1/messages", body,
                                    headers={"X-Visitor-Token": session["token"]})
        if status in (200, 201):
            return int(sent["message"]["conversation_id"])
        time.sleep(0.5)
    raise AssertionError(f"could not send: {status} {sent}")


def _assignee(conversation_id: int) -> Any:
    db.session.rollback()
    return db.session.scalar(sa.select(Conversation.assignee_id).where(Conversation.id == conversation_id))


def test_redis_frozen_then_killed_sending_and_streams_go_on_and_assignment_catches_up(
        app, env_for_servers, own_redis: EmbeddedRedis) -> None:  # type: ignore[no-untyped-def]
    world = make_world(auto_assignment=True)
    operator = make_user(inboxes=[world.inbox], capacity=50)
    db.session.commit()
    env = dict(env_for_servers, **FAULT_ENV, REDIS_URL=own_redis.url, REPAIR_INTERVAL_S="2")
    server = LiveServer(env, workers=1)
    worker = _worker(env)
    try:
        watcher = Watcher(server.url, cookie_for(server, world)).start()
        keep_online = Watcher(server.url, cookie_for(server, type(world)(world.inbox, operator, []))).start()
        load = Load(server.url, world.visitors, interval=0.2).start()
        time.sleep(2)
        fault_at = time.monotonic()
        assert own_redis.process is not None
        own_redis.process.send_signal(signal.SIGSTOP)  # frozen: every Redis call times out
        frozen = _new_conversation(server.url, world.inbox.website_token)
        time.sleep(3)
        own_redis.process.send_signal(signal.SIGCONT)
        time.sleep(2)
        own_redis.process.send_signal(signal.SIGKILL)  # gone: connections refused
        own_redis.process.wait(5)
        lost = _new_conversation(server.url, world.inbox.website_token)
        time.sleep(3)
        restarted = start_redis(Path(own_redis.directory))
        own_redis.process = restarted.process
        back_at = time.monotonic()
        assert wait_until(lambda: _assignee(frozen) == operator.id and _assignee(lost) == operator.id, 60)
        caught_up_s = time.monotonic() - back_at
        time.sleep(1)
        load.stop()
        result = verdict("Redis SIGSTOP 3 s, then SIGKILL + restart", load, [watcher], fault_at,
                         world.conversation_ids)
        watcher.stop()
        keep_online.stop()
    finally:
        kill_tree(worker)
        server.stop()
    assert_nothing_lost(result, min_acked=10)
    assert caught_up_s < 30, caught_up_s
    assert len(activities(frozen, "assignment")) == 1 and len(activities(lost, "assignment")) == 1


def test_the_worker_sigkilled_mid_job_30_times_assigns_each_conversation_exactly_once(
        app, env_for_servers) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox(auto_assignment=True)
    operators = [make_user(inboxes=[inbox], capacity=30) for _ in range(2)]
    db.session.commit()
    env = dict(env_for_servers, REPAIR_INTERVAL_S="2", LOG_LEVEL="WARNING")
    conversation_ids: list[int] = []
    rng = random.Random(16)
    for _ in range(30):
        conversation_ids.append(make_conversation(inbox).id)  # enqueues its assignment job
        db.session.commit()
        worker = _worker(env)
        time.sleep(rng.uniform(0.3, 1.5))  # somewhere in start-up, the loop's repair, or a job
        kill_tree(worker)
    worker = _worker(env)
    try:
        assert wait_until(lambda: all(_assignee(c) is not None for c in conversation_ids), 90)
        time.sleep(3)  # let any duplicate delivery of a killed job run too
    finally:
        kill_tree(worker)
    for conversation_id in conversation_ids:
        assert len(activities(conversation_id, "assignment")) == 1, conversation_id
    loads = [db.session.scalar(sa.select(sa.func.count()).select_from(Conversation).where(
        Conversation.assignee_id == op.id)) for op in operators]
    assert sum(loads) == 30


def test_a_drain_that_meets_a_locked_row_does_not_report_success(app) -> None:  # type: ignore[no-untyped-def]
    """A concurrent message send holds the waiting conversation's row: the drain retries, then raises."""
    inbox = make_inbox(auto_assignment=True)
    operator = make_user(inboxes=[inbox], availability="offline")
    waiting = make_conversation(inbox).id
    db.session.commit()
    assignment.drain(inbox.id)
    assert _assignee(waiting) is None  # nobody free: queued
    db.session.execute(sa.text("UPDATE users SET availability = 'online' WHERE id = :u"), {"u": operator.id})
    db.session.commit()
    engine = db.engine
    locked, release = threading.Event(), threading.Event()

    def sender() -> None:  # like a message send: the conversation row locked for a moment
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT 1 FROM conversations WHERE id = :c FOR UPDATE"), {"c": waiting})
            locked.set()
            release.wait(10)

    holder = threading.Thread(target=sender)
    holder.start()
    assert locked.wait(5)
    try:
        with pytest.raises(assignment.DrainIncomplete):
            assignment.drain(inbox.id)
        result = assignment.sweep()
        assert result["incomplete"] == 1 and _assignee(waiting) is None
    finally:
        release.set()
        holder.join()
    assert assignment.drain(inbox.id) == [waiting]
    assert _assignee(waiting) == operator.id
