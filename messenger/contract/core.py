"""The typed contract of a JSON API view: one decorator validates its input and documents it.

``@operation(summary, body=Model, query=Model, responses={200: Model})`` goes right under
the route and ``login_required`` decorators (authentication first, then the body). The
view receives the validated models as ``body=`` / ``query=`` keyword arguments; a value
that does not fit is a 422 ``{"error": "invalid", "message", "field"}`` naming the
top-level field, exactly like the errors services raise. ``messenger.openapi`` reads the
same declaration to write ``/api/openapi.json``, so the document and the checks cannot
drift apart. How to convert an endpoint: docs/api.md.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import TypeVar

import pydantic
from flask import request

from messenger.errors import ValidationError

F = TypeVar("F", bound=Callable[..., Any])

CONTRACT_ATTR = "__api_contract__"


class BodyModel(pydantic.BaseModel):
    """A JSON request body: strict JSON types (no ``"5"`` for 5, no ``true`` for 1), unknown keys ignored."""

    model_config = pydantic.ConfigDict(strict=True, extra="ignore", frozen=True)


class QueryModel(pydantic.BaseModel):
    """Query-string parameters. Every value arrives as text; an empty one counts as absent."""

    model_config = pydantic.ConfigDict(strict=True, extra="ignore", frozen=True)

    @pydantic.model_validator(mode="before")
    @classmethod
    def _empty_is_absent(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {k: v for k, v in data.items() if v != ""}
        return data


class ResponseModel(pydantic.BaseModel):
    """The shape of a JSON answer. Documentation only: views return the services' dicts, and
    ``extra="forbid"`` makes a key the document does not list a conformance failure."""

    model_config = pydantic.ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Contract:
    """What ``@operation`` declared about one view."""

    summary: str
    description: str = ""
    body: type[BodyModel] | None = None
    body_optional: bool = False
    query: type[QueryModel] | None = None
    # status -> model of the JSON answer (None: no JSON body documented, e.g. a file or 204)
    responses: Mapping[int, type[pydantic.BaseModel] | None] = field(default_factory=dict)
    # status -> when it happens (error codes a client should expect besides the generic 4XX)
    errors: Mapping[int, str] = field(default_factory=dict)
    content_type: str = "application/json"  # of the 2xx answers without a model (files, streams)
    files: tuple[str, ...] = ()  # multipart/form-data file fields the view reads itself (uploads)


def operation(summary: str, *, description: str = "", body: type[BodyModel] | None = None,
              body_optional: bool = False, query: type[QueryModel] | None = None,
              responses: Mapping[int, type[pydantic.BaseModel] | None] | None = None,
              errors: Mapping[int, str] | None = None, content_type: str = "application/json",
              files: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Declare and enforce a view's request and response contract (see the module docstring)."""
    contract = Contract(summary=summary, description=description, body=body, body_optional=body_optional,
                        query=query, responses=dict(responses or {}), errors=dict(errors or {}),
                        content_type=content_type, files=files)

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if contract.query is not None:
                kwargs["query"] = parse_query(contract.query)
            if contract.body is not None:
                kwargs["body"] = parse_body(contract.body, optional=contract.body_optional)
            return view(*args, **kwargs)

        setattr(checked, CONTRACT_ATTR, contract)
        return checked  # type: ignore[return-value]

    return decorate


def contract_of(view: Callable[..., Any]) -> Contract | None:
    """The contract declared on a view, looking through decorators that used ``functools.wraps``."""
    seen: Any = view
    while seen is not None:
        found = getattr(seen, CONTRACT_ATTR, None)
        if isinstance(found, Contract):
            return found
        seen = getattr(seen, "__wrapped__", None)
    return None


M = TypeVar("M", bound=pydantic.BaseModel)


def parse_body(model: type[M], *, optional: bool = False) -> M:
    """The request's JSON object as ``model``; a 422 naming the field otherwise.

    ``optional``: an empty body reads as ``{}`` (actions whose fields are all optional).
    """
    if optional and not request.content_length:
        return _validated(model, "{}")
    if not isinstance(request.get_json(silent=True), dict):
        raise ValidationError("Send a JSON object.", field="body")
    return _validated(model, request.get_data(cache=True))


def parse_query(model: type[M]) -> M:
    """The query string as ``model`` (the first value of a repeated parameter)."""
    try:
        return model.model_validate(request.args.to_dict())
    except pydantic.ValidationError as exc:
        raise refusal(exc, "query") from None


def _validated(model: type[M], raw: str | bytes) -> M:
    try:
        # JSON mode: strict JSON types, and text for UUIDs and ISO date-times as JSON carries them.
        return model.model_validate_json(raw)
    except pydantic.ValidationError as exc:
        raise refusal(exc, "body") from None


def refusal(exc: pydantic.ValidationError, where: str = "body") -> ValidationError:
    """The first problem of a pydantic error as our 422: ``field`` is the top-level key."""
    err = exc.errors(include_url=False, include_input=False)[0]
    loc = err.get("loc") or ()
    name = str(loc[0]) if loc else where
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    details: dict[str, Any] = {}
    if kind == "missing":
        message = f"{name} is required."
    elif kind == "extra_forbidden":
        message = f"Unknown field: {name}."
    else:
        text = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        message = f"{name}: {_lower_first(text)}."
        if kind in ("string_too_long", "too_long") and "max_length" in ctx:
            details["limit"] = ctx["max_length"]
    return ValidationError(message, field=name, **details)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text
