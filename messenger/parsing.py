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
