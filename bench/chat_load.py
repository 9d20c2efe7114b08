"""Chat-shaped load: thousands of visitors chatting with a team of operators, everything live.

    python bench/chat_load.py [--visitors 2000] [--operators 20] [--rate 50] [--seconds 60] [--workers 2]

Starts everything itself on 127.0.0.1 (as ``bench/fanout.py`` does): an embedded PostgreSQL
in a temporary directory, the schema, one inbox with ``--operators`` agents as members and
``--visitors`` visitor sessions each with its own open conversation (seeded in-process,
not timed), and gunicorn ``-k gevent`` with ``--workers`` processes. Then, from raw gevent
sockets in this process:

- every visitor opens its widget SSE stream (``GET /widget/api/v1/stream?ticket=…``) and
  every operator signs in through the real form and opens ``/api/v1/stream``;
- for ``--seconds`` seconds, visitors send ``--rate`` messages per second in total through
  ``POST /widget/api/v1/messages`` (round-robin over the visitors, each with its own
  ``client_id``), at a steady pace;
- operator ``seq % operators`` answers each visitor message when its stream delivers it,
  through ``POST /api/v1/conversations/<id>/messages`` (cookie + ``X-CSRFToken``), so
  the operator API writes as much as the widget API.

Every operator is a member of the inbox, so every visitor message must reach all of the
operator streams once, and every reply the visitor's stream once. The LAST line printed is
one JSON object:

    {"name": "chat_load", "lost": L, "duplicated": D, "p50_ms": …, "p99_ms": …,
     "reply_p99_ms": …, "sent": …, "sent_per_s": …, "replies": …, "failed": …, …}

``p99_ms`` is visitor POST sent → the message parsed on an operator stream, over every
(message, operator stream) pair; ``reply_p99_ms`` is reply POST sent → parsed on the
visitor's stream. ``lost`` counts (message, stream) pairs never delivered within the drain
time, ``duplicated`` frames with an event id a stream had already delivered. ``failed``
counts POSTs that did not answer 201. ``sent_per_s`` is the visitor rate actually achieved:
at most 500 POSTs wait at once and no message starts after 1.5 × ``--seconds``, so a
server that cannot keep up shows as a rate below ``--rate`` rather than a run without end.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
from gevent import socket as gsocket
from gevent.pool import Group
from gevent.pool import Pool

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fanout import cpu_s  # noqa: E402
from bench.fanout import login  # noqa: E402
from bench.fanout import percentile  # noqa: E402
from bench.fanout import raise_open_files  # noqa: E402
from bench.fanout import start_database  # noqa: E402
from bench.fanout import start_gunicorn  # noqa: E402
from bench.fanout import stop_stack  # noqa: E402
from bench.fanout import worker_pids  # noqa: E402

ORIGIN = "http://bench.example"
PASSWORD = "bench password 1234"
MAX_IN_FLIGHT = 500  # visitor POSTs waiting for their answer at once
_CONTENT = re.compile(rb'"content":"(cl|re) (\d+)"')
_CONVERSATION = re.compile(rb'"conversation_id":(\d+)')


class Stream:
    """What one SSE connection delivered: first arrival time of each message by sequence number."""

    __slots__ = ("ready", "ended", "seen_ids", "received", "duplicates")

    def __init__(self) -> None:
        self.ready = False
        self.ended = False
        self.seen_ids: set[int] = set()
        self.received: dict[tuple[bytes, int], float] = {}
        self.duplicates = 0


OnMessage = Callable[[bytes, int, bytes], None]  # (b"cl" | b"re", seq, frame)


def read_stream(host: str, port: int, request: bytes, stream: Stream, on_message: OnMessage | None = None) -> None:
    """Read an SSE response; record each ``message.created`` of this bench by (kind, seq)."""
    sock = gsocket.create_connection((host, port), timeout=None)
    try:
        sock.sendall(request)
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = sock.recv(65536)
            if not data:
                return
            buf += data
        head, buf = buf.split(b"\r\n\r\n", 1)
        if b" 200 " not in head.split(b"\r\n", 1)[0]:
            status_line = head.split(b"\r\n", 1)[0]
            print(f"# stream refused: {status_line!r}", flush=True)
            return
        while True:
            *frames, buf = buf.split(b"\n\n")
            now = time.monotonic()
            for item in frames:
                _on_frame(item, now, stream, on_message)
            data = sock.recv(65536)
            if not data:
                return
            buf += data
    finally:
        stream.ended = True
        sock.close()


def _on_frame(item: bytes, now: float, stream: Stream, on_message: OnMessage | None) -> None:
    if b"event: message.created" in item:
        event_id = int(item.split(b"id: ", 1)[1].split(b"\n", 1)[0])
        if event_id in stream.seen_ids:
            stream.duplicates += 1
            return
        stream.seen_ids.add(event_id)
        match = _CONTENT.search(item)
        if match:
            key = (match.group(1), int(match.group(2)))
            if key not in stream.received:
                stream.received[key] = now
                if on_message is not None:
                    on_message(key[0], key[1], item)
    elif b"event: ready" in item:
        stream.ready = True


def post_json(host: str, port: int, path: str, headers: str, body: dict[str, Any]) -> int:
    """One POST on its own connection (HTTP/1.0); the answer's status."""
    data = json.dumps(body).encode()
    sock = gsocket.create_connection((host, port))
    try:
        sock.sendall(f"POST {path} HTTP/1.0\r\nHost: {host}\r\n{headers}Content-Type: application/json\r\n"
                     f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        answer = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        return int(answer.split(b" ", 2)[1]) if answer else 0
    except OSError:
        return 0
    finally:
        sock.close()


def seed(database_url: str, workdir: Path, visitors: int, operators: int) -> tuple[list[str], list[dict[str, Any]]]:
    """Schema, one inbox, ``operators`` agents (emails returned) and ``visitors`` visitors with a conversation.

    Each visitor is returned as {"token", "ticket", "conversation_id"}; tickets live as long as
    the server's STREAM_TICKET_TTL_S (the bench sets it long enough to open every stream).
    """
    from flask_migrate import upgrade

    from messenger import create_app
    from messenger.config import settings_from_env
    from messenger.db import transaction
    from messenger.security.tokens import sign_stream_ticket
    from messenger.services import conversations
    from messenger.services import inboxes
    from messenger.services import users
    from messenger.services import visitors as visitor_service

    app = create_app(settings_from_env({"DATABASE_URL": database_url, "SECRET_KEY": "bench-secret",
                                        "RATELIMIT_ENABLED": "0", "MESSENGER_INSTANCE": str(workdir / "instance")}))
    with app.app_context():
        upgrade()
        inbox = inboxes.create_inbox(None, name="Chat load", auto_assignment=False, allowed_origins=[ORIGIN])
        emails = []
        for i in range(operators):
            user = users.create_user(None, name=f"Agent {i}", email=f"agent{i}@example.com", password=PASSWORD,
                                     role="agent")
            inboxes.add_member(None, inbox.id, user.id)
            emails.append(user.email)
        people: list[dict[str, Any]] = []
        started = time.monotonic()
        for first in range(0, visitors, 250):
            with transaction():  # one commit per batch: seeding is not what is measured
                for _ in range(first, min(visitors, first + 250)):
                    visitor, token = visitor_service.start_session(inbox)
                    conv, _ = conversations.create_conversation(visitor)
                    people.append({"token": token, "conversation_id": conv.id,
                                   "ticket": sign_stream_ticket("visitor", visitor.session_id, visitor.token_id)})
        print(f"# seeded {visitors} visitors with a conversation in {time.monotonic() - started:.1f}s", flush=True)
        return emails, people


class Load:
    """The run's shared state: send times by seq, POST outcomes, the operators' reply hook."""

    def __init__(self, host: str, port: int, people: list[dict[str, Any]], operators: list[tuple[str, str]]) -> None:
        self.host, self.port = host, port
        self.people = people
        self.operators = operators  # (cookie, csrf) per operator
        self.sent: dict[int, float] = {}
        self.replied: dict[int, float] = {}
        self.failed = 0
        self.pending = Pool(MAX_IN_FLIGHT)
        self.replying = Group()  # never blocks the operator stream that triggers a reply

    def visitor_send(self, seq: int) -> None:
        person = self.people[seq % len(self.people)]
        headers = f"Origin: {ORIGIN}\r\nX-Visitor-Token: {person['token']}\r\n"
        self.sent[seq] = time.monotonic()
        status = post_json(self.host, self.port, "/widget/api/v1/messages", headers,
                           {"content": f"cl {seq}", "client_id": str(uuid.uuid4()),
                            "conversation_id": person["conversation_id"]})
        if status != 201:
            self.failed += 1
            self.sent.pop(seq, None)

    def reply_hook(self, operator_no: int) -> OnMessage:
        """The stream callback of operator ``operator_no``: answer the visitor messages it is due to answer."""
        def on_message(kind: bytes, seq: int, item: bytes) -> None:
            if kind != b"cl" or seq % len(self.operators) != operator_no or seq in self.replied:
                return
            found = _CONVERSATION.search(item)
            if found:
                self.replied[seq] = 0.0
                self.replying.spawn(self.reply, operator_no, int(found.group(1)), seq)
        return on_message

    def reply(self, operator_no: int, conversation_id: int, seq: int) -> None:
        cookie, csrf = self.operators[operator_no]
        self.replied[seq] = time.monotonic()
        status = post_json(self.host, self.port, f"/api/v1/conversations/{conversation_id}/messages",
                           f"Cookie: {cookie}\r\nX-CSRFToken: {csrf}\r\n",
                           {"content": f"re {seq}", "client_id": str(uuid.uuid4())})
        if status != 201:
            self.failed += 1
            self.replied.pop(seq, None)


def open_all(load: Load, pool: Pool, visitor_streams: list[Stream], operator_streams: list[Stream],
             concurrency: int) -> None:
    """Open every operator and visitor stream; wait until each said ``ready`` (or ended)."""
    host = load.host
    for no, ((cookie, _), stream) in enumerate(zip(load.operators, operator_streams, strict=True)):
        request = (f"GET /api/v1/stream HTTP/1.0\r\nHost: {host}\r\nCookie: {cookie}\r\n"
                   f"Accept: text/event-stream\r\n\r\n").encode()
        pool.spawn(read_stream, host, load.port, request, stream, load.reply_hook(no))
    opener = Pool(concurrency)

    def open_visitor(person: dict[str, Any], stream: Stream) -> None:
        request = (f"GET /widget/api/v1/stream?ticket={urllib.parse.quote(person['ticket'])} HTTP/1.0\r\n"
                   f"Host: {host}\r\nOrigin: {ORIGIN}\r\nAccept: text/event-stream\r\n\r\n").encode()
        pool.spawn(read_stream, host, load.port, request, stream)
        deadline = time.monotonic() + 120
        while not stream.ready and not stream.ended and time.monotonic() < deadline:
            gevent.sleep(0.05)

    started = time.monotonic()
    for person, stream in zip(load.people, visitor_streams, strict=True):
        opener.spawn(open_visitor, person, stream)
    opener.join()
    deadline = time.monotonic() + 60
    while not all(s.ready or s.ended for s in operator_streams) and time.monotonic() < deadline:
        gevent.sleep(0.1)
    print(f"# streams ready: {sum(s.ready for s in visitor_streams)}/{len(visitor_streams)} visitors, "
          f"{sum(s.ready for s in operator_streams)}/{len(operator_streams)} operators, "
          f"in {time.monotonic() - started:.1f}s", flush=True)


def drive(load: Load, rate: float, seconds: float) -> float:
    """Visitor messages at a steady ``rate`` per second for ``seconds`` (each POST in its own greenlet).

    Bounded: at most ``MAX_IN_FLIGHT`` POSTs wait at once, and no new message starts after
    1.5 × ``seconds`` (a server that cannot keep up shows as ``sent`` below the target, not
    as a run without end). Returns the seconds it spent sending.
    """
    started = time.monotonic()
    stop = started + seconds * 1.5
    for seq in range(int(rate * seconds)):
        gevent.sleep(max(0.0, started + seq / rate - time.monotonic()))
        if time.monotonic() > stop:
            break
        load.pending.spawn(load.visitor_send, seq)
    spent = time.monotonic() - started
    load.pending.join(timeout=30)
    return spent


def wait_delivered(load: Load, visitor_streams: list[Stream], operator_streams: list[Stream], drain_s: float) -> None:
    deadline = time.monotonic() + drain_s
    while time.monotonic() < deadline:
        load.replying.join(timeout=0.2)
        ops = all(all((b"cl", seq) in s.received for seq in load.sent) for s in operator_streams if not s.ended)
        vis = all((b"re", seq) in visitor_streams[seq % len(visitor_streams)].received
                  for seq, at in load.replied.items() if at)
        if ops and vis:
            return
        gevent.sleep(0.2)


def tally(load: Load, visitor_streams: list[Stream], operator_streams: list[Stream]) -> dict[str, Any]:
    """Latencies and losses over every (message, stream) pair that should have been delivered."""
    latencies: list[float] = []
    reply_latencies: list[float] = []
    lost = 0
    for stream in operator_streams:
        for seq, sent_at in load.sent.items():
            got = stream.received.get((b"cl", seq))
            if got is None:
                lost += 1
            else:
                latencies.append((got - sent_at) * 1000)
    for seq, sent_at in load.replied.items():
        if not sent_at:
            continue  # the reply POST never started (operator stream ended)
        got = visitor_streams[seq % len(visitor_streams)].received.get((b"re", seq))
        if got is None:
            lost += 1
        else:
            reply_latencies.append((got - sent_at) * 1000)
    duplicated = sum(s.duplicates for s in [*visitor_streams, *operator_streams])
    return {"lost": lost, "duplicated": duplicated, "p50_ms": round(percentile(latencies, 0.50), 1),
            "p99_ms": round(percentile(latencies, 0.99), 1),
            "reply_p50_ms": round(percentile(reply_latencies, 0.50), 1),
            "reply_p99_ms": round(percentile(reply_latencies, 0.99), 1)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    raise_open_files(args.visitors + args.operators)
    workdir = Path(tempfile.mkdtemp(prefix="messenger-chat-load-"))
    pg = proc = None
    try:
        pg, database_url = start_database(workdir)
        emails, people = seed(database_url, workdir, args.visitors, args.operators)
        proc, url = start_gunicorn(database_url, workdir, args.workers, args.visitors + args.operators,
                                   STREAM_TICKET_TTL_S="3600", SPAM_MIN_FIRST_MESSAGE_S="0",
                                   SPAM_MAX_OPEN_PER_IP="0")
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", int(parts.port or 80)
        load = Load(host, port, people, [login(url, email, PASSWORD) for email in emails])
        visitor_streams = [Stream() for _ in people]
        operator_streams = [Stream() for _ in emails]
        pool = Pool(len(people) + len(emails))
        open_all(load, pool, visitor_streams, operator_streams, args.connect_concurrency)
        pids = worker_pids(proc.pid)
        cpu_before = (cpu_s(pids), cpu_s([os.getpid()]))
        load_before = os.getloadavg()[0]
        spent = drive(load, args.rate, args.seconds)
        wait_delivered(load, visitor_streams, operator_streams, args.drain_s)
        server_cpu, client_cpu = cpu_s(pids), cpu_s([os.getpid()])
        print(f"# CPU during the run (user/system): server workers "
              f"{server_cpu[0] - cpu_before[0][0]:.1f}/{server_cpu[1] - cpu_before[0][1]:.1f} s, bench clients "
              f"{client_cpu[0] - cpu_before[1][0]:.1f}/{client_cpu[1] - cpu_before[1][1]:.1f} s; load average "
              f"{load_before:.1f} → {os.getloadavg()[0]:.1f}", flush=True)
        result = tally(load, visitor_streams, operator_streams)
        pool.kill(block=False)
        ended = sum(s.ended for s in [*visitor_streams, *operator_streams])
        print(f"# streams ended early: {ended}; POSTs not 201: {load.failed}", flush=True)
        return {"name": "chat_load", **result, "sent": len(load.sent),
                "sent_per_s": round(len(load.sent) / spent, 1),
                "replies": sum(1 for at in load.replied.values() if at), "failed": load.failed,
                "visitors": args.visitors, "operators": args.operators, "rate": args.rate,
                "seconds": args.seconds, "workers": args.workers}
    finally:
        stop_stack(proc, pg, workdir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=2000)
    parser.add_argument("--operators", type=int, default=20)
    parser.add_argument("--rate", type=float, default=50.0, help="visitor messages per second, in total")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn gevent workers")
    parser.add_argument("--connect-concurrency", type=int, default=100)
    parser.add_argument("--drain-s", type=float, default=30, help="how long to wait for stragglers")
    args = parser.parse_args()
    print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()
