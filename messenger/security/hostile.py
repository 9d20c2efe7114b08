"""One request-level guard for hostile values no parser should meet (issue 14 item 8, docs/security.md).

Before any view runs, every query parameter, URL-encoded form field and JSON body is checked for:

- NUL bytes (PostgreSQL text refuses them: the insert or query would fail with a 500);
- JSON nested deeper than ``MAX_DEPTH`` (Python's parser raises ``RecursionError`` on
  tens of thousands of levels, and no route takes more than a few);
- ``NaN``/``Infinity`` (Python's JSON parser accepts them, JSON and ``jsonb`` do not);
- lone surrogates such as ``"\\ud800"`` (valid JSON escapes, but not encodable as UTF-8).

Each is a 422 naming the field (``body`` when the body as a whole is at fault), so nothing
is written. Integers past a column's range are refused by the routes' typed contracts
(``messenger/contract/``, docs/api.md), or where a route not converted yet parses them
(``messenger.parsing.whole_number``, ``conversations.valid_id``, ``labels.parse_label_ids``).
"""
from __future__ import annotations

import json
import math
from typing import Any

from flask import request

from messenger.errors import ValidationError

MAX_DEPTH = 32
NUL = "\x00"


def _refuse(field: str, what: str) -> None:
    raise ValidationError(f"{field} {what}.", field=field)


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValidationError("The JSON body is nested too deeply.", field="body") from None
    except ValueError:
        return None  # malformed JSON: the view answers it as it always has


def _bad_text(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None."""
    if NUL in value:
        return "must not contain NUL characters"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must be valid Unicode text"
    return None


def _check_json(data: Any) -> None:
    """Walk the parsed body without recursion; the field named is the top-level key."""
    stack: list[tuple[Any, str, int]] = [(data, "body", 0)]
    while stack:
        value, field, depth = stack.pop()
        if depth > MAX_DEPTH:
            _refuse("body", f"is nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, str):
            problem = _bad_text(value)
            if problem:
                _refuse(field, problem)
        elif isinstance(value, float):
            if not math.isfinite(value):
                _refuse(field, "must be a finite number")
        elif isinstance(value, dict):
            for key, item in value.items():
                name = key if depth == 0 else field
                problem = _bad_text(key)
                if problem:
                    _refuse(name if depth else "body", problem)
                stack.append((item, name, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, field, depth + 1) for item in value)


def refuse_hostile_values() -> None:
    """``before_request``: a 422 naming the field for NUL bytes, deep nesting or non-finite numbers."""
    for key, value in request.args.items(multi=True):
        if NUL in key or NUL in value:
            _refuse(key.replace(NUL, ""), "must not contain NUL characters")
    # Multipart bodies are left to their views: uploads stream their own parser (security/bodies.py).
    if request.mimetype == "application/x-www-form-urlencoded":
        for key, value in request.form.items(multi=True):
            if NUL in key or NUL in value:
                _refuse(key.replace(NUL, ""), "must not contain NUL characters")
    elif request.is_json:
        raw = request.get_data(cache=True)
        if raw:
            _check_json(_parse_json(raw))
