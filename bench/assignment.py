"""Assignment latency: a conversation created through the widget API → the assignment event on a stream.

Everything is real and local: embedded PostgreSQL and Redis under ``instance/bench-assignment``
(git-ignored), one gunicorn + gevent web process (``wsgi:app``), ONE ``worker.py``
process (forking RQ worker with the scheduler). An admin holds an operator SSE stream
(``/api/v1/stream``). Each sample starts a fresh visitor session (not timed), then times
``POST /widget/api/v1/messages`` (which creates the conversation) until the stream
delivers that conversation's ``conversation.updated`` with ``assignee_id`` in ``changed``.
Samples run one after another, so each is the end-to-end latency of one assignment.

Prints, as its last line: ``{"name": "assignment", "p95_ms": …}``
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ORIGIN = "http://bench.example"
PASSWORD = "bench-password-123"


def p95(samples: list[float]) -> float:
    """95th percentile in milliseconds, one decimal."""
    ordered = sorted(samples)
    return round(ordered[max(0, int(len(ordered) * 0.95 + 0.5) - 1)] * 1000, 1)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Http:
    """A tiny cookie-keeping JSON client over one keep-alive connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                content_type: str = "application/json") -> tuple[int, bytes]:
        """Send ``body`` (JSON-encoded unless already bytes); keep the cookies the server sets."""
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        sent = {"Content-Type": content_type, **(headers or {})}
        if self.cookies:
            sent["Cookie"] = self.cookie_header()
        try:
            self.conn.request(method, path, body=data, headers=sent)
            resp = self.conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closed the idle keep-alive connection (gunicorn's keepalive is 2 s; a
            # sample can wait longer on a loaded machine) before reading this request: resend it.
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.conn.request(method, path, body=data, headers=sent)
            resp = self.conn.getresponse()
        payload = resp.read()
        for header in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return resp.status, payload


class StreamReader(threading.Thread):
    """Reads an operator SSE stream; records when each conversation's assignment event arrives."""

    def __init__(self, port: int, cookie: str) -> None:
        super().__init__(daemon=True)
        self.port, self.cookie = port, cookie
        self.assigned: dict[int, float] = {}
        self.ready = threading.Event()
        self.cond = threading.Condition()

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        conn.request("GET", "/api/v1/stream", headers={"Cookie": self.cookie, "Accept": "text/event-stream"})
        resp = conn.getresponse()
        if resp.status != 200:
            raise SystemExit(f"stream answered {resp.status}")
        kind = ""
        while True:
            raw = resp.fp.readline()
            if not raw:
                return
            line = raw.decode().rstrip("\n")
            if line.startswith("event:"):
                kind = line[6:].strip()
                if kind == "ready":
                    self.ready.set()
            elif line.startswith("data:"):
                self.on_event(kind, line[5:])
            elif not line:
                kind = ""

    def on_event(self, kind: str, data: str) -> None:
        """One event from the stream: note when a conversation got its assignee."""
        if kind != "conversation.updated":
            return
        event = json.loads(data)
        if event.get("assignee_id") and "assignee_id" in (event.get("changed") or []):
            with self.cond:
                self.assigned.setdefault(int(event["id"]), time.perf_counter())
                self.cond.notify_all()

    def wait_for(self, conversation_id: int, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        with self.cond:
            while conversation_id not in self.assigned:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SystemExit(f"conversation {conversation_id} was not assigned within {timeout}s")
                self.cond.wait(left)
            return self.assigned[conversation_id]


def setup(app: Any) -> tuple[str, str]:
    """Fresh data: an auto-assigning inbox, five online operators with room, an admin; returns (token, email)."""
    import sqlalchemy as sa

    from messenger.extensions import db
    from messenger.models import User
    from messenger.services import inboxes as inbox_service
    from messenger.services import users as user_service

    with app.app_context():
        db.session.execute(sa.text(
            "TRUNCATE events, messages, conversations, contact_sessions, contacts, inbox_members, "
            "team_members, inboxes, audit_log, users CASCADE"))
        db.session.commit()
        inbox = inbox_service.create_inbox(None, name="Bench inbox", allowed_origins=[ORIGIN],
                                           auto_assignment=True, assignment_policy="round_robin")
        admin = user_service.create_user(None, name="Bench admin", email="bench-admin@example.com",
                                         password=PASSWORD, role="admin")
        for i in range(5):
            op = user_service.create_user(None, name=f"Bench op {i}", email=f"bench-op{i}@example.com",
                                          password=PASSWORD, role="agent", capacity=1000)
            inbox_service.add_member(None, inbox.id, op.id)
        db.session.execute(sa.update(User).values(availability="online"))
        db.session.commit()
        token, email = inbox.website_token, admin.email
        db.session.remove()
    return token, email


def prepare(database_url: str, redis_url: str, base: Path) -> tuple[dict[str, str], Any]:
    """The bench environment (rate limits and spam checks off: many visitors from one address), a migrated app."""
    from flask_migrate import upgrade

    from messenger import create_app
    from messenger.config import settings_from_env

    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, SECRET_KEY="bench-secret",
               MESSENGER_INSTANCE=str(base / "instance"), RATELIMIT_ENABLED="0", LOG_LEVEL="WARNING",
               SPAM_MIN_FIRST_MESSAGE_S="0", SPAM_MAX_OPEN_PER_IP="0")
    app = create_app(settings_from_env(env))
    with app.app_context():
        upgrade()
    app.extensions["redis"].flushdb()
    return env, app


def start_web(env: dict[str, str], workers: int) -> tuple[int, subprocess.Popen[bytes]]:
    """gunicorn + gevent (``wsgi:app``, the repository's gunicorn.conf.py) on a free port, once it answers."""
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "-k", "gevent",
         "-w", str(workers), "--worker-connections", "2000", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
         "wsgi:app"], cwd=ROOT, env=dict(env, BASE_URL=f"http://127.0.0.1:{port}"), start_new_session=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            if Http(port).request("GET", "/healthz")[0] in (200, 503):
                return port, proc
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("gunicorn did not start") from None
            time.sleep(0.2)


