"""One-time account links: an invitation (a new operator sets a password) or a password reset.

The raw token (256 random bits) is returned once, to be shown to the admin or e-mailed;
only its SHA-256 is stored. A link is valid for 72 hours and works once: consuming it is
one ``UPDATE … WHERE used_at IS NULL AND expires_at > now()``, so two tabs submitting the
same link cannot both set a password. Issuing a new link for a user voids the older ones.

E-mail (when SMTP is configured) calls ``link_url(token, base_url)`` on the token that
``operators.invite_operator`` / ``operators.reset_password`` return.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from messenger.db import after_commit
from messenger.db import transaction
from messenger.errors import DomainError
from messenger.errors import NotFound
from messenger.errors import ValidationError
from messenger.errors import found
from messenger.extensions import db
from messenger.i18n import N_
from messenger.models import AccountLink
from messenger.models import User
from messenger.services import audit
from messenger.services import mail
from messenger.services.users import MIN_PASSWORD

LINK_TTL = timedelta(hours=72)
PURPOSES = ("invite", "reset")
# A user who was invited and never set a password: no password can match this hash.
NO_PASSWORD = "!no-password"


class LinkGone(DomainError):
    """A link that was used, replaced or expired."""

    status = 410
    code = "link_gone"


@dataclass(frozen=True)
class IssuedLink:
    user_id: int
    token: str
    purpose: str
    expires_at: datetime


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def link_url(token: str, base_url: str) -> str:
    """The absolute URL an operator opens to set a password."""
    return f"{base_url.rstrip('/')}/account/{token}"


def issue_link(actor_id: int | None, user_id: int, purpose: str, *, ip: str | None = None) -> IssuedLink:
    """A new one-time link for ``user_id``; earlier unused links of the user stop working."""
    if purpose not in PURPOSES:
        raise ValueError(purpose)
    token = secrets.token_urlsafe(32)
    now = _now()
    with transaction():
        user = db.session.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("No such operator.")
        db.session.execute(sa.update(AccountLink).where(
            AccountLink.user_id == user_id, AccountLink.used_at.is_(None), AccountLink.expires_at > now)
            .values(expires_at=now))
        db.session.add(AccountLink(user_id=user_id, purpose=purpose, token_hash=_hash(token),
                                   created_by_id=actor_id, expires_at=now + LINK_TTL))
        audit.record(actor_id, f"user.{purpose}_link", "user", user_id, ip=ip)
        after_commit(lambda: mail.queue_account_link(user_id, link_url(token, mail.base_url()), purpose))
    return IssuedLink(user_id, token, purpose, now + LINK_TTL)


def get_link(token: str) -> tuple[AccountLink, User]:
    """The link and its user; 404 for an unknown token, 410 for a used or expired one."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        raise NotFound(N_("This link is not valid."))
    row = db.session.execute(sa.select(AccountLink, User).join(User, User.id == AccountLink.user_id)
                             .where(AccountLink.token_hash == _hash(token))).first()
    if row is None:
        raise NotFound(N_("This link is not valid."))
    link, user = row
    if link.used_at is not None or link.expires_at <= _now() or not user.active:
        raise LinkGone(N_("This link was already used or has expired. Ask your admin for a new one."))
    return link, user


def accept_link(token: str, password: str, *, ip: str | None = None) -> User:
    """Set the password through a link, once; every older session of the user ends."""
    if len(password or "") < MIN_PASSWORD:
        raise ValidationError(N_("Use at least 8 characters."), field="password")
    if len(password) > 200:
        raise ValidationError(N_("Too long."), field="password")
    get_link(token)  # 404 / 410 with the right message before anything is written
    with transaction():
        user_id = db.session.scalar(
            sa.update(AccountLink).where(AccountLink.token_hash == _hash(token), AccountLink.used_at.is_(None),
                                         AccountLink.expires_at > sa.func.now())
            .values(used_at=sa.func.now()).returning(AccountLink.user_id))
        if user_id is None:  # another request used it a moment ago
            raise LinkGone(N_("This link was already used or has expired. Ask your admin for a new one."))
        user = found(db.session.get(User, user_id, with_for_update=True, populate_existing=True), "operator")
        user.password_hash = generate_password_hash(password)
        user.session_version += 1
        audit.record(user.id, "user.password_set", "user", user.id, ip=ip)
    return user


def pending_invites(user_ids: list[int]) -> dict[int, datetime]:
    """For invited users who never set a password: when their newest link expires."""
    if not user_ids:
        return {}
    rows = db.session.execute(
        sa.select(AccountLink.user_id, sa.func.max(AccountLink.expires_at))
        .join(User, User.id == AccountLink.user_id)
        .where(AccountLink.user_id.in_(user_ids), User.password_hash == NO_PASSWORD)
        .group_by(AccountLink.user_id)).all()
    return {uid: expires for uid, expires in rows}
