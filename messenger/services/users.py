"""Operators: creation, authentication, passwords, deactivation."""
from __future__ import annotations

import hmac
import logging
import secrets
from datetime import datetime
from datetime import timezone

import sqlalchemy as sa
from werkzeug.security import check_password_hash
from werkzeug.security import generate_password_hash

from messenger.db import transaction
from messenger.errors import Conflict
from messenger.errors import NotFound
from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.models import PANEL_LOCALES
from messenger.models import ROLES
from messenger.models import OperatorSession
from messenger.models import User
from messenger.services import audit
from messenger.services import routing

logger = logging.getLogger(__name__)

# A real hash so an unknown email costs the same time as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password")
MIN_PASSWORD = 8


def normalise_email(email: str) -> str:
    """Trim and lower-case an email; raise ValidationError when it is clearly not one."""
    email = (email or "").strip().lower()
    if not email or len(email) > 254 or "@" not in email or email.startswith("@") or email.endswith("@"):
        raise ValidationError("Enter a valid email address.", field="email")
    return email


def get_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))


def get_session_user(user_id: object, session_version: object, session_id: object) -> User | None:
    """The user behind a session cookie, or None when it was signed out, revoked or never existed.

    The cookie names a server-side ``operator_sessions`` row: signing out revokes that row,
    so a copied cookie dies with it; a newer ``session_version`` (password change,
    deactivation, "sign out everywhere") kills every older cookie at once.
    """
    if not isinstance(user_id, int) or not isinstance(session_version, int) or not isinstance(session_id, str):
        return None
    user = db.session.scalar(
        sa.select(User).join(OperatorSession, OperatorSession.user_id == User.id)
        .where(User.id == user_id, OperatorSession.id == session_id, OperatorSession.revoked_at.is_(None)))
    if user is None or not user.active or user.session_version != session_version:
        return None
    return user


def open_session(user: User, *, ip: str | None, user_agent: str | None) -> str:
    """Record a new signed-in browser for ``user`` (audited); return its random id for the cookie."""
    session_id = secrets.token_urlsafe(32)
    with transaction():
        db.session.add(OperatorSession(id=session_id, user_id=user.id, ip=(ip or "")[:64] or None,
                                       user_agent=(user_agent or "")[:512] or None))
        audit.record(user.id, "auth.login", "user", user.id, ip=ip)
    return session_id


def end_session(user_id: int, session_id: str, *, ip: str | None) -> None:
    """Sign out one browser: its cookie (and any copy of it) stops working."""
    with transaction():
        db.session.execute(sa.update(OperatorSession).where(
            OperatorSession.id == session_id, OperatorSession.user_id == user_id,
            OperatorSession.revoked_at.is_(None)).values(revoked_at=datetime.now(timezone.utc)))
        audit.record(user_id, "auth.logout", "user", user_id, ip=ip)


def end_all_sessions(actor_id: int | None, user_id: int, *, ip: str | None = None) -> None:
    """"Sign out everywhere": every session and open stream of ``user_id`` ends within one heartbeat."""
    with transaction():
        user = db.session.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("No such operator.")
        user.session_version += 1
        db.session.execute(sa.update(OperatorSession).where(
            OperatorSession.user_id == user_id, OperatorSession.revoked_at.is_(None))
            .values(revoked_at=datetime.now(timezone.utc)))
        audit.record(actor_id, "auth.logout_everywhere", "user", user_id, ip=ip)


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None (same cost either way)."""
    user = get_user_by_email(email or "")
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    return user


def create_user(actor_id: int | None, *, name: str, email: str, password: str, role: str = "agent",
                capacity: int = 10) -> User:
    """Create an operator; the email must be unused."""
    email = normalise_email(email)
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValidationError("Name is required (at most 120 characters).", field="name")
    if role not in ROLES:
        raise ValidationError("Unknown role.", field="role")
    if len(password or "") < MIN_PASSWORD:
        raise ValidationError(f"Password must have at least {MIN_PASSWORD} characters.", field="password")
    if not 0 <= capacity <= 1000:
        raise ValidationError("Capacity must be between 0 and 1000.", field="capacity")
    with transaction():
        if get_user_by_email(email) is not None:
            raise Conflict("An operator with this email exists.", code="email_taken")
        user = User(name=name, email=email, password_hash=generate_password_hash(password), role=role,
                    capacity=capacity)
        db.session.add(user)
        db.session.flush()
        audit.record(actor_id, "user.create", "user", user.id, email=email, role=role)
    return user


def set_password(actor_id: int | None, user_id: int, password: str) -> User:
    """Change a password and revoke every open session of that user."""
    if len(password or "") < MIN_PASSWORD:
        raise ValidationError(f"Password must have at least {MIN_PASSWORD} characters.", field="password")
    with transaction():
        user = db.session.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("No such operator.")
        user.password_hash = generate_password_hash(password)
        user.session_version += 1
        audit.record(actor_id, "user.password", "user", user.id)
    return user


def ensure_password(actor_id: int | None, user_id: int, password: str) -> bool:
    """Set ``password`` only when it is not already the user's (a restart must not revoke sessions); True if changed."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such operator.")
    if check_password_hash(user.password_hash, password or ""):
        return False
    set_password(actor_id, user_id, password)
    return True


def deactivate_user(actor_id: int | None, user_id: int, *, ip: str | None = None) -> User:
    """Deactivate an operator (never delete): sessions revoked, availability offline."""
    with transaction():
        user = db.session.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("No such operator.")
        user.active = False
        user.availability = "offline"
        user.session_version += 1
        audit.record(actor_id, "user.deactivate", "user", user.id, ip=ip)
        # Their unanswered conversations go back to the queue (services/assignment/repair.py).
        routing.on_operator_offline(user.id)
    return user


def set_locale(user_id: int, locale: object) -> User:
    """The operator's panel language: one of PANEL_LOCALES, or None to follow the browser."""
    if locale is not None and (not isinstance(locale, str) or locale not in PANEL_LOCALES):
        raise ValidationError(f"locale must be one of: {', '.join(PANEL_LOCALES)} (or null).", field="locale")
    with transaction():
        user = db.session.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("No such operator.")
        user.locale = locale
    return user


def constant_time_equal(a: str, b: str) -> bool:
    """Compare two secrets without leaking their common prefix length (case 17 in docs/security.md)."""
    if not isinstance(a, str) or not isinstance(b, str):
        return False
    return hmac.compare_digest(a.encode(), b.encode())
