"""Field types shared by the request models: ids, versions, bounded text, query-string integers.

Each carries its limit in the type, so the check and the document are one declaration.
"""
from __future__ import annotations

from typing import Annotated
from typing import Any

from pydantic import AwareDatetime
from pydantic import BeforeValidator
from pydantic import Field

MAX_ID = 2**31 - 1  # int4 ids (conversations.MAX_ID)
MAX_BIGINT = 2**63 - 1

Id = Annotated[int, Field(ge=1, le=MAX_ID, description="A record id")]
Version = Annotated[int, Field(ge=0, le=MAX_ID, description="The version the client saw (409 when stale)")]
Instant = Annotated[AwareDatetime, Field(description="ISO 8601 date-time with a time zone (Z for UTC)")]


def _ascii_digits(value: Any) -> Any:
    """Query text to an integer: ASCII digits only (``²`` or ``٣`` are not numbers), at most 19 of them."""
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()) or len(value) > 19:
            raise ValueError("must be a whole number")
        return int(value)
    return value


# Query-string integers: ``Annotated[int, digits, Field(ge=…, le=…)]`` (bounds per parameter).
digits = BeforeValidator(_ascii_digits)
QueryId = Annotated[int, digits, Field(ge=1, le=MAX_ID)]
QueryNumber = Annotated[int, digits, Field(ge=0, le=MAX_BIGINT)]


# Answers carry date-times as ISO 8601 text.
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
