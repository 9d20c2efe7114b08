"""Request models of the operator API (``/api/v1``): bodies and query strings, with their limits."""
from __future__ import annotations

from typing import Annotated
from typing import Literal
from uuid import UUID

from pydantic import ConfigDict
from pydantic import Field

from messenger.contract.core import BodyModel
from messenger.contract.core import QueryModel
from messenger.contract.types import Id
from messenger.contract.types import Instant
from messenger.contract.types import QueryId
from messenger.contract.types import QueryNumber
from messenger.contract.types import Version
from messenger.contract.types import digits

MAX_CONTENT = 10_000  # services.messages.MAX_CONTENT
MAX_ATTACHMENTS = 15  # services.messages.MAX_ATTACHMENTS
MAX_LABELS = 20  # services.labels.MAX_LABELS
AttachmentKey = Annotated[str, Field(min_length=1, max_length=64, description="An attachment id (upload answer)")]
Content = Annotated[str, Field(max_length=MAX_CONTENT, description="Plain text, rendered as text")]

_UUID = "2f1c8f52-3c1e-4d0b-9a43-8f0b0c3f1a77"


class ConversationListQuery(QueryModel):
    """Filters, sort and page of the conversation list; unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid")

    tab: Literal["waiting", "mine", "unassigned", "all"] = "all"
    status: Literal["open", "pending", "snoozed", "resolved", "any"] = "open"
    inbox_id: QueryId | None = None
    team_id: QueryId | None = None
    label_id: QueryId | None = None
    priority: Annotated[int, digits, Field(ge=0, le=4, description="0 none … 4 urgent")] | None = None
    sort: Literal["latest", "oldest_waiting", "newest", "priority"] = "latest"
    cursor: str | None = Field(default=None, max_length=400, description="next_cursor of the previous page")
    limit: Annotated[int, digits, Field(ge=1, le=100)] | None = None


class CountsQuery(ConversationListQuery):
    """The list's filters (the tab, sort and page parameters are accepted and ignored)."""


class MessagesQuery(QueryModel):
    before_id: QueryNumber | None = Field(default=None, description="Messages older than this id")
    limit: QueryNumber | None = Field(default=None, description="Page size (at most 99; 50 by default)")


class SendMessage(BodyModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"content": "Your parcel left today.", "client_id": _UUID, "private": False}]})

    content: Content = ""
    client_id: UUID = Field(description="A UUID made by the client: a retry with the same one is "
                                               "answered 200 with the first message, never a duplicate")
    private: bool = Field(default=False, description="A private note, never shown to the visitor")
    reopen: bool = Field(default=False, description="Reopen a resolved conversation with this reply")
    attachments: list[AttachmentKey] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)


class EditMessage(BodyModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"content": "Your parcel left this morning.",
                                                               "version": 0}]})

    content: Content
    version: Version | None = Field(default=None, description="content_attributes.edits as I saw it")


class DeleteMessage(BodyModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"version": 1}]})

    version: Version | None = None


class ChangeStatus(BodyModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"status": "resolved", "version": 5},
        {"status": "snoozed", "snoozed_until": "2026-11-29T09:00:00Z"}]})

    status: Literal["open", "pending", "snoozed", "resolved"]
    version: Version | None = None
    snoozed_until: Instant | None = Field(default=None, description="Required with snoozed: a future time")


class SetPriority(BodyModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"priority": 3, "version": 5}]})

    priority: int = Field(ge=0, le=4, description="0 none, 1 low, 2 medium, 3 high, 4 urgent")
    version: Version | None = None


class SetLabels(BodyModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"labels": [2, 5], "version": 5}]})

    labels: list[Id] = Field(max_length=MAX_LABELS, description="The label ids the conversation keeps")
    version: Version | None = None


class Assign(BodyModel):
    """At least one of user_id / team_id; null unassigns. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"user_id": 3, "version": 5}, {"team_id": 2, "user_id": None, "note": "Billing question"}]})

    user_id: Id | None = None
    team_id: Id | None = None
    note: Content | None = Field(default=None, description="Transfer note, stored as a private note")
    version: Version | None = None


class SelfAssign(BodyModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"version": 5}]})

    version: Version | None = None


AttributeValue = Annotated[str, Field(max_length=500)] | bool | int | float | None
AttributeName = Annotated[str, Field(pattern=r"^[a-z0-9_]{1,64}$")]


class PatchContact(BodyModel):
    """Only the fields sent change; null clears one. Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "Lea Martin", "email": "lea@example.com", "custom_attributes": {"plan": "pro"}}]})

    name: Annotated[str, Field(max_length=255)] | None = None
    email: Annotated[str, Field(max_length=254)] | None = None
    phone: Annotated[str, Field(max_length=32, description="Digits, spaces and + ( ) - . /")] | None = None
    custom_attributes: dict[AttributeName, AttributeValue] | None = Field(
        default=None, max_length=50, description="At most 50; names a-z 0-9 _; text values at most 500 characters")


class BlockContact(BodyModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"until": "2026-12-05T10:00:00Z", "reason": "spam", "block_address": False}, {"until": None}]})

    until: Instant | Literal[""] | None = Field(default=None, description="A future time; null: no expiry")
    reason: Annotated[str, Field(max_length=255)] | None = None
    block_address: bool = Field(default=False, description="Also block the visitor's current IP address")


class MarkSpam(BodyModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"block_address": True}]})

    block_address: bool = False


class SearchQuery(QueryModel):
    q: Annotated[str, Field(min_length=1, max_length=200,
                            description="Words (the last may be unfinished), an email or a phone number; "
                                        "query syntax is ignored")]


class CannedQuery(QueryModel):
    prefix: Annotated[str, Field(max_length=64, description="Short-code prefix")] = ""


class PositionQuery(QueryModel):
    after: QueryNumber | None = Field(default=None, description="Event-log position to continue after "
                                                                "(or the Last-Event-ID header)")


class TypingSignal(BodyModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"on": True, "private": False}]})

    on: bool
    private: bool = Field(default=False, description="Typing a private note (not shown to the visitor)")


class SetAvailability(BodyModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"availability": "busy"}]})

    availability: Literal["online", "busy", "offline"]


class SetPreferences(BodyModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"locale": "ru"}, {"locale": None}]})

    locale: Literal["en", "ru"] | None = Field(default=None, description="null: follow the browser")
