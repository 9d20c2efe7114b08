"""Rate-limit keys.

``X-Forwarded-For`` is trusted only for the number of proxies named by ``TRUSTED_PROXIES``
(case 30 in docs/security.md): otherwise a client could rotate it to dodge per-IP limits.
"""
from __future__ import annotations

from flask import current_app
from flask import g
from flask import request


def client_ip() -> str:
    """The caller's IP, honouring X-Forwarded-For only from configured trusted proxies."""
    hops = int(current_app.config["TRUSTED_PROXIES"] or 0)
    if hops > 0:
        forwarded = [p.strip() for p in request.headers.get("X-Forwarded-For", "").split(",") if p.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.remote_addr or "unknown"


def visitor_key() -> str:
    """Per-visitor key when a visitor token was verified, else per IP."""
    visitor = getattr(g, "visitor", None)
    if visitor is not None:
        return f"visitor:{visitor.session_id}"
    return f"ip:{client_ip()}"


def operator_key() -> str:
    """Per signed-in operator, else per IP."""
    operator = getattr(g, "operator", None)
    if operator is not None:
        return f"operator:{operator.id}"
    return f"ip:{client_ip()}"


def typing_limit() -> str:
    """Typing signals per visitor / per operator (Flask-Limiter string)."""
    return str(current_app.config["TYPING_RATE_LIMIT"])


def presence_limit() -> str:
    """Availability changes per operator (Flask-Limiter string)."""
    return str(current_app.config["PRESENCE_RATE_LIMIT"])
