"""Webhook delivery: commit of a message → signed POST received by a local receiver.

Everything is real and local: embedded PostgreSQL and Redis under ``instance/bench-webhooks``
(git-ignored), ONE ``python worker.py webhooks`` process (integration loop + forking RQ
worker), a threaded HTTP receiver on 127.0.0.1 that verifies each signature. The bench
commits ``--messages`` visitor messages (``--rate`` per second) through the message service
and records, per event, the time from the commit to the receiver's arrival.

Prints, as its last line: ``{"name": "webhooks", "p50_ms", "p95_ms", "max_ms", "per_s", "lost", "duplicates",
"bad_signatures", …}``
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[max(0, int(len(ordered) * q + 0.5) - 1)] * 1000, 1)


def receiver(secret_box: dict[str, str], arrivals: dict[int, list[float]], bad: list[int]) -> ThreadingHTTPServer:
    from messenger.services.webhooks import verify_signature

    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            now = time.monotonic()
            message_id = json.loads(body)["payload"]["id"]
            with lock:
                arrivals.setdefault(message_id, []).append(now)
                if not verify_signature(secret_box["secret"], body, self.headers.get("X-Messenger-Signature", "")):
                    bad.append(message_id)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rate", type=float, default=50.0, help="messages committed per second")
    parser.add_argument("--data-dir", default=str(ROOT / "instance" / "bench-webhooks"))
    args = parser.parse_args()

    from flask_migrate import upgrade

    from messenger import create_app
    from messenger.config import settings_from_env
    from messenger.devservers import ensure_database
    from messenger.devservers import start_postgres
    from messenger.devservers import start_redis
    from messenger.extensions import db
    from messenger.processes import stop_tree
    from messenger.services import inboxes
    from messenger.services import messages as msg_service
    from messenger.services import users
    from messenger.services import visitors
    from messenger.services import webhooks

    base = Path(args.data_dir)
    pg = start_postgres(base / "pg")
    redis = start_redis(base / "redis", persist=False)
    worker: subprocess.Popen[bytes] | None = None
    arrivals: dict[int, list[float]] = {}
    bad: list[int] = []
    box: dict[str, str] = {}
    server = receiver(box, arrivals, bad)
    try:
        url = ensure_database(pg.url, "messenger_bench_webhooks")
        env = dict(os.environ, DATABASE_URL=url, REDIS_URL=redis.url, SECRET_KEY="bench-secret",
                   MESSENGER_INSTANCE=str(base / "instance"), LOG_LEVEL="WARNING", WEBHOOK_ALLOW_PRIVATE="true",
                   INTEGRATIONS_POLL_S="1")
        app = create_app(settings_from_env(env))
        with app.app_context():
            upgrade()
            app.extensions["redis"].flushdb()
            db.session.execute(db.text("UPDATE webhooks SET active = false"))
            db.session.commit()
            admin = users.create_user(None, name="Bench", email=f"bench-{uuid.uuid4().hex[:8]}@example.com",
                                      password="bench-password-123", role="admin", capacity=10)
            _, box["secret"] = webhooks.create_webhook(admin, url=f"http://127.0.0.1:{server.server_address[1]}/h",
                                                       events=["message.created"])
            inbox = inboxes.create_inbox(None, name="Bench", allowed_origins=["http://bench.example"],
                                         auto_assignment=False)
            visitor, _ = visitors.start_session(inbox, ip="127.0.0.1", user_agent="bench")
            worker = subprocess.Popen([sys.executable, "worker.py", "webhooks"], cwd=ROOT, env=env,
                                      start_new_session=True)
            time.sleep(3)  # the worker and its loop are listening
            sent: dict[int, float] = {}
            started = time.monotonic()
            for i in range(args.messages):
                result = msg_service.send_visitor_message(visitor, None, f"bench {i}", str(uuid.uuid4()))
                sent[result.message.id] = time.monotonic()
                pause = started + (i + 1) / args.rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            deadline = time.monotonic() + 60
            while len(arrivals) < len(sent) and time.monotonic() < deadline:
                time.sleep(0.05)
            finished = max((t[0] for t in arrivals.values()), default=time.monotonic())
        latencies = [arrivals[m][0] - t for m, t in sent.items() if m in arrivals]
        result_json = {
            "name": "webhooks", "messages": len(sent), "rate_per_s": args.rate,
            "p50_ms": percentile(latencies, 0.5) if latencies else None,
            "p95_ms": percentile(latencies, 0.95) if latencies else None,
            "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
            "per_s": round(len(latencies) / max(finished - started, 1e-6), 1),
            "lost": len(set(sent) - set(arrivals)),
            "duplicates": sum(len(v) - 1 for v in arrivals.values()),
            "bad_signatures": len(bad),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }
        print(json.dumps(result_json))
    finally:
        if worker is not None:
            stop_tree(worker)
        server.shutdown()
        redis.stop()
        pg.stop()


if __name__ == "__main__":
    main()
