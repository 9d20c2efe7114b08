"""Fan-out benchmark: N SSE subscribers on one inbox, messages published through the real API.

    python bench/fanout.py --clients 1000 [--events 50] [--interval-ms 200] [--workers 1]
    python bench/fanout.py --clients 1000 --url http://127.0.0.1:8000 --email a@b.c --password … --conversation 7

Without ``--url`` it starts everything itself on 127.0.0.1: an embedded PostgreSQL in a
temporary directory, the schema, one operator, inbox and conversation, and gunicorn
``-k gevent`` (``--workers`` processes). Then it opens N operator streams (raw gevent
sockets, no browser), waits until all said ``ready``, measures the workers' RSS, sends
``--events`` messages with ``POST /api/v1/conversations/<id>/messages`` and records, for
every client, when each message's ``message.created`` frame arrived. Everything it
started is stopped at the end. The LAST line printed is one JSON object:

    {"name": "fanout", "clients": N, "events": E, "lost": L, "duplicated": D,
     "p50_ms": …, "p99_ms": …, "rss_kb_per_stream": …}

``lost`` counts (client, message) pairs never received, ``duplicated`` frames received
twice; latency is publish (just before the POST is sent) → frame parsed by the client.
``--restart-db-at K`` restarts the embedded PostgreSQL before message K while every stream
stays open (reliability case 4 in docs/security.md); publishes failing meanwhile are retried with the same client_id.
``rss_kb_per_stream`` is the growth of the workers' RSS from the first 10% of streams to
all of them, divided by the number of streams added (idle streams, before publishing).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import resource
import shutil
import socket as std_socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import gevent
from gevent import socket as gsocket
from gevent.pool import Pool

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench password 1234"


# -- setup -----------------------------------------------------------------------------
def free_port() -> int:
    with std_socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_database(workdir: Path) -> tuple[Any, str]:
    """An embedded PostgreSQL in ``workdir`` with a migrated, seeded database."""
    sys.path.insert(0, str(ROOT))
    from messenger.devservers import ensure_database
    from messenger.devservers import start_postgres

    pg = start_postgres(workdir / "pg")
    return pg, ensure_database(pg.url, "messenger_bench")


def seed(database_url: str, workdir: Path) -> tuple[str, int]:
    """Schema, one operator (email returned), one inbox and one open conversation (id returned)."""
    from flask_migrate import upgrade

    from messenger import create_app
    from messenger.config import settings_from_env
    from messenger.services import conversations
    from messenger.services import inboxes
    from messenger.services import users
    from messenger.services import visitors

    app = create_app(settings_from_env({"DATABASE_URL": database_url, "SECRET_KEY": "bench-secret",
                                        "RATELIMIT_ENABLED": "0", "MESSENGER_INSTANCE": str(workdir / "instance")}))
    with app.app_context():
        upgrade()
        inbox = inboxes.create_inbox(None, name="Bench", auto_assignment=False)
        user = users.create_user(None, name="Bench Operator", email="bench@example.com", password=PASSWORD)
        inboxes.add_member(None, inbox.id, user.id)
        visitor, _ = visitors.start_session(inbox)
        conv, _ = conversations.create_conversation(visitor)
        return user.email, conv.id


def start_gunicorn(database_url: str, workdir: Path, workers: int, clients: int,
                   **extra_env: str) -> tuple[subprocess.Popen[bytes], str]:
    """gunicorn -k gevent with room for ``clients`` streams per worker; ``extra_env`` adds settings."""
    port = free_port()
    # Thousands of streams of one operator from one address: lift the per-client stream caps.
    env = dict(os.environ, DATABASE_URL=database_url, SECRET_KEY="bench-secret", REDIS_URL="",
               STREAMS_PER_OPERATOR="0", STREAMS_PER_IP="0",
               RATELIMIT_ENABLED="0", MESSENGER_INSTANCE=str(workdir / "instance"), LOG_LEVEL="WARNING",
               DB_POOL_SIZE="20", DB_MAX_OVERFLOW="20", **extra_env)
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    proc = subprocess.Popen(
        [gunicorn, "-k", "gevent", "-w", str(workers), "-b", f"127.0.0.1:{port}",
         "--worker-connections", str(clients + 500), "--timeout", "120", "--graceful-timeout", "3",
         "--backlog", "4096", "--log-level", "warning", "wsgi:app"],
        cwd=ROOT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return proc, url
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def _keep_cookies(resp: http.client.HTTPResponse, jar: dict[str, str]) -> str:
    """Remember every cookie the response sets (session, device); return the Cookie header to send."""
    for header in resp.headers.get_all("Set-Cookie") or []:
        name, _, value = header.split(";", 1)[0].partition("=")
        jar[name.strip()] = value
    return "; ".join(f"{name}={value}" for name, value in jar.items())


def login(url: str, email: str, password: str) -> tuple[str, str]:
    """Sign in through the real form; returns (Cookie header, CSRF token)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    jar: dict[str, str] = {}
    conn.request("GET", "/login")
    resp = conn.getresponse()
    page = resp.read().decode()
    cookie = _keep_cookies(resp, jar)
    token = (re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
             or re.search(r'value="([^"]+)"[^>]*name="csrf_token"', page))
    assert token, "no CSRF token on /login"
    body = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": token.group(1)})
    conn.request("POST", "/login", body=body, headers={"Content-Type": "application/x-www-form-urlencoded",
                                                        "Cookie": cookie})
    resp = conn.getresponse()
    resp.read()
    cookie = _keep_cookies(resp, jar)
    conn.request("GET", "/app", headers={"Cookie": cookie})
    resp = conn.getresponse()
    panel = resp.read().decode()
    # Rendering the CSRF token stores its secret in the session: keep the updated cookie.
    cookie = _keep_cookies(resp, jar)
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)"', panel)
    assert meta, f"login failed ({resp.status})"
    return cookie, meta.group(1)


