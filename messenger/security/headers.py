"""Security headers on every response (OWASP HTTP headers cheat sheet).

Views may set their own ``Content-Security-Policy`` (the widget frame sets
``frame-ancestors`` to the inbox's origins; attachments set ``sandbox``) and their own
``Cross-Origin-Resource-Policy`` (the loader is ``cross-origin``); we only fill in what is
missing. Every response type gets: a CSP without inline script, ``nosniff``,
``Referrer-Policy``, ``Cross-Origin-Opener-Policy: same-origin`` (a page opened by or
opening another site gets no handle on it), ``Cross-Origin-Resource-Policy: same-origin``
(other sites cannot embed our responses as no-cors subresources) and, on HTTPS, HSTS.
Behind a TLS-terminating proxy, HTTPS is known from ``SECURE_COOKIES=true`` or from
``X-Forwarded-Proto`` of a trusted proxy (``TRUSTED_PROXIES``).
"""
from __future__ import annotations

from typing import Any

from flask import Response
from flask import current_app
from flask import request

from messenger.security.origins import widget_origin

DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


HSTS = "max-age=63072000; includeSubDomains"


def csp_embedding_widget(csp: str = DEFAULT_CSP) -> str:
    """``csp`` for one of our pages that embeds the widget (the demo shop, the admin preview).

    With a separate widget origin the page must load the loader from there, fetch the
    widget config from there and frame the chat from there; nothing else changes.
    """
    widget = widget_origin()
    if widget is None:
        return csp
    for directive in ("script-src 'self'", "connect-src 'self'", "img-src 'self'"):
        csp = csp.replace(directive, f"{directive} {widget}")
    return f"{csp}; frame-src 'self' {widget}"


def is_https() -> bool:
    """Whether the client reached us over HTTPS (directly, or through a trusted proxy)."""
    if request.is_secure or current_app.config.get("SESSION_COOKIE_SECURE"):
        return True
    if int(current_app.config.get("TRUSTED_PROXIES", 0) or 0) > 0:
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[-1].strip().lower()
        return proto == "https"
    return False


DEFAULTS = {
    "Content-Security-Policy": DEFAULT_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-XSS-Protection": "0",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def static_asset_headers(headers: Any, url: str) -> None:
    """The same defaults for files WhiteNoise serves outside Flask (``messenger/assets.py``).

    The loader is the one file other sites load, so its resource policy is ``cross-origin``.
    """
    for name, value in DEFAULTS.items():
        headers[name] = value
    if url == "/widget/loader.js":
        headers["Cross-Origin-Resource-Policy"] = "cross-origin"


def apply_security_headers(response: Response) -> Response:
    """Fill in the default security headers the view did not set itself."""
    headers = response.headers
    for name, value in DEFAULTS.items():
        headers.setdefault(name, value)
    if is_https():
        headers.setdefault("Strict-Transport-Security", HSTS)
    if "frame-ancestors 'none'" in headers.get("Content-Security-Policy", ""):
        headers.setdefault("X-Frame-Options", "DENY")
    headers.pop("Server", None)
    return response
