"""Server-rendered form handling shared by the admin pages and the operator's own pages.

``run_form(form, action)`` validates a Flask-WTF form (CSRF included), calls the service,
and turns a ``ValidationError(field=...)`` / ``Conflict(field=...)`` raised by the
service into an error next to that field (translated: service messages are catalog
entries). ``form_status`` answers 422 for a submitted form shown again with errors.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from typing import TypeVar

from flask_babel import gettext
from flask_wtf import FlaskForm

from messenger.errors import DomainError
from messenger.errors import NotFound
from messenger.extensions import db
from messenger.parsing import digits_or_none

T = TypeVar("T")


def get_or_404(model: type[T], object_id: int) -> T:
    """Load a row by primary key or raise a 404."""
    obj = db.session.get(model, object_id)
    if obj is None:
        raise NotFound("Not found.")
    return obj


def _find_field(form: Any, name: str) -> Any:
    """``"name"`` or ``"rows.2"`` (the first input of row 2 of a FieldList of sub-forms)."""
    head, _, index = name.partition(".")
    field = form._fields.get(head)  # noqa: SLF001
    if field is None or not index:
        return field
    entries = getattr(field, "entries", None)
    position = digits_or_none(index)
    if position is None or entries is None or position >= len(entries):
        return field
    entry = entries[position]
    sub = getattr(entry, "form", None)
    return next(iter(sub), entry) if sub is not None else entry


def field_error(form: FlaskForm, exc: DomainError) -> None:
    """Show a service error next to its field (``details["field"]``), else at the top of the form."""
    message = gettext(exc.message)  # service messages are catalog entries (marked with N_)
    form.service_error = True
    name = exc.details.get("field")
    field = _find_field(form, name) if isinstance(name, str) else None
    if field is not None:
        field.errors = [*field.errors, message]
    else:
        form.form_errors.append(message)


def run_form(form: FlaskForm, action: Callable[[], T]) -> T | None:
    """On a valid POST call ``action``; domain errors go next to their field. None: show the form again."""
    if not form.validate_on_submit():
        return None
    try:
        return action()
    except DomainError as exc:
        if exc.status not in (409, 422):
            raise
        field_error(form, exc)
        return None


def form_status(form: FlaskForm) -> int:
    """422 when a submitted form is shown again with errors, else 200."""
    failed = form.errors or form.form_errors or getattr(form, "service_error", False)
    return 422 if form.is_submitted() and failed else 200
