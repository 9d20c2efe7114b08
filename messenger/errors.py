"""Domain errors and the handlers that render them as JSON (API) or HTML (pages).

Services raise these; views never build error bodies by hand. Every error body of the
JSON API is ``{"error": code, "message": text}`` plus optional details.
"""
from __future__ import annotations

import logging
from typing import Any
from typing import TypeVar

from flask import Flask
from flask import jsonify
from flask import render_template
from flask import request
from flask.typing import ResponseReturnValue
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import HTTPException

from messenger.extensions import db

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """Base of every error a service may raise; carries an HTTP status and a stable code."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str = "", *, code: str | None = None, **details: Any) -> None:
        super().__init__(message or self.code)
        self.message = message or self.code.replace("_", " ")
        if code:
            self.code = code
        self.details = details


class ValidationError(DomainError):
    status = 422
    code = "invalid"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Conflict(DomainError):
    """Stale version or lost race: the client gets the current state in ``details``."""

    status = 409
    code = "conflict"


class TooLarge(DomainError):
    status = 413
    code = "too_large"


T = TypeVar("T")


def found(value: T | None, what: str) -> T:
    """``value``, or NotFound naming ``what``: a row a request needs is checked, never ``assert``-ed
    (``python -O`` strips asserts, and a row deleted meanwhile must be a 404, not a 500)."""
    if value is None:
        raise NotFound(f"No such {what}.")
    return value


def wants_json() -> bool:
    """True for API paths and for clients that prefer JSON."""
    path = request.path
    if "/api/" in path or path.startswith("/widget/api") or path.endswith(".json") or path in ("/healthz", "/readyz"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json"


def error_response(status: int, code: str, message: str, **details: Any) -> ResponseReturnValue:
    """Render one error as JSON or HTML, depending on the caller."""
    if wants_json():
        body: dict[str, Any] = {"error": code, "message": message}
        body.update(details)
        return jsonify(body), status
    return render_template("error.html", status=status, message=message), status


def register_error_handlers(app: Flask) -> None:
    """Install the handlers for domain errors, HTTP errors and unexpected exceptions."""

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError) -> ResponseReturnValue:
        response = app.make_response(error_response(exc.status, exc.code, exc.message, **exc.details))
        if exc.status == 429 and isinstance(exc.details.get("retry_after"), int):
            response.headers["Retry-After"] = str(exc.details["retry_after"])
        return response

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        code = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
                429: "rate_limited"}.get(status, "error")
        message = exc.description or code
        if status == 400 and "CSRF" in (exc.description or ""):
            code = "csrf_failed"
        response = app.make_response(error_response(status, code, message))
        if status == 429 and not isinstance(exc, RateLimitExceeded):
            # Flask-Limiter sets the exact Retry-After of its own 429s (when the window resets); a
            # value set here would only raise it (it keeps the larger), so other 429s get one.
            response.headers.setdefault("Retry-After", "60")
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> ResponseReturnValue:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return error_response(500, "internal_error", "Something went wrong on our side.")
