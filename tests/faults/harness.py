"""Fault-injection harness: a steady load of visitors and reconnecting streams, and what each client saw.

- ``Load``: visitor threads, each sending to its own conversation through the widget API
  every ``interval`` seconds with a fresh ``client_id``, retrying a failed send (connection
  error, 5xx, 429) with the SAME ``client_id`` as the widget does, until acknowledged.
- ``Watcher``: an operator SSE stream that reconnects with ``Last-Event-ID`` whenever it
  ends, as EventSource does; it records every ``message.created`` it receives.
- ``verdict``: from the database and the clients: acknowledged, in the database, lost,
  duplicated, streams in order without gaps, and the recovery time (the longest time
  without any acknowledgement after the fault started).
"""
from __future__ import annotations

import http.client
import json
import os
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import sqlalchemy as sa

from messenger.extensions import db
from tests.realtime.helpers import SSE
from tests.realtime.helpers import Http

RETRY_PAUSE_S = 0.2
RESULTS_FILE = os.environ.get("FAULTS_RESULTS", "")


@dataclass
class Visitor:
    token: str
    conversation_id: int
    acked: dict[str, int] = field(default_factory=dict)  # client_id -> message id
    ack_times: list[float] = field(default_factory=list)
    errors: int = 0


class Load:
    """Visitors sending steadily; ``stop()`` waits for every send in flight to be acknowledged."""

    def __init__(self, base: str, visitors: list[Visitor], interval: float = 0.1) -> None:
        self.base = base
        self.visitors = visitors
        self.interval = interval
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(v,), daemon=True) for v in visitors]

    def start(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def _send(self, visitor: Visitor, client_id: str, n: int) -> int | None:
        parsed = urllib.parse.urlsplit(self.base)
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=5)
        try:
            body = json.dumps({"conversation_id": visitor.conversation_id, "content": f"load {n}",
                               "client_id": client_id})
            conn.request("POST", "/widget/api/v1/messages", body, {
                "Content-Type": "application/json", "X-Visitor-Token": visitor.token})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status in (200, 201):
                return int(json.loads(data)["message"]["id"])
            return None
        except (OSError, http.client.HTTPException, ValueError):
            return None
        finally:
            conn.close()

    def _run(self, visitor: Visitor) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            client_id = str(uuid.uuid4())
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # the widget retries with the same client_id
                message_id = self._send(visitor, client_id, n)
                if message_id is not None:
                    visitor.acked[client_id] = message_id
                    visitor.ack_times.append(time.monotonic())
                    break
                visitor.errors += 1
                time.sleep(RETRY_PAUSE_S)
            time.sleep(self.interval)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(150)

    @property
    def acknowledged(self) -> dict[str, int]:
        return {cid: mid for v in self.visitors for cid, mid in v.acked.items()}

    def ack_times(self) -> list[float]:
        return sorted(t for v in self.visitors for t in v.ack_times)


