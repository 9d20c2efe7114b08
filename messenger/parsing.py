"""Small typed parsers shared by views and services (each a 422 naming the field on bad input)."""
from __future__ import annotations

from datetime import datetime

from messenger.errors import ValidationError


def parse_instant(value: object, field: str) -> datetime | None:
    """An ISO 8601 date-time with a time zone; None for null. ``Z`` is accepted for UTC."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise ValidationError(f"{field} must be an ISO date-time.", field=field)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"{field} must be an ISO date-time.", field=field) from None
    if parsed.tzinfo is None:
        raise ValidationError(f"{field} needs a time zone.", field=field)
    return parsed


def digits_or_none(raw: str, high: int = 2**31 - 1) -> int | None:
    """``raw`` as an integer in ``0..high`` when it is ASCII digits only, else None (for lenient filters)."""
    if raw.isascii() and raw.isdigit() and len(raw) <= 19 and int(raw) <= high:
        return int(raw)
    return None


def whole_number(raw: str | None, field: str, high: int = 2**63 - 1) -> int | None:
    """A query-string integer in ``0..high``; None when absent or empty.

    Only ASCII digits count: ``str.isdigit`` also accepts ``²`` or ``٣``, which ``int()`` then
    refuses (a 500) or reads as another number. A value past ``high`` (the column's range) is
    the same 422 naming the field, never a database overflow.
    """
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or int(raw) > high:
        raise ValidationError(f"{field} must be a whole number.", field=field)
    return int(raw)
