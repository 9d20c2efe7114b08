"""Short-lived signed download URLs for the widget (``?sig=``).

The widget frame cannot put ``X-Visitor-Token`` on ``<img src>``, ``<video src>`` or a
download link, so it mints URLs with an API call (header-authenticated). Each signature
is bound to one attachment key, one variant (``file`` / ``thumb``) and one contact
session, carries a hash of the session's secret token id (a reset or revoked session
kills it), and expires after ``ATTACHMENT_URL_TTL_S`` (default 120 s). It is signed with
its own salt, so it can never stand in for a visitor token or a stream ticket (case 20 in docs/security.md).
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from flask import current_app
from itsdangerous import BadSignature
from itsdangerous import URLSafeTimedSerializer

_SALT = "messenger.attachment-url.v1"
VARIANTS = ("file", "thumb")


@dataclass(frozen=True, slots=True)
class UrlClaims:
    key: str
    variant: str
    session_id: int
    token_hash: str


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def ttl_s() -> int:
    """Lifetime of a signed URL in seconds."""
    return int(current_app.config["ATTACHMENT_URL_TTL_S"])


def token_hash(token_id: str) -> str:
    """A short digest of the session's token id (the id itself never goes into a URL)."""
    return hashlib.sha256(token_id.encode()).hexdigest()[:32]


def sign(key: str, variant: str, session_id: int, token_id: str) -> str:
    """A signature for one attachment variant and one contact session."""
    return _serializer().dumps({"k": key, "v": variant, "s": session_id, "h": token_hash(token_id)})


def read(sig: object, key: str, variant: str) -> UrlClaims | None:
    """The claims of a valid, unexpired signature for exactly this key and variant; None otherwise."""
    if not isinstance(sig, str) or not 10 < len(sig) < 512:
        return None
    try:
        data: Any = _serializer().loads(sig, max_age=ttl_s())
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("s"), int) or not isinstance(data.get("h"), str):
        return None
    # The signature is already verified, so a plain comparison leaks nothing (and accepts any str).
    if data.get("k") != key or data.get("v") != variant:
        return None
    return UrlClaims(key, variant, data["s"], data["h"])


def matches_session(claims: UrlClaims, token_id: str) -> bool:
    """True if the claims were minted for the session whose token id is ``token_id``."""
    return hmac.compare_digest(claims.token_hash, token_hash(token_id))
