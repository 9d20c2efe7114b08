"""Backups as docs/deploy.md says: pg_dump (custom format) of a live database, pg_restore into an empty
one: rows, the event-log triggers and the event numbering all come back."""
from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from messenger.config import libpq_url
from messenger.devservers import ensure_database
from messenger.extensions import db
from messenger.realtime.sequencer import sequence_pending
from tests.faults.conftest import make_world
from tests.realtime.conftest import send_replies

pytestmark = pytest.mark.committing


def _bin(servers: dict[str, object], name: str) -> str:
    pg = servers.get("postgres")
    if pg is None:
        pytest.skip("needs the embedded PostgreSQL's client programs")
    return str(Path(pg.server.bin_path) / name)  # type: ignore[attr-defined]


def test_pg_dump_and_restore_bring_back_rows_triggers_and_event_numbering(servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world = make_world(visitors=2)
    sent = send_replies(world.admin, world.conversation_ids[0], 5)
    db.session.commit()
    sequence_pending(db.engine)  # the replies' events are numbered before the dump (rows compared below)
    source = libpq_url(str(servers["database_url"]))
    dump = tmp_path / "messenger.dump"
    subprocess.run([_bin(servers, "pg_dump"), "--format=custom", f"--file={dump}", f"--dbname={source}"],
                   check=True, capture_output=True)
    target = ensure_database(str(servers["postgres"].url), "messenger_restored")  # type: ignore[attr-defined]
    try:
        subprocess.run([_bin(servers, "pg_restore"), "--no-owner", "--clean", "--if-exists", f"--dbname={target}",
                        str(dump)], check=True, capture_output=True)
        with psycopg.connect(source) as src, psycopg.connect(target, autocommit=True) as dst:
            for table in ("messages", "conversations", "contacts", "events", "events_pending", "users",
                          "alembic_version"):
                query = f"SELECT count(*) FROM {table}"
                assert dst.execute(query).fetchone() == src.execute(query).fetchone(), table
            head = dst.execute("SELECT max(id) FROM events").fetchone()[0]
            # Triggers and the gap-safe numbering work on the restored copy: a new message makes an event,
            # which the sequencer numbers after head.
            dst.execute("INSERT INTO messages (conversation_id, type, sender_user_id, content) "
                        "VALUES (%s, 'outgoing', %s, 'after restore')", (world.conversation_ids[0], world.admin.id))
            assert dst.execute("SELECT messenger_sequence_events(5000)").fetchone()[0] >= 1  # type: ignore[index]
            row = dst.execute("SELECT id, kind FROM events ORDER BY id DESC LIMIT 1").fetchone()
            assert row is not None and row[0] > head and row[1] == "message.created"
            restored = [r[0] for r in dst.execute(
                "SELECT id FROM messages WHERE id = ANY(%s) ORDER BY id", (sent,)).fetchall()]
            assert restored == sent
    finally:
        with psycopg.connect(str(servers["postgres"].url), autocommit=True) as admin:  # type: ignore[attr-defined]
            admin.execute("DROP DATABASE IF EXISTS messenger_restored WITH (FORCE)")
    assert db.session.scalar(sa.text("SELECT 1")) == 1
