"""Reports benchmark: the admin reports page for a 30-day range on the 100,000-conversation dataset.

Uses the same embedded PostgreSQL and dataset as ``bench/panel_queries.py`` (seeded with
``flask messenger seed-bench`` the first time: 100,000 conversations, 1,000,000
messages, spread over the last ~24 days, so a 30-day report covers all of it). The seed
writes rows directly, so the first run also gives every resolved conversation a
``resolved_at`` (its last activity), a third of them a CSAT rating (every seventh with a
comment), and every conversation its first-response columns (derived from its messages
by ``services/reports.RECOMPUTE``); those writes skip the triggers, so the hourly
``report_counts`` are rebuilt after them. Each call is ``GET /admin/reports`` through the real
Flask app in-process as the seeded admin (routing, session, form, services, SQL,
template, SVG), so the times are server time without the network. Shapes: all
conversations, one inbox, one operator, one team, and all in another time zone; the
SQL of one call is EXPLAINed first and its statements' times printed.

Prints, as its last line:
``{"name": "reports", "report_30d_p95_ms": …, "report_30d_median_ms": …, "conversations": …, "messages": …}``
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import date
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from panel_queries import DATA_DIR  # noqa: E402
from panel_queries import bench_app  # noqa: E402
from panel_queries import explain  # noqa: E402
from panel_queries import load_dataset  # noqa: E402
from panel_queries import p95  # noqa: E402

ADMIN = "bench-op1@example.com"


def enrich(app: Any) -> None:
    """Resolution times, CSAT ratings and the first-response columns on the seeded data (once)."""
    import sqlalchemy as sa

    from messenger.db import transaction
    from messenger.extensions import db
    from messenger.services.reports import RECOMPUTE

    with app.app_context(), transaction() as session:
        session.execute(sa.text("SET LOCAL session_replication_role = replica"))  # no events
        if not session.scalar(sa.text("SELECT count(*) FROM csat_responses")):
            session.execute(sa.text("""UPDATE conversations SET resolved_at = greatest(last_activity_at,
                                       created_at + interval '1 minute') WHERE status = 'resolved'"""))
            session.execute(sa.text("""
                INSERT INTO csat_responses (conversation_id, assignee_id, rating, comment, created_at)
                SELECT id, assignee_id, 1 + id % 5, CASE WHEN id % 7 = 0 THEN 'Comment ' || id ELSE '' END,
                       resolved_at + interval '2 minutes'
                FROM conversations WHERE status = 'resolved' AND id % 3 = 0"""))
            session.execute(sa.text("SELECT messenger_report_counts_rebuild()"))  # triggers were off
            print("enriched: resolution times and ratings", flush=True)
        if not session.scalar(sa.text("SELECT count(*) FROM conversations WHERE first_visitor_message_at IS NOT NULL")):
            ids = list(session.scalars(sa.text("SELECT id FROM conversations")))
            session.execute(sa.text(RECOMPUTE), {"ids": ids})
            print("enriched: first visitor message and first response of every conversation", flush=True)
        session.execute(sa.text("ANALYZE conversations"))
        session.execute(sa.text("ANALYZE csat_responses"))
        session.execute(sa.text("ANALYZE report_counts"))
    with app.app_context():  # autovacuum would do it later: the visibility map lets index-only scans skip the heap
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM (ANALYZE) messages"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="samples per report shape")
    parser.add_argument("--data-dir", default=str(DATA_DIR))
    args = parser.parse_args()

    with bench_app(Path(args.data_dir)) as app:
        import sqlalchemy as sa

        from messenger.extensions import db

        data = load_dataset(app)
        enrich(app)
        with app.app_context():
            counts = db.session.execute(sa.text(
                "SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages), "
                "(SELECT count(*) FROM report_counts)")).one()
            operator_id = db.session.scalar(sa.text("SELECT id FROM users WHERE email = 'bench-op2@example.com'"))
            db.session.remove()
        client = app.test_client()
        resp = client.post("/login", data={"email": ADMIN, "password": "bench-password"})
        assert resp.status_code == 302, resp.status_code
        until = date.today()
        since = until - timedelta(days=29)
        base_args = {"since": since.isoformat(), "until": until.isoformat()}
        shapes = [{}, {"inbox": str(data.inbox_ids[0])}, {"operator": str(operator_id)},
                  {"team": str(data.team_id)}, {"tz": "America/New_York"}]

        def call(extra: dict[str, str]) -> float:
            t0 = time.perf_counter()
            r = client.get("/admin/reports", query_string={**base_args, **extra})
            elapsed = time.perf_counter() - t0
            assert r.status_code == 200, (extra, r.status_code, r.get_data(as_text=True)[:300])
            return elapsed

        statements: list[tuple[str, Any]] = []

        def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
            if any(t in statement for t in ("conversations", "csat", "messages", "report_count")):
                statements.append((statement, parameters))

        with app.app_context():
            sa.event.listen(db.engine, "before_cursor_execute", record)
            call({})
            sa.event.remove(db.engine, "before_cursor_execute", record)
            problems, timings = explain(db.engine, statements)
        print(f"report_counts: {counts[2]} rows (hour × keys, five levels)", flush=True)
        print(f"EXPLAIN: {len(statements)} statements of one report", flush=True)
        for ms, short in sorted(timings, reverse=True):
            print(f"  {ms:8.2f} ms  {short[:110]}", flush=True)
        for line in problems:
            print("  ", line, flush=True)
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs",
              flush=True)
        for shape in shapes:
            call(shape)  # warm
        rng = random.Random(11)
        samples: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for shape in rng.sample(shapes, len(shapes)):
                samples.setdefault(",".join(shape) or "all", []).append(call(shape))
        every = [v for values in samples.values() for v in values]
        for name, values in samples.items():
            print(f"{name:9s} n={len(values):3d} median={statistics.median(values) * 1000:7.1f} ms "
                  f"p95={p95(values):7.1f} ms", flush=True)
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        print(json.dumps({"name": "reports", "report_30d_p95_ms": p95(every),
                          "report_30d_median_ms": round(statistics.median(every) * 1000, 1),
                          "conversations": counts[0], "messages": counts[1]}), flush=True)


if __name__ == "__main__":
    main()
