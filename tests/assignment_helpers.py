"""Shared helpers of the assignment tests: a burst RQ worker on the real Redis, small queries."""
from __future__ import annotations

from datetime import datetime
from datetime import timezone

import sqlalchemy as sa
from flask import Flask
from rq import SimpleWorker
from rq.scheduler import RQScheduler

from messenger.extensions import db
from messenger.jobs import get_queue
from messenger.models import Conversation
from messenger.models import Message
from messenger.models import User


def work(app: Flask, *, scheduler: bool = False) -> None:
    """Run every queued assignment job (and due scheduled ones) in this process, then return."""
    redis = app.extensions["redis"]
    if scheduler:  # a stray scheduler (a worker of an earlier test not stopped) would move our timers itself
        holder = redis.get(RQScheduler.get_locking_key("assignment"))
        assert holder is None, f"another RQ scheduler holds the assignment queue: {holder!r}"
    worker = SimpleWorker([get_queue("assignment")], connection=redis)
    worker.work(burst=True, with_scheduler=scheduler, logging_level="WARNING")


def conv(conversation_id: int) -> Conversation:
    """A fresh copy of a conversation row."""
    db.session.expire_all()
    row = db.session.get(Conversation, conversation_id)
    assert row is not None
    return row


def set_user(user_id: int, **fields: object) -> None:
    """Update an operator directly (availability, capacity) and commit."""
    db.session.execute(sa.update(User).where(User.id == user_id).values(**fields))
    db.session.commit()


def activities(conversation_id: int, event: str) -> list[Message]:
    """Activity messages of one kind (``assignment``, ``escalation``, ``requeue``) in a conversation."""
    return list(db.session.scalars(sa.select(Message).where(
        Message.conversation_id == conversation_id, Message.type == "activity",
        Message.content_attributes["event"].astext == event).order_by(Message.id)))


def open_load(user_id: int) -> int:
    """How many open/pending conversations an operator holds."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Conversation).where(
        Conversation.assignee_id == user_id, Conversation.status.in_(("open", "pending")))) or 0


def ago(seconds: float) -> datetime:
    """An aware timestamp ``seconds`` in the past."""
    from datetime import timedelta

    return datetime.now(timezone.utc) - timedelta(seconds=seconds)
