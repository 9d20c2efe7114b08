"""Assignment under concurrency: one winner per conversation, capacity never exceeded, FIFO
drains, and a worker killed mid-job. Workers here are the real forking ``worker.py``
processes (fork, engine dispose in the child, scheduler) on the real Redis and PostgreSQL.
"""
from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
import sqlalchemy as sa

from messenger.config import libpq_url
from messenger.errors import Conflict
from messenger.extensions import db
from messenger.jobs import get_queue
from messenger.models import Conversation
from messenger.models import Inbox
from messenger.models import InboxMember
from messenger.models import User
from messenger.processes import kill_tree
from messenger.processes import stop_tree
from messenger.services import assignment
from messenger.services import conversations as conv_service
from messenger.services import visitors as visitor_service
from tests.assignment_helpers import activities
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.helpers import ROOT
from tests.helpers import in_threads

pytestmark = [pytest.mark.committing, pytest.mark.slow]

LOADS_SQL = sa.text("SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM conversations "
                    "WHERE assignee_id IS NOT NULL AND status IN ('open', 'pending') GROUP BY assignee_id) t")


def _operators(inbox_id: int, count: int, *, capacity: int = 10) -> list[int]:
    """Online members, inserted in bulk (no password hashing: they never sign in here)."""
    tag = uuid.uuid4().hex[:8]
    users = [User(name=f"Op {i}", email=f"op{i}-{tag}@example.com", password_hash="!", capacity=capacity,
                  availability="online") for i in range(count)]
    db.session.add_all(users)
    db.session.flush()
    db.session.add_all(InboxMember(inbox_id=inbox_id, user_id=u.id) for u in users)
    db.session.commit()
    return sorted(u.id for u in users)


