"""Shared checks for the names and colours admins give things (labels, teams, inboxes)."""
from __future__ import annotations

import re

from sqlalchemy.exc import IntegrityError

from messenger.errors import Conflict
from messenger.errors import ValidationError
from messenger.i18n import N_

COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


def clean_name(value: object, *, field: str = "name", limit: int = 120) -> str:
    """A trimmed, non-empty name of at most ``limit`` characters without control characters."""
    name = " ".join(str(value or "").split())
    if not name:
        raise ValidationError(N_("This field is required."), field=field)
    if len(name) > limit:
        raise ValidationError(N_("Too long."), field=field, limit=limit)
    return name


def clean_color(value: object, *, field: str = "color") -> str:
    """``#rrggbb`` in lower case."""
    color = str(value or "").strip()
    if not COLOR_RE.match(color):
        raise ValidationError(N_("Use a colour like #1f6feb."), field=field)
    return color.lower()


def is_unique_violation(exc: IntegrityError, constraint: str) -> bool:
    """Whether an IntegrityError is the unique constraint/index named ``constraint``."""
    diag = getattr(getattr(exc, "orig", None), "diag", None)
    return getattr(diag, "constraint_name", None) == constraint or constraint in str(exc.orig)


def taken(field: str = "name") -> Conflict:
    return Conflict(N_("This name is already taken."), code="taken", field=field)
