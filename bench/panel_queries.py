"""Operator panel query benchmark: list, filtered list, search and open on 100k/1M data.

Runs on its own embedded PostgreSQL in ``instance/bench/pg`` (git-ignored) and builds the
dataset with ``flask messenger seed-bench`` the first time (100,000 conversations,
1,000,000 messages); later runs reuse it. Each API call goes through the real Flask
app in-process (routing, session, services, SQL, JSON), so the times are server time
without the network. Before measuring, every statement of every panel call the bench
makes is EXPLAINed: a sequential scan of conversations, messages, contacts or
conversation labels makes the run fail (exit status 1; ``BENCH_PLANS=file`` writes those
statements and plans to ``file``).

"list" is a first page (every tab × sort, Waiting included) or a keyset page up to 30 pages deep; "filtered"
adds status / inbox / team / label / priority filters and the tab counts; "search" is an admin and an agent
of half the inboxes, each with common and rare English and Russian words and contacts'
emails, phones and names (``search_p95_ms_by`` per group); "open" is what opening a card from the list costs (the
last 50 messages; the card is already loaded), "open+card" (printed, not in the JSON) also
fetches the card, as when opening from a link.

Prints, as its last line:
``{"name": "panel_queries", "list_p95_ms": …, "filtered_p95_ms": …, "search_p95_ms": …, "open_p95_ms": …,
"seq_scans": 0, "search_p95_ms_by": {"admin_common_en": …, …}}``
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# BENCH_SCALE shrinks the dataset for a quick run (``make bench BENCH_SCALE=0.1``: 10,000
# conversations / 100,000 messages); each scale is seeded once into its own directory.
SCALE = float(os.environ.get("BENCH_SCALE") or 1)
CONVERSATIONS = max(1_000, int(100_000 * SCALE))
MESSAGES = CONVERSATIONS * 10
DATA_DIR = ROOT / "instance" / ("bench" if SCALE == 1 else f"bench-scale-{SCALE:g}")
SAMPLE = str(min(100, max(1, 100_000 // CONVERSATIONS)))  # TABLESAMPLE percent: ~1,000 rows at any scale
BIG_TABLES = ("conversations", "messages", "contacts", "conversation_labels")


def p95(samples: list[float]) -> float:
    """95th percentile in milliseconds, one decimal."""
    ordered = sorted(samples)
    return round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 1)


@contextmanager
def bench_app(base: Path) -> Iterator[Any]:
    """The app on an embedded PostgreSQL and Redis under ``base`` (kept between runs), stopped afterwards."""
    from messenger import create_app
    from messenger.config import settings_from_env
    from messenger.devservers import ensure_database
    from messenger.devservers import start_postgres
    from messenger.devservers import start_redis

    pg = start_postgres(base / "pg")
    redis = start_redis(base / "redis", persist=False)
    try:
        url = ensure_database(pg.url, "messenger_bench")
        settings = settings_from_env({"MESSENGER_INSTANCE": str(base / "instance"), **os.environ, "DATABASE_URL": url,
                                      "REDIS_URL": redis.url, "RATELIMIT_ENABLED": "0", "SECRET_KEY": "bench-secret"})
        yield create_app({**settings, "RATELIMIT_STORAGE_URI": "redis+" + redis.url, "WTF_CSRF_ENABLED": False,
                          "TESTING": True})
    finally:
        redis.stop()
        pg.stop()


class Recorder:
    """Collects the SQL statements the app runs, to EXPLAIN them."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, Any]] = []
        self.on = False

    def __call__(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if self.on and statement.lstrip().upper().startswith("SELECT"):
            self.statements.append((statement, parameters))


def explain(engine: Any, statements: list[tuple[str, Any]]) -> tuple[list[str], list[tuple[float, str]]]:
    """Sequential scans of the big tables in these plans, and each statement's execution time."""
    problems, timings = [], []
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for statement, params in statements:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
            plan = "\n".join(row[0] for row in cur.fetchall())
            short = " ".join(statement.split())[:200]
            for table in BIG_TABLES:
                if re.search(rf"Seq Scan on {table}\b", plan):
                    problems.append(f"Seq Scan on {table} in: {short}…")
                    if os.environ.get("BENCH_PLANS"):   # the whole statement and plan, to see why
                        with open(os.environ["BENCH_PLANS"], "a") as out:
                            out.write(f"{statement}\n{params}\n{plan}\n\n")
            found = re.search(r"Execution Time: ([0-9.]+) ms", plan)
            timings.append((float(found.group(1)) if found else 0.0, short))
    finally:
        raw.close()
    return problems, timings


def check_plans(app: Any, calls: list[Callable[[], Any]]) -> tuple[list[str], list[tuple[float, str]]]:
    """Run ``calls`` once, EXPLAIN ANALYZE every statement they sent about the big tables; print the verdict."""
    import sqlalchemy as sa

    from messenger.extensions import db

    recorder = Recorder()
    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", recorder)
        recorder.on = True
        for fn in calls:
            fn()
        recorder.on = False
        problems, timings = explain(db.engine, [s for s in recorder.statements if any(t in s[0] for t in BIG_TABLES)])
    print(f"EXPLAIN: {len(recorder.statements)} statements checked; "
          + ("all use indexes on the big tables" if not problems else f"{len(problems)} sequential scans"), flush=True)
    for line in problems:
        print("  ", line, flush=True)
    return problems, timings


@dataclass(frozen=True)
class Dataset:
    """What the measurements need from the seeded database."""

    agent_email: str
    admin_email: str
    inbox_ids: list[int]
    team_id: int
    label_id: int
    sample_ids: list[int]
    emails: list[str]
    rare_en: list[str]
    rare_ru: list[str]


def load_dataset(app: Any) -> Dataset:
    """Migrate, seed once (``flask messenger seed-bench``), and pick the agent and samples to query with."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from messenger.extensions import db

    with app.app_context():
        upgrade()
        have = db.session.scalar(sa.text("SELECT count(*) FROM conversations"))
        if have < CONVERSATIONS:
            print(f"seeding {CONVERSATIONS} conversations / {MESSAGES} messages …", flush=True)
            started = time.monotonic()
            result = app.test_cli_runner().invoke(args=["messenger", "seed-bench", "--conversations",
                                                        str(CONVERSATIONS), "--messages", str(MESSAGES)])
            print(result.output.strip(), f"(wall {time.monotonic() - started:.1f}s)", flush=True)
            if result.exit_code != 0:
                raise SystemExit(f"seeding failed: {result.exception!r}")
        counts = db.session.execute(sa.text(
            "SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages)")).one()
        print(f"dataset: {counts[0]} conversations, {counts[1]} messages", flush=True)
        agent_email = "bench-op2@example.com"   # an agent: the inbox-visibility filter applies
        me_id = db.session.scalar(sa.text("SELECT id FROM users WHERE email = :e"), {"e": agent_email})
        def codes(locale: str) -> list[str]:
            # Reference numbers are unique per message: the rarest words there are.
            return list(db.session.scalars(sa.text(
                "SELECT substring(content from '([0-9A-F]{8})[.]$') FROM messages TABLESAMPLE SYSTEM (" + SAMPLE + ") "
                "WHERE type = 'incoming' AND locale = :l AND content ~ '[0-9A-F]{8}[.]$' LIMIT 10"), {"l": locale}))

        data = Dataset(
            agent_email=agent_email,
            admin_email="bench-op1@example.com",
            rare_en=codes("en"),
            rare_ru=codes("ru"),
            inbox_ids=list(db.session.scalars(sa.text(
                "SELECT inbox_id FROM inbox_members WHERE user_id = :u ORDER BY inbox_id"), {"u": me_id})),
            team_id=db.session.scalar(sa.text("SELECT id FROM teams WHERE name = 'Bench team 1'")),
            label_id=db.session.scalar(sa.text("SELECT id FROM labels WHERE name = 'vip'")),
            sample_ids=list(db.session.scalars(sa.text(   # conversations the agent may open
                "SELECT id FROM conversations TABLESAMPLE SYSTEM (" + SAMPLE + ") WHERE inbox_id IN "
                "(SELECT inbox_id FROM inbox_members WHERE user_id = :u) LIMIT 400"), {"u": me_id})),
            emails=list(db.session.scalars(sa.text(
                "SELECT email FROM contacts TABLESAMPLE SYSTEM (" + SAMPLE + ") WHERE email IS NOT NULL LIMIT 50"))))
        db.session.remove()
    return data


def collect_cursors(call: Callable[..., dict[str, Any]], tabs: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """Keyset pages deep in the list: walk up to 30 pages per tab and sort once, keeping each cursor."""
    cursors: list[tuple[str, str, str]] = []
    for tab in tabs:
        for sort in ("latest", "oldest_waiting"):
            cursor = None
            for _ in range(30):
                page = call("/api/v1/conversations", tab=tab, sort=sort, limit=50,
                            **({"cursor": cursor} if cursor else {}))
                cursor = page["next_cursor"]
                if not cursor:
                    break
                cursors.append((tab, sort, cursor))
    return cursors


def signed_in(app: Any, email: str) -> Callable[..., dict[str, Any]]:
    """A GET of the operator API as ``email``, asserting a 200 and returning the JSON."""
    client = app.test_client()
    resp = client.post("/login", data={"email": email, "password": "bench-password"})
    assert resp.status_code == 302, resp.status_code

    def call(path: str, **params: Any) -> dict[str, Any]:
        r = client.get(path, query_string=params)
        assert r.status_code == 200, (path, params, r.status_code, r.get_data(as_text=True)[:300])
        return r.get_json()  # type: ignore[no-any-return]
    return call


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def measure(rounds: int, rng: random.Random, shapes: list[Callable[[], Any]],
            filtered_shapes: list[Callable[[], Any]], cursors: list[tuple[str, str, str]],
            searches: dict[str, list[Callable[[], Any]]],
            list_page: Callable[..., Any], open_conversation: Callable[[int], None],
            open_cold: Callable[[int], None], sample_ids: list[int]) -> dict[str, list[float]]:
    """Seconds per call, by kind, over ``rounds`` rounds of randomly chosen list, filter, search and open calls.

    Each search group (who × which words) gets ``rounds`` samples of its own, under "search <group>".
    """
    samples: dict[str, list[float]] = {"list": [], "filtered": [], "search": [], "open": [], "open+card": []}
    for _ in range(rounds):
        samples["list"].append(_timed(rng.choice(shapes)))
        tab, sort, cursor = rng.choice(cursors)
        samples["list"].append(_timed(partial(list_page, tab=tab, sort=sort, limit=50, cursor=cursor)))
        samples["filtered"].append(_timed(rng.choice(filtered_shapes)))
        for group, calls in searches.items():
            took = _timed(rng.choice(calls))
            samples.setdefault(f"search {group}", []).append(took)
            samples["search"].append(took)
        samples["open"].append(_timed(partial(open_conversation, rng.choice(sample_ids))))
        samples["open+card"].append(_timed(partial(open_cold, rng.choice(sample_ids))))
    return samples


def search_groups(admin: Callable[..., Any], agent: Callable[..., Any], data: Dataset,
                  ) -> dict[str, list[Callable[[], Any]]]:
    """Search calls by who searches (an admin sees every inbox, the agent half of them) and which words."""
    words = {
        # Common: in a large share of the messages (every subject is in ~1 message of 30).
        "common_en": ["refund", "invoice missing", "orders", "delivery late", "checkout", "charged twice"],
        "common_ru": ["заказы", "доставку", "пароль", "возврата", "списали дважды", "оплату"],
        # Rare: a reference number (one message), and a word no message has (the worst case: every index read).
        "rare_en": [*data.rare_en[:5], "zebracorn"],
        "rare_ru": [*data.rare_ru[:5], "зебророг"],
        "contacts": [*data.emails[:6], "+1 555 0004242", "customer4242", "Olga Ivanova"],
    }
    groups: dict[str, list[Callable[[], Any]]] = {}
    for who, call in (("admin", admin), ("agent", agent)):
        for kind, terms in words.items():
            groups[f"{who}_{kind}"] = [partial(call, q=term) for term in terms]
    return groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="samples per query shape")
    parser.add_argument("--verbose", action="store_true", help="print the slowest statements (EXPLAIN ANALYZE)")
    parser.add_argument("--data-dir", default=str(DATA_DIR))
    args = parser.parse_args()

    with bench_app(Path(args.data_dir)) as app:
        data = load_dataset(app)
        agent_email, inbox_ids, sample_ids = data.agent_email, data.inbox_ids, data.sample_ids
        team_id, label_id = data.team_id, data.label_id
        rng = random.Random(7)

        call = signed_in(app, agent_email)
        admin_call = signed_in(app, data.admin_email)

        tabs = ("waiting", "all", "mine", "unassigned")
        sorts = ("latest", "newest", "priority", "oldest_waiting")

        def list_shapes() -> list[Callable[[], Any]]:
            shapes: list[Callable[[], Any]] = []
            for tab in tabs:
                for sort in sorts:
                    shapes.append(lambda tab=tab, sort=sort: call("/api/v1/conversations", tab=tab, sort=sort,
                                                                  limit=50))
            return shapes

        # Keyset pages deep in the list: walk 30 pages once to collect cursors, then time them.
        cursors = collect_cursors(call, tabs)
        filtered_shapes: list[Callable[[], Any]] = [
            lambda: call("/api/v1/conversations/counts"),  # the tab counts, after every live change (≤ 1 per 2 s)
            lambda: call("/api/v1/conversations/counts", inbox_id=inbox_ids[0], status="pending"),
            lambda: call("/api/v1/conversations", tab="all", status="pending", limit=50),
            lambda: call("/api/v1/conversations", tab="all", status="resolved", limit=50),
            lambda: call("/api/v1/conversations", tab="all", status="any", limit=50),
            lambda: call("/api/v1/conversations", tab="mine", status="snoozed", limit=50),
            lambda: call("/api/v1/conversations", tab="all", inbox_id=inbox_ids[0], limit=50),
            lambda: call("/api/v1/conversations", tab="all", team_id=team_id, limit=50),
            lambda: call("/api/v1/conversations", tab="all", label_id=label_id, limit=50),
            lambda: call("/api/v1/conversations", tab="all", priority=4, limit=50),
            lambda: call("/api/v1/conversations", tab="unassigned", inbox_id=inbox_ids[1], sort="oldest_waiting",
                         limit=50),
            lambda: call("/api/v1/conversations", tab="all", status="any", sort="priority", label_id=label_id,
                         limit=50),
        ]
        searches = search_groups(partial(admin_call, "/api/v1/search"), partial(call, "/api/v1/search"), data)

        def open_conversation(cid: int) -> None:
            # Opening from the list: the card is already loaded, the panel fetches the last 50 messages.
            call(f"/api/v1/conversations/{cid}/messages", limit=50)

        def open_cold(cid: int) -> None:
            # Opening by link or search result: the card too.
            call(f"/api/v1/conversations/{cid}")
            call(f"/api/v1/conversations/{cid}/messages", limit=50)

        # EXPLAIN every panel call: every list shape, filter, a deep page of each tab and sort, every search.
        deep_pages = [partial(call, "/api/v1/conversations", tab=tab, sort=sort, limit=50, cursor=cursor)
                      for tab, sort, cursor in {(t, so): (t, so, c) for t, so, c in cursors}.values()]
        problems, timings = check_plans(app, [*list_shapes(), *filtered_shapes, *deep_pages,
                                              *(c for calls in searches.values() for c in calls),
                                              partial(open_cold, sample_ids[0])])
        if args.verbose:
            for ms, short in sorted(timings, reverse=True)[:12]:
                print(f"  {ms:7.2f} ms  {short}", flush=True)

        # Warm up, then measure (the load average says how much the CPUs were shared meanwhile).
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs",
              flush=True)
        for shape in list_shapes():
            shape()
        samples = measure(args.rounds, rng, list_shapes(), filtered_shapes, cursors, searches,
                          partial(call, "/api/v1/conversations"), open_conversation, open_cold, sample_ids)
        for name, values in samples.items():
            print(f"{name:22s} n={len(values):4d} median={statistics.median(values) * 1000:6.1f} ms "
                  f"p95={p95(values):6.1f} ms max={max(values) * 1000:6.1f} ms", flush=True)
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        print(json.dumps({"name": "panel_queries", "list_p95_ms": p95(samples["list"]),
                          "filtered_p95_ms": p95(samples["filtered"]), "search_p95_ms": p95(samples["search"]),
                          "open_p95_ms": p95(samples["open"]), "seq_scans": len(problems),
                          "search_p95_ms_by": {name.split(" ", 1)[1]: p95(values) for name, values in samples.items()
                                               if name.startswith("search ")}}), flush=True)
        if problems and SCALE >= 1:  # on a reduced dataset the planner may rightly scan a small table
            raise SystemExit(1)   # a sequential scan of a big table on a panel query is a failure


if __name__ == "__main__":
    main()
