"""Brute-force protection for the sign-in form that an attacker cannot turn into a lock-out.

Counters live in Redis (they are short-lived and per request; PostgreSQL stays the truth
for everything else). Three layers, none of which lets a stranger lock the real operator
out from the operator's own browser:

- Per (account, IP) pair: the first ``LOGIN_FREE_FAILURES`` wrong passwords cost nothing,
  then every further failure doubles a wait (1 s, 2 s, 4 s … up to ``LOGIN_MAX_DELAY_S``)
  during which that pair is refused with 429. Someone guessing from another address
  never delays the operator's pair; a success clears the pair.
- Per IP, across accounts: ``LOGIN_RATE_LIMIT`` (Flask-Limiter, in the view).
- Per account, across addresses: a higher ceiling, ``LOGIN_ACCOUNT_FAILURES`` per
  ``LOGIN_ACCOUNT_WINDOW_S``. Past it the account refuses sign-ins from browsers it has
  never seen, while a browser that signed in to this account before (a signed device
  cookie, OWASP "device cookies") still gets through. A botnet can therefore keep a
  new browser out for the window, never the operator's usual one: that is the trade-off
  (docs/security.md).

Every refusal is identical for existing and unknown accounts (the counters key on the
typed address, whatever it is). Redis down: the guard fails open and logs, like the
other rate limits.
"""
from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature
from itsdangerous import URLSafeTimedSerializer
from redis.exceptions import RedisError

from messenger.db import transaction
from messenger.services import audit

logger = logging.getLogger(__name__)

DEVICE_COOKIE = "messenger_device"
DEVICE_MAX_AGE_S = 180 * 24 * 3600
_DEVICE_SALT = "messenger.login-device.v1"
_PAIR_WINDOW_S = 3600


@dataclass(frozen=True, slots=True)
class Wait:
    """A refused attempt: how long to wait and why ("delay" for the pair, "account" for the ceiling)."""

    seconds: int
    reason: str


def _redis():  # type: ignore[no-untyped-def]
    return current_app.extensions.get("redis")


def _account(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:24]


def _keys(email: str, ip: str) -> tuple[str, str, str]:
    account = _account(email)
    pair = f"{account}:{ip}"
    return f"login:fail:{pair}", f"login:wait:{pair}", f"login:account:{account}"


def _cfg(name: str) -> int:
    return int(current_app.config[name])


def device_token(user_id: int) -> str:
    """The value of the device cookie set after a successful sign-in."""
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_DEVICE_SALT).dumps({"u": user_id})


def device_user(token: object) -> int | None:
    """The user id a valid device cookie was issued to, else None."""
    if not isinstance(token, str) or not 10 < len(token) < 256:
        return None
    try:
        data = URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_DEVICE_SALT).loads(
            token, max_age=DEVICE_MAX_AGE_S)
    except BadSignature:
        return None
    return data.get("u") if isinstance(data, dict) and isinstance(data.get("u"), int) else None


def check(email: str, ip: str, known_device: bool) -> Wait | None:
    """None when this attempt may be checked; otherwise how long this client must wait."""
    redis = _redis()
    if redis is None:
        return None
    fail_key, wait_key, account_key = _keys(email, ip)
    try:
        wait_ms = redis.pttl(wait_key)
        if wait_ms and wait_ms > 0:
            return Wait(max(1, math.ceil(wait_ms / 1000)), "delay")
        if not known_device and int(redis.get(account_key) or 0) >= _cfg("LOGIN_ACCOUNT_FAILURES"):
            return Wait(max(1, int(redis.ttl(account_key) or 1)), "account")
    except RedisError:
        logger.warning("login guard: Redis unavailable, failing open")
    return None


def failed(email: str, ip: str) -> int:
    """Count a wrong password; return the wait (seconds) it starts for this pair (0 for none). Audited."""
    redis = _redis()
    delay = 0
    account_failures = 0
    if redis is not None:
        fail_key, wait_key, account_key = _keys(email, ip)
        try:
            pipe = redis.pipeline()
            pipe.incr(fail_key)
            pipe.expire(fail_key, _PAIR_WINDOW_S)
            # A fixed window from the first failure (SET NX EX: EXPIRE NX needs Redis 7).
            pipe.set(account_key, 0, ex=_cfg("LOGIN_ACCOUNT_WINDOW_S"), nx=True)
            pipe.incr(account_key)
            failures, _, _, account_failures = pipe.execute()
            free = _cfg("LOGIN_FREE_FAILURES")
            if failures > free:
                delay = min(2 ** (failures - free - 1), _cfg("LOGIN_MAX_DELAY_S"))
                redis.set(wait_key, 1, ex=delay)
        except RedisError:
            logger.warning("login guard: Redis unavailable, failing open")
    with transaction():
        audit.record(None, "auth.login_failed", "account", _account(email), ip=ip, email=email[:254])
        if delay:
            audit.record(None, "auth.lockout", "account", _account(email), ip=ip, email=email[:254],
                         scope="pair", seconds=delay)
        if account_failures == _cfg("LOGIN_ACCOUNT_FAILURES"):
            audit.record(None, "auth.lockout", "account", _account(email), ip=ip, email=email[:254],
                         scope="account", seconds=_cfg("LOGIN_ACCOUNT_WINDOW_S"))
    return delay


def refused(email: str, ip: str, wait: Wait) -> None:
    """Audit an attempt refused while a wait is running."""
    with transaction():
        audit.record(None, "auth.login_refused", "account", _account(email), ip=ip, email=email[:254],
                     reason=wait.reason, seconds=wait.seconds)


def succeeded(email: str, ip: str) -> None:
    """A correct password clears this pair's failures (the account counter keeps running)."""
    redis = _redis()
    if redis is None:
        return
    fail_key, wait_key, _ = _keys(email, ip)
    try:
        redis.delete(fail_key, wait_key)
    except RedisError:
        logger.warning("login guard: Redis unavailable")
