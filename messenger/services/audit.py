"""Audit log of admin and security-relevant actions."""
from __future__ import annotations

import logging
from typing import Any

from messenger.extensions import db
from messenger.models import AuditLog

logger = logging.getLogger(__name__)


def record(actor_id: int | None, action: str, target_type: str | None = None, target_id: object = None,
           ip: str | None = None, **data: Any) -> AuditLog:
    """Append an audit entry inside the caller's transaction."""
    entry = AuditLog(actor_user_id=actor_id, action=action, target_type=target_type,
                     target_id=None if target_id is None else str(target_id), ip=ip, data=data)
    db.session.add(entry)
    logger.info("audit %s by %s on %s:%s", action, actor_id, target_type, target_id)
    return entry
