"""Transactions: the one place that commits, and after-commit effects.

A service use case wraps its body in ``with transaction():``; nested use of the helper
joins the outer transaction. ``after_commit(fn)`` registers a side effect (enqueue a job,
send mail) that runs only once the data it needs is committed and visible.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
import sqlalchemy.orm as so

from messenger.extensions import db

logger = logging.getLogger(__name__)

_DEPTH = "messenger_tx_depth"
_CALLBACKS = "messenger_after_commit"


@contextmanager
def transaction(*, keep_loaded: bool = False) -> Iterator[so.Session]:
    """Run the block in one transaction, commit it, then run the after-commit callbacks.

    ``keep_loaded``: the objects the block loaded or wrote keep their values after the
    commit (no reload when the view turns them into JSON). For hot paths whose rows carry
    every column back (``RETURNING``, ``SELECT … FOR UPDATE``); only the outermost call decides.
    """
    session = db.session()
    depth = session.info.get(_DEPTH, 0)
    if depth:
        session.info[_DEPTH] = depth + 1
        try:
            yield session
        finally:
            session.info[_DEPTH] = depth
        return
    session.info[_DEPTH] = 1
    session.info[_CALLBACKS] = []
    try:
        yield session
        session.expire_on_commit = not keep_loaded
        try:
            session.commit()
        finally:
            session.expire_on_commit = True
    except BaseException:
        session.rollback()
        session.info[_CALLBACKS] = []
        raise
    finally:
        session.info[_DEPTH] = 0
    callbacks = session.info.pop(_CALLBACKS, [])
    for callback in callbacks:
        try:
            callback()
        except Exception:  # an after-commit effect must never undo or hide the commit
            logger.exception("after-commit callback failed")


def after_commit(callback: Callable[[], object]) -> None:
    """Run ``callback`` after the current transaction commits (at once if none is open)."""
    session = db.session()
    if not session.info.get(_DEPTH):
        callback()
        return
    session.info.setdefault(_CALLBACKS, []).append(callback)


def rows_changed(statement: sa.Executable) -> int:
    """Run an UPDATE/DELETE in the current session and return how many rows it touched."""
    result = db.session.execute(statement)
    return int(result.rowcount)  # type: ignore[attr-defined]  # DML returns a CursorResult


EPHEMERAL_CHANNEL = "messenger_ephemeral"


def notify_ephemeral(signal: dict[str, object]) -> None:
    """Queue a signal for every process's realtime hub (no log row, no position); PostgreSQL
    delivers it when the current transaction commits, never for a rolled-back one."""
    db.session.execute(sa.text("SELECT pg_notify(:channel, :payload)"),
                       {"channel": EPHEMERAL_CHANNEL, "payload": json.dumps(signal, separators=(",", ":"))})
