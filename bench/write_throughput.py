"""Write throughput: visitor messages (widget API) and operator replies (operator API) driven by ``wrk``.

Everything is real and local: embedded PostgreSQL and Redis under ``instance/bench-write``
(git-ignored), gunicorn + gevent with ``--workers`` processes (``wsgi:app``) and one
assignment worker (five online operators pick the chats up), rate limits off. 64 visitors
each hold a conversation; ``wrk`` (Debian package, installed by ``scripts/system-deps.sh``)
runs 64 connections with a Lua script that sends every request with its own ``client_id``,
round-robin over the 64 conversations. An admin's SSE stream counts ``message.created``
events. Checked afterwards: no duplicate ``client_id``, every acknowledged (201) message
is in the database and arrived on the operator stream exactly once. Then the same for
operator replies.

Prints, as its last line: ``{"name": "write_throughput", "messages_per_s", "p99_ms",
"replies_per_s", "replies_p99_ms", "lost", "duplicated", ...}``
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.assignment import ORIGIN  # noqa: E402
from bench.assignment import Http  # noqa: E402
from bench.assignment import StreamReader  # noqa: E402
from bench.assignment import bench_stack  # noqa: E402
from bench.assignment import login  # noqa: E402

LUA = r"""
-- One request per call: the next conversation, a fresh client_id (thread, run salt and counter in the UUID).
local targets = {}
local path, extra_header, cookie, thread_no, counter = "", "", "", 0, 0
ok, other, last_failure = 0, 0, ""  -- globals: done() reads them per thread
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_no", #threads)
end

function init(args)
  thread_no = wrk.thread:get("thread_no") or 0
  path, extra_header, cookie = args[1], args[2], args[3]
  for i = 4, #args do targets[#targets + 1] = args[i] end
  counter = 0
end

