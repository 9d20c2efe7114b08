"""Audit log of admin and security-relevant actions: written by every use case, read by /admin/audit."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import AuditLog
from messenger.models import User

logger = logging.getLogger(__name__)
PAGE_SIZE = 50


def record(actor_id: int | None, action: str, target_type: str | None = None, target_id: object = None,
           ip: str | None = None, **data: Any) -> AuditLog:
    """Append an audit entry inside the caller's transaction."""
    entry = AuditLog(actor_user_id=actor_id, action=action, target_type=target_type,
                     target_id=None if target_id is None else str(target_id), ip=ip, data=data)
    db.session.add(entry)
    logger.info("audit %s by %s on %s:%s", action, actor_id, target_type, target_id)
    return entry


@dataclass(frozen=True)
class AuditFilter:
    """What the audit page narrows by; every part optional."""

    action: str = ""  # an exact action or a prefix ending in "." ("auth.")
    actor_id: int | None = None
    target_type: str = ""
    ip: str = ""
    since: datetime | None = None
    until: datetime | None = None


def list_entries(flt: AuditFilter, *, before_id: int | None = None,
                 limit: int = PAGE_SIZE) -> tuple[list[tuple[AuditLog, str | None]], int | None]:
    """Newest first, ``limit`` entries older than ``before_id`` with the actor's name; and the next cursor."""
    query = sa.select(AuditLog, User.name).outerjoin(User, User.id == AuditLog.actor_user_id)
    if flt.action.endswith("."):
        query = query.where(AuditLog.action.startswith(flt.action, autoescape=True))
    elif flt.action:
        query = query.where(AuditLog.action == flt.action)
    if flt.actor_id is not None:
        query = query.where(AuditLog.actor_user_id == flt.actor_id)
    if flt.target_type:
        query = query.where(AuditLog.target_type == flt.target_type)
    if flt.ip:
        query = query.where(AuditLog.ip.startswith(flt.ip, autoescape=True))
    if flt.since is not None:
        query = query.where(AuditLog.created_at >= flt.since)
    if flt.until is not None:
        query = query.where(AuditLog.created_at < flt.until)
    if before_id is not None:
        query = query.where(AuditLog.id < before_id)
    rows: list[tuple[AuditLog, str | None]] = [
        (entry, name) for entry, name in db.session.execute(query.order_by(AuditLog.id.desc()).limit(limit + 1))]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1][0].id if more and rows else None)


def known_actions() -> list[str]:
    """Every action recorded so far (for the filter menu), sorted."""
    return sorted(db.session.scalars(sa.select(AuditLog.action).distinct()))
