"""Reading the event log: "events after position P", gap-safe.

Positions are ``events.id``. Only the sequencer (``realtime/sequencer.py``) inserts event
rows, under a transaction-level advisory lock that is released after its commit becomes
visible, and draws the ids under that lock. So ids become visible in increasing order: once
a reader has seen id N, no row with an id below N can appear later, and ``id > P`` never
skips a row (docs/event-log.md, "Gap-safe positions"). Readers by position run the
sequencer first, so they see every event committed before they asked.

These functions take a plain SQLAlchemy ``Connection`` (or use the engine) and never
touch ``db.session``: the hub and the stream generators call them outside requests.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from messenger.extensions import db
from messenger.realtime import sequencer


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One row of the event log, as plain values."""

    id: int
    kind: str
    inbox_id: int | None
    conversation_id: int | None
    contact_id: int | None
    user_id: int | None
    private: bool
    payload: dict[str, Any]
    created_at: datetime


_COLUMNS = "id, kind, inbox_id, conversation_id, contact_id, user_id, private, payload, created_at"
# The same read for a raw psycopg connection (the hub's): named parameters p (position), n (limit).
SELECT_AFTER = f"SELECT {_COLUMNS} FROM events WHERE id > %(p)s ORDER BY id LIMIT %(n)s"


def _engine() -> sa.Engine:
    return db.engine


def _run(query: sa.TextClause, params: dict[str, Any], conn: sa.Connection | None) -> sa.Result[Any]:
    """Run on the given connection, or on a short-lived one of our own (buffered)."""
    if conn is not None:
        return conn.execute(query, params)
    with _engine().connect() as own:
        return own.execute(query, params).freeze()()


def _sequence(conn: sa.Connection | None) -> None:
    sequencer.sequence_pending(conn.engine if conn is not None else _engine())


def events_after(position: int, limit: int = 1000, *, conn: sa.Connection | None = None) -> list[LogEvent]:
    """Events with id > position, oldest first, at most ``limit``."""
    _sequence(conn)
    query = sa.text(f"SELECT {_COLUMNS} FROM events WHERE id > :p ORDER BY id LIMIT :n")
    return [LogEvent(**row._asdict()) for row in _run(query, {"p": position, "n": limit}, conn).all()]


def head_position(*, conn: sa.Connection | None = None) -> int:
    """The newest committed position (0 for an empty log)."""
    _sequence(conn)
    return int(_run(sa.text("SELECT coalesce(max(id), 0) FROM events"), {}, conn).scalar_one())


def is_pruned(position: int, *, conn: sa.Connection | None = None) -> bool:
    """True when events after ``position`` were pruned, so a replay from it would be partial."""
    up_to = int(_run(sa.text("SELECT coalesce(max(up_to), 0) FROM events_pruned"), {}, conn).scalar_one())
    return position < up_to


def prune_events(keep_hours: int) -> int:
    """Delete events older than ``keep_hours``; remember the highest pruned id."""
    with _engine().begin() as c:
        up_to = c.execute(sa.text(
            "SELECT max(id) FROM events WHERE created_at < now() - make_interval(hours => :h)"),
            {"h": keep_hours}).scalar()
        if up_to is None:
            return 0
        deleted = c.execute(sa.text("DELETE FROM events WHERE id <= :u"), {"u": up_to}).rowcount
        c.execute(sa.text("INSERT INTO events_pruned (up_to) VALUES (:u)"), {"u": up_to})
        return int(deleted or 0)
