"""Webhooks through the real ``python worker.py webhooks`` (integration loop + forking RQ worker).

Redis is a private embedded server for this test, stopped in the middle of a burst of
messages and started again empty (as after a crash without persistence): every event is
still delivered, exactly once, because the deliveries live in PostgreSQL.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from messenger.devservers import start_redis
from messenger.extensions import db
from messenger.models import WebhookDelivery
from messenger.processes import stop_tree
from messenger.services import messages as msg_service
from messenger.services import webhooks
from tests.factories import make_inbox
from tests.factories import make_user
from tests.factories import make_visitor
from tests.receivers import WebhookReceiver

pytestmark = [pytest.mark.committing, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent


def _start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "worker.py", "webhooks"], cwd=ROOT, env=env, start_new_session=True,
                            stdout=open(os.environ.get("WORKER_LOG", os.devnull), "ab"), stderr=subprocess.STDOUT)


def _statuses_settle_to(expected: dict[str, int], timeout: float = 10) -> bool:
    """The worker records an attempt just after the receiver answered: wait for the rows."""
    deadline = time.monotonic() + timeout
    while True:
        db.session.rollback()
        statuses = dict(db.session.execute(sa.select(WebhookDelivery.status, sa.func.count())
                                           .group_by(WebhookDelivery.status)).all())
        if statuses == expected or time.monotonic() > deadline:
            return statuses == expected
        time.sleep(0.1)


def test_redis_stopped_during_a_burst_loses_no_delivery(app, env_for_servers, tmp_path):  # type: ignore[no-untyped-def]
    redis = start_redis(tmp_path / "redis", persist=False)
    receiver = WebhookReceiver().start()
    env = dict(env_for_servers, REDIS_URL=redis.url, WEBHOOK_ALLOW_PRIVATE="true", INTEGRATIONS_POLL_S="1",
               WEBHOOK_RETRY_INTERVALS="1,1,1,1,1,1,1")
    worker = _start_worker(env)
    try:
        app.config["WEBHOOK_ALLOW_PRIVATE"] = True
        webhooks.create_webhook(make_user(role="admin"), url=receiver.url, events=["message.created"])
        app.config["WEBHOOK_ALLOW_PRIVATE"] = False
        inbox = make_inbox()
        visitor, _ = make_visitor(inbox)
        sent: list[int] = []

        def burst(n: int) -> None:
            for _ in range(n):
                result = msg_service.send_visitor_message(visitor, None, f"message {len(sent)}", str(uuid.uuid4()))
                sent.append(result.message.id)
                time.sleep(0.01)

        burst(20)
        receiver.wait_for(5, timeout=30)  # the worker is live and delivering
        redis.stop()
        burst(20)  # Redis is down: nothing can be enqueued
        time.sleep(1)
        redis = start_redis(tmp_path / "redis", persist=False)  # back, and empty
        burst(20)
        got = receiver.wait_for(60, timeout=90)
        delivered = sorted(r.json["payload"]["id"] for r in got)
        assert delivered == sorted(sent), f"missing {sorted(set(sent) - set(delivered))}"
        assert len(got) == len(set(r.json["id"] for r in got)) == 60  # exactly once each
        assert _statuses_settle_to({"success": 60})
    finally:
        stop_tree(worker)
        receiver.stop()
        redis.stop()


def test_worker_retries_a_failing_receiver_until_it_answers(app, env_for_servers, tmp_path):  # type: ignore[no-untyped-def]
    redis = start_redis(tmp_path / "redis", persist=False)
    receiver = WebhookReceiver(script=[500, 500, 500]).start()
    env = dict(env_for_servers, REDIS_URL=redis.url, WEBHOOK_ALLOW_PRIVATE="true", INTEGRATIONS_POLL_S="1",
               WEBHOOK_RETRY_INTERVALS="1,1,1,1,1,1,1")
    worker = _start_worker(env)
    try:
        app.config["WEBHOOK_ALLOW_PRIVATE"] = True
        webhooks.create_webhook(make_user(role="admin"), url=receiver.url, events=["message.created"])
        app.config["WEBHOOK_ALLOW_PRIVATE"] = False
        visitor, _ = make_visitor(make_inbox())
        msg_service.send_visitor_message(visitor, None, "retry me", str(uuid.uuid4()))
        got = receiver.wait_for(4, timeout=60)
        assert len(got) == 4 and len({r.json["id"] for r in got}) == 1
        time.sleep(3)  # nothing more arrives once it succeeded
        assert len(receiver.requests) == 4
        assert _statuses_settle_to({"success": 1})
        assert db.session.scalars(sa.select(WebhookDelivery.attempts)).one() == 4
    finally:
        stop_tree(worker)
        receiver.stop()
        redis.stop()
