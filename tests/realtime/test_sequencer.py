"""The event log's sequencer (docs/event-log.md): its failure modes, with real PostgreSQL and gunicorn.

Writes here go through raw psycopg connections, as psql would: no SQLAlchemy commit hook
wakes a sequencer, so only the sequencers under test (or a server's timer) number them.
"""
from __future__ import annotations

import threading
import time

import psycopg
import pytest
import sqlalchemy as sa

from messenger.config import libpq_url
from messenger.extensions import db
from messenger.realtime.log import SELECT_AFTER
from messenger.realtime.log import events_after
from messenger.realtime.sequencer import Sequencer
from tests.helpers import LiveServer
from tests.realtime.conftest import World
from tests.realtime.conftest import head
from tests.realtime.conftest import operator_stream

pytestmark = pytest.mark.committing


def _dsn() -> str:
    return libpq_url(db.engine.url.render_as_string(hide_password=False))


def _psql_insert(conversation_id: int, contents: list[str]) -> None:
    """Commit messages the way psql would: one autocommit statement each, no application code."""
    with psycopg.connect(_dsn(), autocommit=True) as conn:
        for content in contents:
            conn.execute("INSERT INTO messages (conversation_id, type, content) VALUES (%s, 'incoming', %s)",
                         (conversation_id, content))


def _pending() -> int:
    with psycopg.connect(_dsn(), autocommit=True) as conn:
        return int(conn.execute("SELECT count(*) FROM events_pending").fetchone()[0])  # type: ignore[index]


def _created(after: int) -> list[str]:
    return [e.payload["content"] for e in events_after(after) if e.kind == "message.created"]


def test_a_sequencer_killed_mid_batch_leaves_its_events_to_the_next_one(app, world: World) -> None:  # type: ignore[no-untyped-def]
    """A sequencer whose backend dies after moving rows (uncommitted) numbers nothing; the next one numbers all."""
    start = head()
    victim = psycopg.connect(_dsn(), application_name="doomed-sequencer")
    victim.execute("SELECT pg_advisory_xact_lock(727001)")  # every other sequencer (servers, timers) waits now
    _psql_insert(world.conversation.id, [f"pending {i}" for i in range(20)])
    assert _pending() >= 20
    moved = victim.execute("SELECT messenger_sequence_events(5000)").fetchone()[0]  # type: ignore[index]
    assert moved >= 20  # moved and numbered, holding the lock, not committed
    seen: list[list[str]] = []
    def read() -> None:
        with app.app_context():
            seen.append(_created(start))

    reader = threading.Thread(target=read)
    reader.start()  # its own pass waits for the victim's lock
    time.sleep(0.5)
    assert reader.is_alive() and seen == []
    with psycopg.connect(_dsn(), autocommit=True) as admin:
        killed = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE application_name = 'doomed-sequencer'").fetchone()[0]  # type: ignore[index]
    assert killed == 1
    reader.join(30)
    assert seen == [[f"pending {i}" for i in range(20)]]
    assert _pending() == 0
    # Numbered once, each position after the one before; the victim's ids were never issued.
    events = [e for e in events_after(start) if e.kind == "message.created"]
    ids = [e.id for e in events]
    assert ids == sorted(set(ids)) and len(ids) == 20


def test_two_sequencers_racing_number_every_event_once_and_a_reader_never_misses_one(world: World) -> None:
    """Eight psql-like writers, two sequencers looping, a reader polling ``id > P`` with no pass of its own."""
    start = head()
    dsn, conversation_id = _dsn(), world.conversation.id
    writers, per_writer = 8, 25
    stop, done = threading.Event(), threading.Event()
    passes: list[int] = []
    seen: list[int] = []
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            with psycopg.connect(dsn) as conn:
                for i in range(per_writer):
                    conn.execute("INSERT INTO messages (conversation_id, type, content) VALUES (%s, 'incoming', %s)",
                                 (conversation_id, f"w{n}-{i}"))
                    conn.execute("SELECT pg_sleep(random() * 0.004)")
                    conn.commit()
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    def sequence() -> None:
        sequencer = Sequencer(dsn, 0.5)  # each its own connection: two processes' sequencers
        while not stop.is_set():
            sequencer.run_once()
        passes.append(sequencer.passes)

    def read() -> None:
        position = start
        with psycopg.connect(dsn, autocommit=True) as conn:
            while True:
                finished = done.is_set()
                rows = conn.execute(SELECT_AFTER, {"p": position, "n": 1000}).fetchall()
                for row in rows:
                    assert row[0] > position
                    position = row[0]
                    seen.append(row[0])
                if finished and not rows:
                    return
                time.sleep(0.002)

    sequencers = [threading.Thread(target=sequence) for _ in range(2)]
    reader = threading.Thread(target=read)
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in sequencers + [reader] + threads:
        t.start()
    for t in threads:
        t.join()
    while _pending():
        time.sleep(0.05)
    stop.set()
    for t in sequencers:
        t.join(30)
    done.set()
    reader.join(30)
    assert errors == []
    assert len(passes) == 2 and sum(passes) > 0  # both ran to the end; they numbered the batches
    everything = db.session.scalars(sa.text("SELECT id FROM events WHERE id > :s ORDER BY id"), {"s": start}).all()
    assert seen == list(everything)
    contents = _created(start)
    assert sorted(contents) == sorted(f"w{n}-{i}" for n in range(writers) for i in range(per_writer))
    for n in range(writers):  # each writer's messages in its commit order
        assert [c for c in contents if c.startswith(f"w{n}-")] == [f"w{n}-{i}" for i in range(per_writer)]


def test_a_write_from_psql_reaches_open_streams_and_a_server_started_after_it(
        app, env_for_servers: dict[str, str], live_server: LiveServer, world: World) -> None:  # type: ignore[no-untyped-def]
    """No commit hook rings: the server's sequencer timer numbers the write; a server started later replays it."""
    start = head()
    stream = operator_stream(live_server, world.agent)
    try:
        stream.wait_count("ready", 1)
        _psql_insert(world.conversation.id, ["typed in psql"])
        stream.wait_count("message.created", 1, timeout=15)
        (event,) = stream.named("message.created")
        assert event.data["content"] == "typed in psql" and event.id is not None and event.id > start
    finally:
        stream.close()
    # Written while nothing of ours runs in between: a fresh server's stream replays it from the position.
    _psql_insert(world.conversation.id, ["typed before the server started"])
    server = LiveServer(env_for_servers)
    try:
        later = operator_stream(server, world.agent, after=start)
        try:
            later.wait_count("message.created", 2, timeout=15)
            assert [e.data["content"] for e in later.named("message.created")] == [
                "typed in psql", "typed before the server started"]
        finally:
            later.close()
    finally:
        server.stop()
