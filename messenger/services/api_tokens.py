"""Personal API tokens: ``Authorization: Bearer <token>`` on the operator API.

A token acts as its owner, with the owner's permissions (inboxes, role) at the moment
of each request: a deactivated owner's tokens stop working, a demoted admin's token is
an agent's. Only the SHA-256 of a token is stored (the token is shown once); ``prefix``
(its first characters) identifies it in lists. Revocation is one UPDATE and takes effect
on the next request; the streams opened with it close at once. Creation and revocation
write audit lines; use writes one at most once a minute per token (with ``last_used_at``),
so a busy integration does not write on every request. The token itself is never logged or audited.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import sqlalchemy as sa

from messenger.db import notify_ephemeral
from messenger.db import transaction
from messenger.errors import NotFound
from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.models import ApiToken
from messenger.models import User
from messenger.services import audit

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "msgr_"
PREFIX_LENGTH = 12
MAX_NAME = 120
MAX_TOKEN_LENGTH = 200
USE_RECORD_INTERVAL = timedelta(seconds=60)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def clean_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("Give the token a name (what uses it).", field="name")
    if len(name.strip()) > MAX_NAME:
        raise ValidationError(f"The name is at most {MAX_NAME} characters.", field="name")
    return name.strip()


def create_token(owner: User, name: object, *, ip: str | None = None) -> tuple[ApiToken, str]:
    """A new token for ``owner`` (who creates it); returns the row and the token, shown once."""
    clean = clean_name(name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction():
        row = ApiToken(user_id=owner.id, name=clean, token_hash=_hash(token), prefix=token[:PREFIX_LENGTH])
        db.session.add(row)
        db.session.flush()
        audit.record(owner.id, "api_token.created", "api_token", row.id, ip=ip, name=clean, prefix=row.prefix)
    return row, token


def list_tokens(user_id: int | None = None) -> list[tuple[ApiToken, User]]:
    """Tokens with their owners, newest first (``user_id``: one operator's only)."""
    query = sa.select(ApiToken, User).join(User, User.id == ApiToken.user_id)
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return [(t, u) for t, u in db.session.execute(query.order_by(ApiToken.id.desc())).all()]


def revoke_token(actor: User, token_id: int, *, ip: str | None = None) -> ApiToken:
    """Revoke a token of the actor's own (admins: anyone's); another's id is a 404."""
    with transaction():
        row = db.session.get(ApiToken, token_id, with_for_update=True)
        if row is None or (row.user_id != actor.id and actor.role != "admin"):
            raise NotFound("No such token.")
        if row.revoked_at is None:
            row.revoked_at = _now()
            audit.record(actor.id, "api_token.revoked", "api_token", row.id, ip=ip, owner_id=row.user_id,
                         prefix=row.prefix)
            # Every process's hub closes the streams opened with it at commit (docs/realtime.md).
            notify_ephemeral({"kind": "api_token.revoked", "token_id": row.id})
    return row


def authenticate(token: str, *, ip: str | None = None) -> tuple[User, int] | None:
    """The active owner of a valid, unrevoked token and the token's id, or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = db.session.execute(
        sa.select(ApiToken, User).join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _hash(token), ApiToken.revoked_at.is_(None), User.active)).first()
    if row is None:
        return None
    api_token, user = row
    now = _now()
    if api_token.last_used_at is None or now - api_token.last_used_at >= USE_RECORD_INTERVAL:
        _record_use(api_token.id, user.id, now, ip)
    return user, api_token.id


def _record_use(token_id: int, user_id: int, now: datetime, ip: str | None) -> None:
    # One conditional UPDATE: concurrent requests record the use once.
    with transaction():
        updated = db.session.scalar(
            sa.update(ApiToken).where(ApiToken.id == token_id, sa.or_(
                ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - USE_RECORD_INTERVAL))
            .values(last_used_at=now).returning(ApiToken.id))
        if updated is not None:
            audit.record(user_id, "api_token.used", "api_token", token_id, ip=ip)
