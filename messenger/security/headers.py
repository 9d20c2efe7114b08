"""Security headers on every response (OWASP HTTP headers cheat sheet).

Views may set their own ``Content-Security-Policy`` (the widget frame sets
``frame-ancestors`` to the inbox's origins; attachments set ``sandbox``); we only fill in
what is missing.
"""
from __future__ import annotations

from flask import Response

DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def apply_security_headers(response: Response) -> Response:
    """Fill in the default security headers the view did not set itself."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", DEFAULT_CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-XSS-Protection", "0")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if "frame-ancestors 'none'" in headers.get("Content-Security-Policy", ""):
        headers.setdefault("X-Frame-Options", "DENY")
    headers.pop("Server", None)
    return response
