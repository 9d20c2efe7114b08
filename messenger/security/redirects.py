"""Where to go after signing in: only a path on this site, decided on the parsed URL.

Browsers forgive a lot when they resolve a ``Location``: they drop tabs and newlines,
read ``\\`` as ``/`` and treat ``//host`` as another site. So the target is refused when
its raw form or any percent-decoded form of it carries a control character, whitespace,
a backslash or ``//``, and is accepted only when ``urlsplit`` finds neither a scheme nor
a host and the path starts with ``/``. What is returned is rebuilt from the parsed
parts, never the raw input.
"""
from __future__ import annotations

import re
from urllib.parse import unquote
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

MAX_TARGET = 2048
_UNSAFE = re.compile(r"[\x00-\x20\x7f-\xa0\\\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f\u3000\ufeff]")


def _decoded_forms(value: str) -> list[str]:
    forms = [value]
    for _ in range(3):
        decoded = unquote(forms[-1])
        if decoded == forms[-1]:
            break
        forms.append(decoded)
    return forms


def safe_next(target: object) -> str | None:
    """The same-site path ``target`` names, or None when it is missing, foreign or malformed."""
    if not isinstance(target, str) or not target or len(target) > MAX_TARGET:
        return None
    for form in _decoded_forms(target):
        if _UNSAFE.search(form) or "//" in form or not form.startswith("/"):
            return None
    try:
        parts = urlsplit(target)
    except ValueError:
        return None
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    return urlunsplit(("", "", parts.path, parts.query, parts.fragment))