function request()
  counter = counter + 1
  local target = targets[(counter % #targets) + 1]
  local cid = string.format("%08x-%04x-4SALT-%012x", thread_no, math.random(0, 65535), counter)
  local headers = {["Content-Type"] = "application/json", ["Origin"] = "ORIGIN"}
  local sep = string.find(target, "|", 1, true)
  local conv, secret = string.sub(target, 1, sep - 1), string.sub(target, sep + 1)
  headers[extra_header] = secret
  if cookie ~= "-" then headers["Cookie"] = cookie end
  local url, body = path, '{"content":"bench message ' .. counter .. '","client_id":"' .. cid .. '"'
  if string.find(path, "{id}", 1, true) then
    url = string.gsub(path, "{id}", conv)
  else
    body = body .. ',"conversation_id":' .. conv
  end
  return wrk.format("POST", url, headers, body .. "}")
end

function response(status, headers, body)
  if status == 201 then ok = ok + 1 else other = other + 1; last_failure = status .. " " .. string.sub(body, 1, 200) end
end

function done(summary, latency, requests)
  local acknowledged, failed = 0, 0
  for _, t in ipairs(threads) do
    acknowledged = acknowledged + t:get("ok")
    failed = failed + t:get("other")
    if t:get("last_failure") ~= "" then io.write("FAILURE " .. t:get("last_failure") .. "\n") end
  end
  io.write(string.format('WRK {"requests":%d,"acknowledged":%d,"failed":%d,"seconds":%.3f,' ..
    '"p50_ms":%.1f,"p99_ms":%.1f,"errors":%d}\n', summary.requests, acknowledged, failed,
    summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


class EventCounter(StreamReader):
    """An operator SSE stream; counts each ``message.created`` message id it delivers."""

    def __init__(self, port: int, cookie: str) -> None:
        super().__init__(port, cookie)
        self.seen: Counter[int] = Counter()

    def on_event(self, kind: str, data: str) -> None:
        if kind == "message.created":
            self.seen[int(json.loads(data)["id"])] += 1


def run_wrk(port: int, path: str, header: str, cookie: str, targets: list[str],
            args: argparse.Namespace) -> dict[str, Any]:
    """Run wrk with the Lua script; return its summary line (requests, acknowledged, p99_ms...)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        salt = uuid.uuid4().hex  # a run's client_ids never repeat another run's (wrk's RNG is not seeded)
        script.write(LUA.replace('"ORIGIN"', json.dumps(ORIGIN)).replace("4SALT", f"4{salt[:3]}-8{salt[3:6]}"))
    cmd = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{args.seconds}s", "--timeout", "10s",
           "-s", script.name, f"http://127.0.0.1:{port}", "--", path, header, cookie, *targets]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True)
    finally:
        os.unlink(script.name)
    print(*[x for x in done.stdout.splitlines() if x.startswith("FAILURE ")], sep="\n", flush=True)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK ")), None)
    if done.returncode or line is None:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr[-2000:]} {done.stdout[-2000:]}")
    return dict(json.loads(line[4:]))


def stored_since(app: Any, first_id: int, kind: str) -> tuple[set[int], int]:
    """Message ids of ``kind`` stored after ``first_id``, and how many client_ids repeat among them."""
    import sqlalchemy as sa

    from messenger.extensions import db

    with app.app_context():
        rows = db.session.execute(sa.text(
            "SELECT id, client_id FROM messages WHERE id > :f AND type = :k"), {"f": first_id, "k": kind}).all()
        db.session.remove()
    ids = {int(r.id) for r in rows}
    return ids, len(rows) - len({r.client_id for r in rows})


def last_message_id(app: Any) -> int:
    import sqlalchemy as sa

    from messenger.extensions import db

    with app.app_context():
        value = db.session.scalar(sa.text("SELECT coalesce(max(id), 0) FROM messages"))
        db.session.remove()
    return int(value or 0)


def check(app: Any, stream: EventCounter, first_id: int, kind: str, result: dict[str, Any]) -> dict[str, Any]:
    """Compare what wrk saw acknowledged with the database and the operator stream."""
    ids, dup_client_ids = stored_since(app, first_id, kind)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not all(stream.seen[i] for i in ids):
        time.sleep(0.2)
    missing_db = max(0, result["acknowledged"] - len(ids))
    lost_stream = sum(1 for i in ids if not stream.seen[i])
    dup_stream = sum(1 for i in ids if stream.seen[i] > 1)
    return {"per_s": round(result["acknowledged"] / result["seconds"], 1), "p50_ms": result["p50_ms"],
            "p99_ms": result["p99_ms"], "acknowledged": result["acknowledged"], "failed": result["failed"],
            "errors": result["errors"], "lost": missing_db + lost_stream, "duplicated": dup_client_ids + dup_stream}


def conversations(port: int, inbox_token: str, count: int) -> list[tuple[int, str]]:
    """``count`` visitors, each with a conversation started by a first message: (conversation id, token)."""
    result = []
    visitor = Http(port)
    for i in range(count):
        status, body = visitor.request("POST", "/widget/api/v1/session", {"inbox": inbox_token}, {"Origin": ORIGIN})
        token = json.loads(body)["token"]
        status, body = visitor.request("POST", "/widget/api/v1/messages",
                                       {"content": f"hello {i}", "client_id": str(uuid.uuid4())},
                                       {"Origin": ORIGIN, "X-Visitor-Token": token})
        if status != 201:
            raise SystemExit(f"first message: {status} {body[:200]!r}")
        result.append((int(json.loads(body)["conversation"]["id"]), token))
    return result


def csrf_token(operator: Http) -> str:
    _, page = operator.request("GET", "/app")
    match = re.search(rb'<meta name="csrf-token" content="([^"]+)"', page) or re.search(
        rb'name="csrf_token" type="hidden" value="([^"]+)"', page)
    if match is None:
        raise SystemExit("no CSRF token on /app")
    return match.group(1).decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--conversations", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--data-dir", default=str(ROOT / "instance" / "bench-write"))
    args = parser.parse_args()

    with bench_stack(args.data_dir, "messenger_bench_write", args.workers) as (app, port, inbox_token, admin_email):
        operator = Http(port)
        login(operator, admin_email)
        stream = EventCounter(port, operator.cookie_header())
        stream.start()
        if not stream.ready.wait(15):
            raise SystemExit("the operator stream did not become ready")
        convs = conversations(port, inbox_token, args.conversations)

        first = last_message_id(app)
        sent = run_wrk(port, "/widget/api/v1/messages", "X-Visitor-Token", "-", [f"{c}|{t}" for c, t in convs], args)
        visitor = check(app, stream, first, "incoming", sent)
        print("visitor messages:", json.dumps(visitor), flush=True)

        first = last_message_id(app)
        fresh = Http(port)  # the first connection sat idle past the keep-alive timeout
        fresh.cookies = dict(operator.cookies)
        token = csrf_token(fresh)  # the page also puts the CSRF secret in the session cookie
        replies = run_wrk(port, "/api/v1/conversations/{id}/messages", "X-CSRFToken", fresh.cookie_header(),
                          [f"{c}|{token}" for c, _ in convs], args)
        reply = check(app, stream, first, "outgoing", replies)
        print("operator replies:", json.dumps(reply), flush=True)
        print(json.dumps({"name": "write_throughput", "messages_per_s": visitor["per_s"], "p99_ms": visitor["p99_ms"],
                          "p50_ms": visitor["p50_ms"], "replies_per_s": reply["per_s"],
                          "replies_p99_ms": reply["p99_ms"], "lost": visitor["lost"] + reply["lost"],
                          "duplicated": visitor["duplicated"] + reply["duplicated"],
                          "failed": visitor["failed"] + reply["failed"], "workers": args.workers,
                          "connections": args.connections, "conversations": args.conversations}))


if __name__ == "__main__":
    main()