@contextmanager
def workers(env: dict[str, str], count: int = 1) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``python worker.py assignment`` processes (forking RQ Worker + scheduler), stopped at exit."""
    procs = [_start_worker(env) for _ in range(count)]
    try:
        yield procs
    finally:
        for proc in procs:
            stop_tree(proc)


def _start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "worker.py", "assignment"], cwd=ROOT, env=env, start_new_session=True)


def _wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _queue_idle(dead: frozenset[str] = frozenset()) -> bool:
    """Nothing queued and nothing running (``dead``: jobs a killed worker left in the started registry)."""
    queue = get_queue("assignment")
    return queue.count == 0 and set(queue.started_job_registry.get_job_ids()) <= dead


def _count(*where: sa.ColumnElement[bool]) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Conversation).where(*where)) or 0


def test_fifty_concurrent_claims_on_one_conversation_have_exactly_one_winner(app):
    inbox = make_inbox()
    ops = _operators(inbox.id, 50)
    conversation_id = make_conversation(inbox).id

    def claim(i: int) -> object:
        user = db.session.get(User, ops[i])
        assert user is not None
        return assignment.self_assign(user, conversation_id).assignee_id

    results = in_threads(app, 50, claim)
    winners = [r for r in results if isinstance(r, int)]
    refusals = [r for r in results if isinstance(r, Conflict)]
    assert len(winners) == 1 and len(refusals) == 49, results
    assert {r.code for r in refusals} == {"already_assigned"}
    db.session.expire_all()
    conv = db.session.get(Conversation, conversation_id)
    assert conv is not None and conv.assignee_id == winners[0] and conv.version == 2
    assert len(activities(conversation_id, "assignment")) == 1


def test_two_hundred_concurrent_conversations_never_exceed_capacity_and_drain_in_order(app, env_for_servers):
    inbox = make_inbox(auto_assignment=True)
    ops = _operators(inbox.id, 5, capacity=10)
    peak = [0]
    stop = threading.Event()
    engine = db.engine

    def monitor() -> None:  # samples the loads while everything runs
        with engine.connect() as conn:
            while not stop.is_set():
                peak[0] = max(peak[0], conn.execute(LOADS_SQL).scalar_one())
                conn.rollback()
                time.sleep(0.01)

    watcher = threading.Thread(target=monitor)
    watcher.start()
    try:
        with workers(env_for_servers, count=2):
            def create(i: int) -> object:
                ids = []
                box = db.session.get(Inbox, inbox.id)
                assert box is not None
                for _ in range(10):
                    visitor, _ = visitor_service.start_session(box)
                    ids.append(conv_service.create_conversation(visitor)[0].id)
                return ids

            created = in_threads(app, 20, create)
            assert all(isinstance(r, list) for r in created), created
            queued = (Conversation.inbox_id == inbox.id, Conversation.assignee_id.is_(None),
                      Conversation.status == "pending")
            _wait_for(lambda: _count(Conversation.assignee_id.is_not(None)) == 50 and _count(*queued) == 150
                      and _queue_idle(), 90, "50 assigned and 150 queued")
            assert peak[0] <= 10
            order = list(db.session.scalars(sa.select(Conversation.id).where(*queued)
                                            .order_by(Conversation.waiting_since, Conversation.id)))
            assert [assignment.queue_position(c) for c in order[:3]] == [1, 2, 3]
            assert assignment.queue_position(order[-1]) == 150
            served: list[int] = []
            for _round in range(3):  # every operator resolves everything: the next 50 come in queue order
                holding = db.session.execute(sa.select(Conversation.id, Conversation.assignee_id).where(
                    Conversation.assignee_id.is_not(None), Conversation.status == "open")).all()
                for conversation_id, user_id in holding:
                    user = db.session.get(User, user_id)
                    assert user is not None
                    conv_service.change_status(user, conversation_id, "resolved")
                expected = len(served) + 50
                _wait_for(lambda expected=expected: _count(Conversation.id.in_(order),
                                                            Conversation.assignee_id.is_not(None))
                          == expected and _queue_idle(), 60, f"{expected} drained")
                served = list(db.session.scalars(
                    sa.select(Conversation.id).where(Conversation.id.in_(order), Conversation.assignee_id.is_not(None))
                    .order_by(Conversation.assigned_at, Conversation.id)))
                assert served == order[:expected]
    finally:
        stop.set()
        watcher.join()
    assert peak[0] <= 10
    final = db.session.execute(sa.text(
        "SELECT assignee_id, count(*) FROM conversations WHERE status IN ('open', 'pending') "
        "AND assignee_id IS NOT NULL GROUP BY 1")).all()
    assert {uid for uid, _ in final} == set(ops) and all(n == 10 for _, n in final)


def test_worker_killed_mid_job_and_restarted_assigns_exactly_once(app, env_for_servers, servers):
    inbox = make_inbox(auto_assignment=True)
    _operators(inbox.id, 2)
    # Hold the inbox's queue lock so the job blocks inside its claim transaction.
    blocker = psycopg.connect(libpq_url(str(servers["database_url"])), autocommit=True)
    try:
        blocker.execute("SELECT pg_advisory_lock(%s, %s)", (assignment.LOCK_QUEUE, inbox.id))
        conversation_id = make_conversation(inbox).id
        proc = _start_worker(env_for_servers)
        try:
            def job_blocked() -> bool:
                # The worker's start-up repair may wait on the same lock too: the job is one of the waiters.
                row = blocker.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                                      "AND classid = %s AND objid = %s", (assignment.LOCK_QUEUE, inbox.id)).fetchone()
                return bool(row and row[0] >= 1) and get_queue("assignment").started_job_registry.count == 1

            _wait_for(job_blocked, 30, "the job to block on the queue lock")
        finally:
            kill_tree(proc)
        blocker.execute("SELECT pg_advisory_unlock(%s, %s)", (assignment.LOCK_QUEUE, inbox.id))
    finally:
        blocker.close()
    time.sleep(0.3)
    db.session.expire_all()
    assert db.session.get(Conversation, conversation_id).assignee_id is None  # the killed claim rolled back
    dead = frozenset(get_queue("assignment").started_job_registry.get_job_ids())
    with workers(env_for_servers):
        # The periodic sweep finds the stranded conversation; a duplicate delivery of the job too.
        queue = get_queue("assignment")
        queue.enqueue("messenger.jobs.assignment.sweep_assignments", result_ttl=0)
        queue.enqueue("messenger.jobs.assignment.assign_conversation", conversation_id, result_ttl=0)
        _wait_for(lambda: db.session.get(Conversation, conversation_id, populate_existing=True).assignee_id
                  is not None and _queue_idle(dead), 30, "the assignment after restart")
    assert len(activities(conversation_id, "assignment")) == 1
    conv = db.session.get(Conversation, conversation_id, populate_existing=True)
    assert conv is not None and conv.version == 2  # created, then assigned once
