"""Event-log pruning runs in the worker (its database loop, at start and hourly) and a client whose
position was pruned gets ``resync`` from both the stream and the long-poll."""
from __future__ import annotations

import subprocess
import sys

import pytest
import sqlalchemy as sa

from messenger.extensions import db
from messenger.processes import stop_tree
from tests.factories import PASSWORD
from tests.faults.conftest import make_world
from tests.helpers import ROOT
from tests.realtime.conftest import send_replies
from tests.realtime.helpers import SSE
from tests.realtime.helpers import Http
from tests.realtime.helpers import wait_until

pytestmark = [pytest.mark.committing, pytest.mark.slow]


def test_the_worker_prunes_old_events_and_an_old_position_gets_resync(app, env_for_servers, fault_server) -> None:  # type: ignore[no-untyped-def]
    world = make_world(visitors=1)
    start = db.session.execute(sa.text("SELECT coalesce(max(id), 0) FROM events")).scalar_one()
    send_replies(world.admin, world.conversation_ids[0], 5)
    db.session.execute(sa.text("UPDATE events SET created_at = now() - interval '9 days' WHERE id > :s"),
                       {"s": start})
    fresh = send_replies(world.admin, world.conversation_ids[0], 1)
    db.session.commit()
    worker = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=dict(env_for_servers),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        def pruned() -> bool:
            db.session.rollback()
            return bool(db.session.scalar(sa.text("SELECT coalesce(max(up_to), 0) FROM events_pruned")) > start)

        assert wait_until(pruned, 60), "the worker did not prune at start (EVENT_RETENTION_HOURS 168)"
    finally:
        stop_tree(worker, grace=20)
    remaining = db.session.scalar(sa.text("SELECT count(*) FROM events WHERE id > :s"), {"s": start})
    assert remaining >= 1  # the fresh reply's events stay
    client = Http(fault_server.url)
    client.login(world.admin.email, PASSWORD)
    status, body = client.request("GET", f"/api/v1/events?after={start}")
    assert status == 200 and body["resync"] is True and body["position"] > start
    stream = SSE(fault_server.url, "/api/v1/stream", {"Cookie": client.cookie_header(), "Last-Event-ID": str(start)})
    try:
        resync = stream.wait_count("resync", 1)[0]
        assert resync.data["position"] == resync.id > start
        assert stream.messages() == []  # nothing partial is replayed
    finally:
        stream.close()
    assert fresh