def worker_pids(master: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    except OSError:
        return []


def cpu_s(pids: list[int]) -> tuple[float, float]:
    """(user, system) CPU seconds used so far by ``pids``."""
    user = system = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        user += int(fields[11])
        system += int(fields[12])
    tick = os.sysconf("SC_CLK_TCK")
    return user / tick, system / tick


def rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


# -- clients (gevent sockets in this process; no monkey-patching needed) ---------------
class Client:
    __slots__ = ("ready", "seen_ids", "received", "duplicates", "ended")

    def __init__(self) -> None:
        self.ready = False
        self.seen_ids: set[int] = set()
        self.received: dict[int, float] = {}
        self.duplicates = 0
        self.ended = False


_SEQ = re.compile(rb'"content":"bench (\d+)"')


def run_client(host: str, port: int, cookie: str, client: Client) -> None:
    sock = gsocket.create_connection((host, port), timeout=None)
    try:
        sock.sendall(f"GET /api/v1/stream HTTP/1.0\r\nHost: {host}\r\nCookie: {cookie}\r\n"
                     f"Accept: text/event-stream\r\n\r\n".encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = sock.recv(65536)
            if not data:
                return
            buf += data
        head, buf = buf.split(b"\r\n\r\n", 1)
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            return
        while True:
            *frames, buf = buf.split(b"\n\n")
            now = time.monotonic()
            for frame in frames:
                if b"event: message.created" in frame:
                    event_id = int(frame.split(b"id: ", 1)[1].split(b"\n", 1)[0])
                    if event_id in client.seen_ids:
                        client.duplicates += 1
                        continue
                    client.seen_ids.add(event_id)
                    match = _SEQ.search(frame)
                    if match:
                        client.received.setdefault(int(match.group(1)), now)
                elif b"event: ready" in frame:
                    client.ready = True
            data = sock.recv(65536)
            if not data:
                return
            buf += data
    finally:
        client.ended = True
        sock.close()


def publish(host: str, port: int, cookie: str, csrf: str, conversation_id: int, seq: int,
            client_id: str | None = None) -> int:
    body = json.dumps({"content": f"bench {seq}", "client_id": client_id or str(uuid.uuid4())}).encode()
    sock = gsocket.create_connection((host, port))
    try:
        sock.sendall(f"POST /api/v1/conversations/{conversation_id}/messages HTTP/1.0\r\nHost: {host}\r\n"
                     f"Cookie: {cookie}\r\nX-CSRFToken: {csrf}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        answer = b""
        while True:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        return int(answer.split(b" ", 2)[1])
    finally:
        sock.close()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))
    return ordered[index]


Target = tuple[str, int, str, str, int]  # host, port, session cookie, CSRF token, conversation id


def publish_all(args: argparse.Namespace, pg: Any, target: Target) -> tuple[dict[int, float], list[float], int]:
    """Publish ``args.events`` messages, restarting PostgreSQL at ``--restart-db-at``.

    Returns the send times by sequence number, the POST answer times (ms) and the failure count.
    """
    published: dict[int, float] = {}
    answered: list[float] = []
    failed = 0
    restart: gevent.Greenlet | None = None
    restart_started = restart_finished = 0.0
    total_retries = 0
    for seq in range(args.events):
        if args.restart_db_at is not None and seq == args.restart_db_at and pg is not None:
            # Case 4 of docs/security.md: restart PostgreSQL under the open streams (in a thread: the
            # clients keep reading).
            restart_started = time.monotonic()
            restart = gevent.spawn(gevent.get_hub().threadpool.apply, pg.pg_ctl, ("restart", "-m", "fast"))
            gevent.sleep(0.05)
        published[seq] = time.monotonic()
        status, retries = publish_retrying(target, seq)
        total_retries += retries
        if restart is not None and restart.ready() and not restart_finished:
            restart_finished = time.monotonic()
        if status not in (200, 201):
            failed += 1
        answered.append((time.monotonic() - published[seq]) * 1000)
        gevent.sleep(max(0.0, args.interval_ms / 1000 - (time.monotonic() - published[seq])))
    if restart is not None:
        restart.join()
        print(f"# PostgreSQL restarted (pg_ctl took {restart_finished - restart_started:.1f} s); "
              f"publishes retried: {total_retries}", flush=True)
    return published, answered, failed


def publish_retrying(target: Target, seq: int) -> tuple[int, int]:
    """Publish message ``seq``; while the database restarts the API answers 5xx, and retrying with the
    same client_id is idempotent. Returns (last status, retries)."""
    host, port, cookie, csrf, conversation_id = target
    client_id = str(uuid.uuid4())
    status = publish(host, port, cookie, csrf, conversation_id, seq, client_id)
    retries = 0
    while status not in (200, 201) and retries < 100:
        retries += 1
        gevent.sleep(0.2)
        status = publish(host, port, cookie, csrf, conversation_id, seq, client_id)
    return status, retries


def wait_for_delivery(clients: list[Client], events: int, drain_s: float) -> None:
    """Wait (at most ``drain_s``) until every client has every event or its stream ended."""
    deadline = time.monotonic() + drain_s
    while time.monotonic() < deadline:
        if all(len(c.received) >= events or c.ended for c in clients):
            return
        gevent.sleep(0.1)


def tally(clients: list[Client], published: dict[int, float]) -> tuple[list[float], int, int]:
    """Publish-to-receive latencies (ms), lost deliveries and duplicates over all clients."""
    latencies: list[float] = []
    lost = duplicated = 0
    for c in clients:
        duplicated += c.duplicates
        for seq, sent_at in published.items():
            got = c.received.get(seq)
            if got is None:
                lost += 1
            else:
                latencies.append((got - sent_at) * 1000)
    return latencies, lost, duplicated


def report_spread(clients: list[Client], published: dict[int, float], answered: list[float]) -> None:
    """Print POST answer times, the first client's latency and the first-to-last client spread."""
    firsts = [min(c.received[q] for c in clients if q in c.received) - t for q, t in published.items()
              if any(q in c.received for c in clients)]
    spreads = [max(c.received[q] for c in clients if q in c.received)
               - min(c.received[q] for c in clients if q in c.received)
               for q in published if any(q in c.received for c in clients)]
    print(f"# POST answered: p50 {percentile(answered, 0.5):.1f} ms, p99 {percentile(answered, 0.99):.1f} ms; "
          f"first client: p50 {percentile(firsts, 0.5) * 1000:.1f} ms; first-to-last client spread: "
          f"p50 {percentile(spreads, 0.5) * 1000:.1f} ms, max {max(spreads or [0]) * 1000:.1f} ms", flush=True)


def open_streams(args: argparse.Namespace, server: tuple[str, int, str], clients: list[Client], pool: Pool,
                 pids: list[int]) -> tuple[int, int | None, float | None]:
    """Open every client's stream (a tenth first, to measure the worker RSS baseline).

    Returns how many streams are ready, the baseline RSS (kB) and the RSS added per stream.
    """
    host, port, cookie = server
    opener = Pool(args.connect_concurrency)
    started = time.monotonic()
    first_tenth = max(1, args.clients // 10)

    def open_client(c: Client) -> None:
        pool.spawn(run_client, host, port, cookie, c)
        deadline = time.monotonic() + 60
        while not c.ready and not c.ended and time.monotonic() < deadline:
            gevent.sleep(0.05)

    for c in clients[:first_tenth]:
        opener.spawn(open_client, c)
    opener.join()
    gevent.sleep(1)
    baseline_rss = rss_kb(pids) if pids else None
    for c in clients[first_tenth:]:
        opener.spawn(open_client, c)
    opener.join()
    ready = sum(c.ready for c in clients)
    print(f"# {ready}/{args.clients} streams ready in {time.monotonic() - started:.1f}s", flush=True)
    gevent.sleep(2)
    rss_per_stream = None
    if pids and baseline_rss is not None and args.clients > first_tenth:
        rss_per_stream = round((rss_kb(pids) - baseline_rss) / (args.clients - first_tenth), 1)
    return ready, baseline_rss, rss_per_stream


def raise_open_files(clients: int) -> int:
    """Lift this process's (and so gunicorn's) RLIMIT_NOFILE to the hard limit; fail early if too low.

    Every stream is one socket in the bench and one in a worker, so 10,000 streams need more
    than the usual soft limit of 1,024 (docs/deploy.md: ``ulimit -n`` / ``LimitNOFILE``).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard != resource.RLIM_INFINITY and hard < clients + 200:
        raise SystemExit(f"{clients} streams need ~{clients + 200} open files; the hard limit is {hard} "
                         f"(raise it: ulimit -Hn / LimitNOFILE)")
    return hard


def stop_stack(proc: subprocess.Popen[bytes] | None, pg: Any, workdir: Path) -> None:
    """Stop gunicorn (TERM, then KILL after 15 s), the embedded PostgreSQL, and remove ``workdir``."""
    from messenger.processes import stop_tree

    if proc is not None:
        stop_tree(proc)
    if pg is not None:
        pg.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    raise_open_files(args.clients)
    workdir = Path(tempfile.mkdtemp(prefix="messenger-bench-"))
    pg = proc = None
    try:
        if args.url:
            url, email, conversation_id, password = args.url, args.email, args.conversation, args.password
        else:
            pg, database_url = start_database(workdir)
            email, conversation_id = seed(database_url, workdir)
            password = PASSWORD
            proc, url = start_gunicorn(database_url, workdir, args.workers, args.clients)
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", int(parts.port or 80)
        cookie, csrf = login(url, email, password)
        clients = [Client() for _ in range(args.clients)]
        pool = Pool(args.clients)
        pids = worker_pids(proc.pid) if proc is not None else []
        opening = cpu_s(pids)
        ready, baseline_rss, rss_per_stream = open_streams(args, (host, port, cookie), clients, pool, pids)
        opened = cpu_s(pids)
        print(f"# server CPU per stream opened: {(sum(opened) - sum(opening)) * 1000 / max(1, ready):.1f} ms "
              f"(load average {os.getloadavg()[0]:.1f})", flush=True)
        cpu_before = (cpu_s(pids), cpu_s([os.getpid()]))
        published, answered, failed = publish_all(args, pg, (host, port, cookie, csrf, conversation_id))
        wait_for_delivery(clients, args.events, args.drain_s)
        server_cpu, client_cpu = cpu_s(pids), cpu_s([os.getpid()])
        print(f"# CPU while publishing (user/system): server workers "
              f"{server_cpu[0] - cpu_before[0][0]:.1f}/{server_cpu[1] - cpu_before[0][1]:.1f} s, bench clients "
              f"{client_cpu[0] - cpu_before[1][0]:.1f}/{client_cpu[1] - cpu_before[1][1]:.1f} s", flush=True)
        latencies, lost, duplicated = tally(clients, published)
        pool.kill(block=False)
        report_spread(clients, published, answered)
        if failed:
            print(f"# {failed} publishes did not answer 201", flush=True)
        print(f"# streams ended early: {sum(c.ended for c in clients)}", flush=True)
        print(f"# streams ready: {ready}; workers: {args.workers}; interval: {args.interval_ms} ms; "
              f"rss baseline {baseline_rss} kB", flush=True)
        return {"name": "fanout", "clients": args.clients, "events": args.events, "lost": lost,
                "duplicated": duplicated, "p50_ms": round(percentile(latencies, 0.50), 1),
                "p99_ms": round(percentile(latencies, 0.99), 1), "rss_kb_per_stream": rss_per_stream}
    finally:
        stop_stack(proc, pg, workdir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--interval-ms", type=int, default=200, help="time between two published messages")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn gevent workers (own server only)")
    parser.add_argument("--connect-concurrency", type=int, default=100)
    parser.add_argument("--drain-s", type=float, default=30, help="how long to wait for stragglers")
    parser.add_argument("--restart-db-at", type=int, help="restart the embedded PostgreSQL before message K")
    parser.add_argument("--url", help="target an existing server instead of starting one")
    parser.add_argument("--email")
    parser.add_argument("--password")
    parser.add_argument("--conversation", type=int)
    args = parser.parse_args()
    if args.url and not (args.email and args.password and args.conversation):
        parser.error("--url needs --email, --password and --conversation")
    result = run(args)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
