"""Request body caps that hold whatever the transfer encoding (issue 14 item 4, docs/security.md).

A cap checked against ``Content-Length`` alone lets a chunked body (no length) through, so
every request gets a per-request ``max_content_length`` before anything reads its body:
a declared length over the cap is refused unread, and a chunked body is read through a
stream that stops at the cap. Werkzeug's own max-length stream quietly truncates a
``read()`` of everything at the cap (the JSON then looks malformed), so ours answers 413
when more data follows the cap.

The cap of a view is, in order: its ``@body_limit(...)`` (uploads, small JSON calls), else
``WIDGET_BODY_MAX`` (64 KB) for anything under ``/widget/``, else ``BODY_MAX`` (1 MB) for
every other JSON call and form.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from typing import TypeVar

from flask import current_app
from flask import request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import LimitedStream

from messenger.errors import TooLarge

F = TypeVar("F", bound=Callable[..., Any])
WIDGET_BODY_MAX = 64 * 1024
BODY_MAX = 1024 * 1024
MULTIPART_OVERHEAD = 64 * 1024


def body_limit(limit: int | Callable[[], int]) -> Callable[[F], F]:
    """Give a view its own body cap in bytes (or a function returning it, read per request)."""

    def mark(view: F) -> F:
        view.body_limit = limit  # type: ignore[attr-defined]
        return view

    return mark


def upload_limit() -> int:
    """The largest upload body: the file limit plus room for the multipart envelope."""
    cfg = current_app.config
    return max(int(cfg["MAX_FILE_BYTES"]), int(cfg["MAX_IMAGE_BYTES"])) + MULTIPART_OVERHEAD


def limit_for_request() -> int:
    """The body cap of the current request's view."""
    view = current_app.view_functions.get(request.endpoint or "")
    limit = getattr(view, "body_limit", None)
    if limit is None:
        return WIDGET_BODY_MAX if request.path.startswith("/widget/") else BODY_MAX
    return int(limit() if callable(limit) else limit)


class CappedStream(LimitedStream):
    """A body stream that raises 413 past ``limit``, also when read all at once."""

    def __init__(self, stream: Any, limit: int) -> None:
        super().__init__(stream, limit, is_max=True)

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted and self._stream.read(1):
            raise RequestEntityTooLarge()
        return data


def apply_body_limit() -> None:
    """``before_request``: set the cap on the request; refuse a declared length over it at once."""
    limit = limit_for_request()
    request.max_content_length = limit
    if request.content_length is not None:
        if request.content_length > limit:
            raise TooLarge("The request is too large.", limit=limit)
    elif "wsgi.input_terminated" in request.environ:
        # Chunked (or otherwise unsized) body that the server terminates: read it capped.
        request.stream = CappedStream(request.environ["wsgi.input"], limit)  # type: ignore[assignment]
