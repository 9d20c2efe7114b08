"""Operations: /healthz (liveness), /readyz (readiness), /metrics, JSON logs with a request id reaching jobs."""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from messenger.extensions import db
from messenger.metrics import count_webhook_delivery
from messenger.processes import stop_tree
from tests.factories import make_inbox
from tests.helpers import ROOT
from tests.helpers import LiveServer
from tests.realtime.conftest import World
from tests.realtime.conftest import operator_stream
from tests.realtime.conftest import send_replies
from tests.realtime.helpers import Http
from tests.realtime.helpers import wait_until


@contextmanager
def rq_worker(env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A real ``python worker.py`` with its stderr (JSON logs) in a file."""
    with tempfile.NamedTemporaryFile(prefix="worker-", suffix=".log", delete=False) as log:
        path = Path(log.name)
    with path.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=dict(env, LOG_LEVEL="INFO"),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc, path
    finally:
        stop_tree(proc)
        path.unlink(missing_ok=True)


def _json_lines(path: Path) -> list[dict[str, object]]:
    lines = []
    for raw in path.read_text(errors="replace").splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue
    return lines


def test_healthz_is_liveness_it_answers_200_and_reports(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.get("/healthz")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["redis"] == "ok"
    assert resp.headers["X-Request-ID"]


def test_metrics_token_when_set_is_required(app, client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "s3cret-metrics")
    assert client.get("/metrics").status_code == 401
    resp = client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics"})
    assert resp.status_code == 200 and b"messenger_http_request_duration_seconds" in resp.data


@pytest.mark.committing
def test_readyz_fails_on_a_stalled_hub_a_missing_worker_and_a_full_disk(app, env_for_servers) -> None:  # type: ignore[no-untyped-def]
    server = LiveServer(dict(env_for_servers, READY_MAX_HUB_LAG_S="3", HUB_POLL_S="1", READY_MAX_WORKER_AGE_S="60"))
    try:
        http = Http(server.url)
        status, body = http.request("GET", "/readyz")
        assert status == 503 and body["failing"] == ["worker"], body  # no RQ worker yet
        assert body["database"] == "ok" and body["redis"] == "ok" and body["hub"]["state"] == "listening"
        assert body["disk"]["writable"] is True and body["disk"]["free_bytes"] > 0
        with rq_worker(env_for_servers):
            assert wait_until(lambda: http.request("GET", "/readyz")[0] == 200, 30), http.request("GET", "/readyz")
            # Stall the hub: its log read waits behind a lock for 8 s; liveness stays 200.
            locked, engine = threading.Event(), db.engine

            def hold_lock() -> None:
                with engine.begin() as conn:
                    conn.execute(sa.text("LOCK TABLE events IN ACCESS EXCLUSIVE MODE"))
                    locked.set()
                    time.sleep(8)

            holder = threading.Thread(target=hold_lock)
            holder.start()
            assert locked.wait(10)
            assert wait_until(lambda: "hub" in http.request("GET", "/readyz")[1]["failing"], 7)
            status, body = http.request("GET", "/readyz")
            assert status == 503 and body["hub"]["lag_s"] > 3
            assert http.request("GET", "/healthz")[0] == 200
            holder.join()
            assert wait_until(lambda: http.request("GET", "/readyz")[0] == 200, 10)
    finally:
        server.stop()
    full = LiveServer(dict(env_for_servers, READY_MIN_FREE_BYTES=str(10**18), READY_CHECK_WORKER="false"))
    try:
        status, body = Http(full.url).request("GET", "/readyz")
        assert status == 503 and body["failing"] == ["disk"] and body["worker"] == "not checked"
    finally:
        full.stop()


@pytest.mark.committing
def test_metrics_count_streams_dispatch_latency_queues_and_webhooks(app, fast_server, world: World) -> None:  # type: ignore[no-untyped-def]
    def scrape() -> str:
        status, text = Http(fast_server.url).request("GET", "/metrics")
        assert status == 200
        return str(text)

    def value(text: str, series: str) -> float:
        for line in text.splitlines():
            if line.startswith(series + " "):
                return float(line.split()[-1])
        return 0.0

    before = scrape()
    stream = operator_stream(fast_server, world.agent)
    try:
        stream.wait_count("ready", 1)
        send_replies(world.agent, world.conversation.id, 3)
        stream.wait_count("message.created", 3)
        count_webhook_delivery("delivered")
        count_webhook_delivery("failed")
        text = scrape()
        assert value(text, 'messenger_streams_open{audience="operator"}') >= 1
        dispatched = "messenger_events_dispatched_total"
        assert value(text, dispatched) >= value(before, dispatched) + 3
        assert value(text, "messenger_dispatch_lag_seconds_count") >= 3
        assert 'messenger_http_request_duration_seconds_bucket{le="0.1",method="GET",route="/api/v1/stream"' in text
        assert 'messenger_rq_queue_length{queue="assignment"}' in text
        assert 'messenger_rq_failed_jobs{queue="scanning"}' in text
        assert value(text, 'messenger_webhook_deliveries_total{outcome="delivered"}') >= 1
        assert value(text, 'messenger_webhook_deliveries_total{outcome="failed"}') >= 1
    finally:
        stream.close()
    # The server notices a closed client at its next write (a heartbeat, every second here).
    assert wait_until(lambda: value(scrape(), 'messenger_streams_open{audience="operator"}') == 0, 10)


@pytest.mark.committing
def test_a_request_id_reaches_the_job_it_enqueued_in_json_logs(app, live_server, env_for_servers) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox(auto_assignment=True)
    db.session.commit()
    with rq_worker(env_for_servers) as (_, log):
        http = Http(live_server.url)
        status, session = http.request("POST", "/widget/api/v1/session", {"inbox": inbox.website_token},
                                       headers={"X-Request-ID": "trace-0042"})
        assert status in (200, 201), session
        time.sleep(2.2)  # SPAM_MIN_FIRST_MESSAGE_S: a new chat's first message waits 2 s after the session
        message = {"content": "hello", "client_id": "6f1c2a9e-3b1d-4c55-9a53-0c2b8f1e7d10"}
        status, sent = http.request("POST", "/widget/api/v1/messages", message,
                                    headers={"X-Visitor-Token": session["token"], "X-Request-ID": "trace-0043"})
        assert status == 201, sent

        def job_logged() -> bool:
            return any(line.get("request_id") == "trace-0043" and "assign_conversation" in str(line.get("message"))
                       for line in _json_lines(log))

        assert wait_until(job_logged, 30), log.read_text()[-3000:]
        line = next(x for x in _json_lines(log) if x.get("request_id") == "trace-0043")
        assert {"time", "level", "logger", "message", "request_id"} <= set(line)