class Watcher:
    """An operator stream that reconnects from its last id whenever it ends (like EventSource)."""

    def __init__(self, base: str, cookie: str, path: str = "/api/v1/stream") -> None:
        self.base, self.cookie, self.path = base, cookie, path
        self.received: list[tuple[int, int]] = []  # (event id, message id) of message.created, in order
        self.reconnects = 0
        self.retry_frames = 0
        self.closed_reasons: list[str] = []
        self.last_id: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._current: SSE | None = None
        self.ready = threading.Event()

    def start(self) -> Watcher:
        self._thread.start()
        assert self.ready.wait(30), "the stream never became ready"
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            headers = {"Cookie": self.cookie}
            if self.last_id is not None:
                headers["Last-Event-ID"] = str(self.last_id)
            try:
                stream = SSE(self.base, self.path, headers, timeout=30)
            except (OSError, http.client.HTTPException):
                time.sleep(0.3)
                continue
            self._current = stream
            seen = 0
            while not self._stop.is_set():
                stream.wait_for(lambda s, k=seen: len(s.events) > k or s.ended, 0.5)
                with stream._cond:
                    fresh = stream.events[seen:]
                seen += len(fresh)
                for event in fresh:
                    self._take(event)
                if stream.ended and seen >= len(stream.events):
                    break
            self.retry_frames += 1 if stream.retry is not None else 0
            stream.close()
            if not self._stop.is_set():
                self.reconnects += 1
                time.sleep(0.3)

    def _take(self, event: Any) -> None:
        if event.event == "ready":
            self.ready.set()
        if event.event == "closed":
            self.closed_reasons.append(event.data.get("reason"))
        if event.id is not None and event.event not in ("ready", "resync"):
            self.last_id = event.id
            if event.event == "message.created":
                self.received.append((event.id, int(event.data["id"])))
        elif event.event == "ready" and event.id is not None and self.last_id is None:
            self.last_id = event.id

    def stop(self) -> None:
        self._stop.set()
        if self._current is not None:
            self._current.close()
        self._thread.join(10)

    def wait_for_messages(self, message_ids: set[int], timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if message_ids <= {m for _, m in self.received}:
                return True
            time.sleep(0.2)
        return False


@dataclass
class Verdict:
    scenario: str
    acknowledged: int
    in_database: int
    lost: int
    duplicated: int
    stream_duplicates: int
    stream_missing: int
    stream_out_of_order: int
    recovery_s: float
    send_errors: int

    def row(self) -> str:
        return (f"| {self.scenario} | {self.acknowledged} | {self.in_database} | {self.lost} | {self.duplicated} | "
                f"{self.recovery_s:.1f} s |")


def verdict(scenario: str, load: Load, watchers: list[Watcher], fault_at: float,
            conversation_ids: list[int]) -> Verdict:
    """Check the database and every stream; record the figures (FAULTS_RESULTS=path appends JSON lines)."""
    acked = load.acknowledged
    db.session.rollback()
    rows = db.session.execute(sa.select(sa.text("id, client_id::text")).select_from(sa.text("messages")).where(
        sa.text("conversation_id = ANY(:c) AND type = 'incoming'"))
        .params(c=conversation_ids)).all()
    by_client: dict[str, list[int]] = {}
    for message_id, client_id in rows:
        by_client.setdefault(client_id, []).append(message_id)
    lost = sum(1 for cid in acked if cid not in by_client)
    duplicated = sum(len(ids) - 1 for ids in by_client.values())
    in_db = sum(1 for cid in acked if cid in by_client)
    expected = {mid for mid in acked.values()}
    for w in watchers:
        w.wait_for_messages(expected, 60)
    dup = missing = disorder = 0
    for w in watchers:
        ids = [m for _, m in w.received if m in expected or m in {i for v in by_client.values() for i in v}]
        dup += len(ids) - len(set(ids))
        missing += len(expected - set(ids))
        positions = [p for p, _ in w.received]
        disorder += sum(1 for a, b in zip(positions, positions[1:], strict=False) if b <= a)
    times = [t for t in load.ack_times() if t >= fault_at]
    gaps = [b - a for a, b in zip([fault_at, *times], times, strict=False)]
    result = Verdict(scenario, len(acked), in_db, lost, duplicated, dup, missing, disorder,
                     max(gaps, default=0.0), sum(v.errors for v in load.visitors))
    record(result.__dict__)
    return result


def record(figures: dict[str, Any]) -> None:
    """Append one scenario's figures to ``$FAULTS_RESULTS`` (JSON lines) when set: the closing table."""
    if RESULTS_FILE:
        with open(RESULTS_FILE, "a") as f:
            f.write(json.dumps(figures) + "\n")


def assert_nothing_lost(v: Verdict, *, min_acked: int = 20) -> None:
    assert v.acknowledged >= min_acked, v
    assert v.lost == 0 and v.in_database == v.acknowledged, v
    assert v.duplicated == 0, v
    assert v.stream_missing == 0 and v.stream_duplicates == 0 and v.stream_out_of_order == 0, v


def operator_cookie(base: str, email: str, password: str) -> str:
    client = Http(base)
    client.login(email, password)
    return client.cookie_header()
