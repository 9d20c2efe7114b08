"""Bearer tokens on the operator API: which requests carry one, and CSRF only for ambient credentials.

A request to ``/api/`` with ``Authorization: Bearer …`` is authenticated by that token
alone (``blueprints/operator/auth.py``), never by the session cookie, so it needs no CSRF
token: a browser attaches cookies to a forged cross-site request, but it cannot attach
this header to one (a cross-origin request with it needs a CORS preflight the API never
grants). Every other request keeps Flask-WTF's CSRF check.
"""
from __future__ import annotations

from typing import Any

from flask import request
from flask_wtf import CSRFProtect


def api_bearer_token() -> str | None:
    """The token of an ``/api/`` request sent with ``Authorization: Bearer``, else None ("" if empty)."""
    if not request.path.startswith("/api/"):
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


class CSRFProtectUnlessBearer(CSRFProtect):
    """Flask-WTF's CSRF check, skipped for token-authenticated API requests."""

    def protect(self, *args: Any, **kwargs: Any) -> Any:
        if api_bearer_token() is not None:
            return None
        return super().protect(*args, **kwargs)
