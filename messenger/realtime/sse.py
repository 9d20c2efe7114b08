"""Server-Sent Events framing (WHATWG HTML §9.2): pure functions from values to bytes.

An event is ``id:`` / ``event:`` / ``data:`` lines ended by a blank line; a line starting
with ``:`` is a comment (used as a keep-alive). Nothing here does I/O.
"""
from __future__ import annotations

import json
from typing import Any


def encode_json(data: Any) -> str:
    """Compact JSON for a ``data:`` field (never contains a raw newline)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)


def frame(data: Any, *, event: str | None = None, id: int | None = None) -> bytes:
    """One SSE event; ``data`` is JSON-encoded unless it is already a string."""
    text = data if isinstance(data, str) else encode_json(data)
    lines: list[str] = []
    if id is not None:
        lines.append(f"id: {int(id)}")
    if event is not None:
        if "\n" in event or "\r" in event:
            raise ValueError("event names are single-line")
        lines.append(f"event: {event}")
    # Several data lines are joined with "\n" by the client, so a multi-line string survives.
    lines.extend(f"data: {line}" for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    return ("\n".join(lines) + "\n\n").encode()


def comment(text: str = "") -> bytes:
    """A comment line: ignored by clients, keeps proxies from timing the connection out."""
    return f": {text}\n\n".encode() if text else b":\n\n"


def retry(milliseconds: int) -> bytes:
    """The reconnection-delay hint, sent once at the start of a stream."""
    return f"retry: {int(milliseconds)}\n\n".encode()