@contextmanager
def bench_stack(data_dir: str, database: str, workers: int) -> Iterator[tuple[Any, int, str, str]]:
    """Embedded PostgreSQL and Redis, fresh bench data, gunicorn with ``workers`` and one assignment worker.

    Yields (app, port, inbox website token, admin e-mail); everything is stopped on exit.
    """
    from messenger.devservers import ensure_database
    from messenger.devservers import start_postgres
    from messenger.devservers import start_redis

    base = Path(data_dir)
    pg = start_postgres(base / "pg")
    redis = start_redis(base / "redis", persist=False)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        env, app = prepare(ensure_database(pg.url, database), redis.url, base)
        inbox_token, admin_email = setup(app)
        port, web = start_web(env, workers)
        procs.append(web)
        procs.append(subprocess.Popen([sys.executable, "worker.py", "assignment"], cwd=ROOT, env=env,
                                      start_new_session=True))
        yield app, port, inbox_token, admin_email
    finally:
        stop_all(procs)
        redis.stop()
        pg.stop()


def login(http_client: Http, email: str) -> None:
    status, page = http_client.request("GET", "/login")
    match = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page)
    if status != 200 or match is None:
        raise SystemExit(f"login page: {status}")
    form = urllib.parse.urlencode({"email": email, "password": PASSWORD, "csrf_token": match.group(1).decode()})
    status, _ = http_client.request("POST", "/login", form.encode(), content_type="application/x-www-form-urlencoded")
    if status != 302:
        raise SystemExit(f"login failed: {status}")


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    """Stop every process group (TERM, then KILL after 15 s), with everything each one started."""
    from messenger.processes import stop_tree

    for proc in procs:
        stop_tree(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--data-dir", default=str(ROOT / "instance" / "bench-assignment"))
    args = parser.parse_args()

    with bench_stack(args.data_dir, "messenger_bench_assignment", 1) as (_, port, inbox_token, admin_email):
        operator = Http(port)
        login(operator, admin_email)
        reader = StreamReader(port, operator.cookie_header())
        reader.start()
        if not reader.ready.wait(15):
            raise SystemExit("the operator stream did not become ready")

        visitor = Http(port)
        headers = {"Origin": ORIGIN}
        latencies: list[float] = []
        requests: list[float] = []
        for i in range(args.warmup + args.samples):
            status, body = visitor.request("POST", "/widget/api/v1/session", {"inbox": inbox_token}, headers)
            if status not in (200, 201):
                raise SystemExit(f"session: {status} {body[:200]!r}")
            token = json.loads(body)["token"]
            t0 = time.perf_counter()
            status, body = visitor.request("POST", "/widget/api/v1/messages",
                                           {"content": f"Hello #{i}", "client_id": str(uuid.uuid4())},
                                           dict(headers, **{"X-Visitor-Token": token}))
            if status != 201:
                raise SystemExit(f"message: {status} {body[:200]!r}")
            posted = time.perf_counter()
            conversation_id = int(json.loads(body)["conversation"]["id"])
            t1 = reader.wait_for(conversation_id, 30)
            if i >= args.warmup:
                latencies.append(t1 - t0)
                requests.append(posted - t0)
        ordered = sorted(latencies)
        print(f"of which the widget POST: p50={sorted(requests)[len(requests) // 2] * 1000:.1f}ms "
              f"p95={p95(requests):.1f}ms", flush=True)
        print(f"samples={len(ordered)} p50={ordered[len(ordered) // 2] * 1000:.1f}ms "
              f"p95={p95(ordered):.1f}ms max={ordered[-1] * 1000:.1f}ms (widget POST → assignment event on the "
              "operator stream, one RQ worker)", flush=True)
        print(json.dumps({"name": "assignment", "p95_ms": p95(ordered)}))


if __name__ == "__main__":
    main()
