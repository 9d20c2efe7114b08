"""Signed tokens: the visitor token (long-lived, widget storage) and stream tickets (≤ 60 s).

Both are itsdangerous signatures with distinct salts, so one can never stand in for the
other (case 20 in docs/security.md). The visitor token carries the contact session id and its random
``token_id``; revoking the session (``reset()``) kills the token even before it expires.
A stream ticket also carries a random nonce and opens one stream only: ``redeem_stream_ticket``
spends the nonce in Redis (``SET NX`` for the ticket's lifetime), so a ticket copied from a
log, a proxy or a Referer is worthless once used (issue 14 item 6).
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from flask import current_app
from itsdangerous import BadSignature
from itsdangerous import URLSafeTimedSerializer
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

_VISITOR_SALT = "messenger.visitor.v1"
_TICKET_SALT = "messenger.stream-ticket.v1"


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


@dataclass(frozen=True, slots=True)
class VisitorClaims:
    session_id: int
    token_id: str


def sign_visitor_token(session_id: int, token_id: str) -> str:
    """The token the widget keeps and sends as ``X-Visitor-Token``."""
    return _serializer(_VISITOR_SALT).dumps({"s": session_id, "t": token_id})


def read_visitor_token(token: object) -> VisitorClaims | None:
    """Claims of a valid, unexpired visitor token; None for anything else."""
    if not isinstance(token, str) or not 10 < len(token) < 512:
        return None
    try:
        data: Any = _serializer(_VISITOR_SALT).loads(token, max_age=current_app.config["VISITOR_TOKEN_TTL_S"])
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("s"), int) or not isinstance(data.get("t"), str):
        return None
    return VisitorClaims(session_id=data["s"], token_id=data["t"])


def sign_stream_ticket(audience: str, subject: int, token_id: str = "") -> str:
    """A short-lived, single-use ticket for one stream (``audience`` = "visitor")."""
    return _serializer(_TICKET_SALT).dumps({"a": audience, "s": subject, "t": token_id,
                                            "n": secrets.token_urlsafe(16)})


def _ticket_data(ticket: object, audience: str) -> dict[str, Any] | None:
    if not isinstance(ticket, str) or not 10 < len(ticket) < 512:
        return None
    try:
        data: Any = _serializer(_TICKET_SALT).loads(ticket, max_age=current_app.config["STREAM_TICKET_TTL_S"])
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("a") != audience or not isinstance(data.get("s"), int):
        return None
    return data


def redeem_stream_ticket(ticket: object, audience: str) -> tuple[int, str] | None:
    """(subject, token_id) of a valid, unexpired, unused ticket for ``audience``, spending it; None otherwise.

    Redis unreachable: the ticket still works (its 60 s lifetime and session binding hold);
    chat must not stop with Redis, like the rate limits.
    """
    data = _ticket_data(ticket, audience)
    nonce = data.get("n") if data is not None else None
    if data is None or not isinstance(nonce, str) or not 10 < len(nonce) < 64:
        return None
    redis = current_app.extensions.get("redis")
    if redis is not None:
        try:
            lifetime = int(current_app.config["STREAM_TICKET_TTL_S"]) + 5
            if not redis.set(f"ticket:spent:{nonce}", 1, nx=True, ex=lifetime):
                return None
        except RedisError:
            logger.warning("stream tickets: Redis unavailable, single use not enforced")
    return data["s"], str(data.get("t", ""))
