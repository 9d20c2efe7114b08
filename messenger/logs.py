"""Structured logs: one JSON object per line, with the request id of the request or job that logged it.

``configure_logging`` is called by the entry points (wsgi.py, worker.py), never at import.
A request takes its id from a sane ``X-Request-ID`` header (a proxy's) or makes one, echoes
it in the response, and ``messenger.jobs.enqueue`` copies it into the job's meta, so the
worker's lines about that job carry the same id.
"""
from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def current_request_id() -> str | None:
    """The id of the request or job being handled in this greenlet/process, if any."""
    return _request_id.get()


def bind_request_id(value: str | None) -> str:
    """Use ``value`` (when sane) or a fresh id for what this greenlet/process does next; returns it."""
    request_id = value if value and _SANE_ID.fullmatch(value) else uuid.uuid4().hex
    _request_id.set(request_id)
    return request_id


def clear_request_id() -> None:
    _request_id.set(None)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (``-`` outside requests and jobs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get() or "-"
        return True


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Root handler on stderr: JSON lines (``fmt="json"``) or plain text (``"text"``)."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    if fmt == "text":
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    else:
        handler.setFormatter(JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"}))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
