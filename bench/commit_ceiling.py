"""PostgreSQL's commit ceiling for a visitor message, with and without the event-log triggers.

No web tier: ``--connections`` psycopg connections (one thread each) loop over the write a
visitor's send makes (``INSERT INTO messages …``, ``UPDATE conversations …``, ``COMMIT``)
for ``--seconds``, each on its own conversation, against embedded PostgreSQL under
``instance/bench-commit`` (git-ignored). Modes:

- ``triggers``: as deployed (the event-log triggers fire; the sequencer, as the web
  processes run it, positions the events in its own transactions while the writers run);
- ``no_triggers``: the same writes with ``session_replication_role = replica`` (no
  triggers), the disk's group-commit ceiling.

Prints, as its last line: ``{"name": "commit_ceiling", "triggers_tx_per_s", "triggers_p50_ms",
"triggers_p99_ms", "no_triggers_tx_per_s", …, "events_positioned", "load_avg"}``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.assignment import setup  # noqa: E402


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000, 1) if ordered else 0.0


def conversations(dsn: str, count: int) -> list[int]:
    """``count`` conversations, each with its own contact, in the bench inbox."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        inbox_id = conn.execute("SELECT id FROM inboxes ORDER BY id LIMIT 1").fetchone()[0]  # type: ignore[index]
        ids = []
        for i in range(count):
            contact = conn.execute("INSERT INTO contacts (name) VALUES (%s) RETURNING id",
                                   (f"Bench visitor {i}",)).fetchone()[0]  # type: ignore[index]
            ids.append(conn.execute(
                "INSERT INTO conversations (inbox_id, contact_id, status) VALUES (%s, %s, 'open') RETURNING id",
                (inbox_id, contact)).fetchone()[0])  # type: ignore[index]
        return ids


def writer(dsn: str, conversation_id: int, replica: bool, stop: threading.Event, out: list[float]) -> None:
    import psycopg

    with psycopg.connect(dsn) as conn:
        if replica:
            conn.execute("SET session_replication_role = replica")
            conn.commit()
        n = 0
        while not stop.is_set():
            n += 1
            start = time.perf_counter()
            # inbox_id spelled out: a trigger fills it, and the no-triggers run has none.
            conn.execute("INSERT INTO messages (conversation_id, inbox_id, type, content, client_id) "
                         "SELECT id, inbox_id, 'incoming', %s, gen_random_uuid() FROM conversations WHERE id = %s",
                         (f"bench {n}", conversation_id))
            conn.execute("UPDATE conversations SET unread_count = unread_count + 1 WHERE id = %s",
                         (conversation_id,))
            conn.commit()
            out.append(time.perf_counter() - start)


def run(dsn: str, ids: list[int], seconds: float, replica: bool, app: Any) -> dict[str, float]:
    stop = threading.Event()
    samples: list[list[float]] = [[] for _ in ids]
    threads = [threading.Thread(target=writer, args=(dsn, cid, replica, stop, samples[i]), daemon=True)
               for i, cid in enumerate(ids)]
    sequencer = None if replica else threading.Thread(target=sequence_until, args=(app, stop), daemon=True)
    for t in threads + ([sequencer] if sequencer else []):
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads + ([sequencer] if sequencer else []):
        t.join(30)
    flat = [s for per in samples for s in per]
    return {"tx_per_s": round(len(flat) / seconds, 1), "p50_ms": percentile(flat, 0.5),
            "p99_ms": percentile(flat, 0.99)}


def sequence_until(app: Any, stop: threading.Event) -> None:
    """What a web process's sequencer does under a steady stream of commits: pass after pass."""
    try:
        from messenger.realtime import sequencer
    except ImportError:
        return  # before the sequencer existed: the triggers numbered events at commit
    from messenger.extensions import db

    with app.app_context():
        seq = sequencer.for_engine(db.engine)
        while not stop.is_set():
            if seq.run_once() == 0:
                time.sleep(0.002)
        seq.run_once()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--data-dir", default=str(ROOT / "instance" / "bench-commit"))
    args = parser.parse_args()

    from bench.assignment import prepare
    from messenger.config import libpq_url
    from messenger.devservers import ensure_database
    from messenger.devservers import start_postgres
    from messenger.devservers import start_redis

    base = Path(args.data_dir)
    pg = start_postgres(base / "pg")
    redis = start_redis(base / "redis", persist=False)
    try:
        url = ensure_database(pg.url, "messenger_bench_commit")
        _, app = prepare(url, redis.url, base)
        setup(app)
        dsn = libpq_url(url)
        ids = conversations(dsn, args.connections)
        result: dict[str, Any] = {"name": "commit_ceiling", "connections": args.connections,
                                  "seconds": args.seconds}
        for mode, replica in (("triggers", False), ("no_triggers", True)):
            for key, value in run(dsn, ids, args.seconds, replica, app).items():
                result[f"{mode}_{key}"] = value
        import psycopg

        with psycopg.connect(dsn) as conn:
            result["events_positioned"] = conn.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore
        result["load_avg"] = round(os.getloadavg()[0], 2)
        print(json.dumps(result))
    finally:
        redis.stop()
        pg.stop()


if __name__ == "__main__":
    main()
