"""Request models of the widget API (``/widget/api/v1``): bodies and query strings, with their limits.

Types and lengths live here; the services still check what needs more than a type (an
``http(s)`` URL, a known time zone, an address that looks like one, the inbox's pre-chat
fields) and raise the same 422 naming the field.
"""
from __future__ import annotations

from typing import Annotated
from typing import Any
from uuid import UUID

from pydantic import ConfigDict
from pydantic import Field
from pydantic import StringConstraints
from pydantic import WithJsonSchema

from messenger.contract.core import BodyModel
from messenger.contract.core import QueryModel
from messenger.contract.operator import MAX_ATTACHMENTS
from messenger.contract.operator import AttachmentKey
from messenger.contract.operator import Content
from messenger.contract.types import Id
from messenger.contract.types import QueryNumber

MAX_PAGES = 20  # services.contacts.MAX_PAGES
MAX_ATTRIBUTES = 30  # services.contacts.MAX_ATTRIBUTES
MAX_ATTRIBUTE_VALUE = 500  # services.contacts.MAX_ATTRIBUTE_VALUE
MAX_FORM_FIELDS = 30  # services.widget.MAX_FORM_FIELDS
FIELD_LIMIT = 1000  # services.widget.FIELD_LIMIT
MAX_URL_IDS = 50
WEEK_S = 7 * 86400
# A page's opening time, milliseconds since 1970: 2000-01-01 … 2100-01-01 (services.contacts._visited_at).
FIRST_MS, LAST_MS = 946_684_800_000, 4_102_444_800_000

Url = Annotated[str, Field(max_length=2048, description="An http(s) URL")]
Name = Annotated[str, Field(max_length=255)]
Email = Annotated[str, Field(max_length=254, description="An e-mail address")]
Phone = Annotated[str, Field(max_length=32, description="Digits with the usual separators, optional leading +")]
AttributeKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")]
AttributeValue = Annotated[str, Field(max_length=MAX_ATTRIBUTE_VALUE)] | int | float | bool | None
Honeypot = Annotated[str | None, Field(description="Hidden from people: always empty (or absent) from a person")]
InboxToken = Annotated[str, Field(max_length=64, description="The inbox's website token (from the embed code)")]

_UUID = "9b2d6c1e-4f7a-4c3b-8e21-5d0f6a7b8c90"
_TOKEN = "hQ3vW8pL2sX9kR4t"


class ConfigQuery(QueryModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"inbox": _TOKEN, "page": "/pricing"}]})

    inbox: InboxToken
    page: str | None = Field(default=None, max_length=2048,
                             description="The page's path, for the proactive greeting (url_pattern)")


class VisitedPage(BodyModel):
    """One page of this visit, as the loader records it."""

    url: Url
    title: str | None = Field(default=None, max_length=512)
    at: int = Field(ge=FIRST_MS, le=LAST_MS, description="When it opened, milliseconds since 1970")
    s: int | None = Field(default=None, ge=0, le=WEEK_S, description="Seconds spent on it, once left")
    ref: str | None = Field(default=None, max_length=2048,
                            description="Only on the landing page (the first): document.referrer")


# Each page is checked by services.contacts.clean_visit, so that a 422 names the entry and its field
# (``pages[2].url``); the document still shows the entry's shape and limits.
Visit = Annotated[list[Any], Field(max_length=MAX_PAGES), WithJsonSchema({
    "type": "array", "maxItems": MAX_PAGES, "items": VisitedPage.model_json_schema(),
    "description": "This visit's pages, the landing page first (a bad entry is a 422 naming it: pages[2].url)"})]


class PageReport(BodyModel):
    """Where the visitor is (every field optional; a non-http(s) URL is a 422)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "url": "https://shop.example/pricing", "title": "Pricing", "referrer": "https://search.example/",
        "pages": [{"url": "https://shop.example/", "title": "Shop", "at": 1764324900000, "s": 42,
                   "ref": "https://search.example/"},
                  {"url": "https://shop.example/pricing", "title": "Pricing", "at": 1764324942000}]}]})

    url: Url | None = None
    title: str | None = Field(default=None, max_length=512)
    referrer: Url | None = None
    locale: str | None = Field(default=None, max_length=35, description="A BCP 47 language tag (en, pt-BR)")
    timezone: str | None = Field(default=None, max_length=64, description="An IANA time zone (Europe/Berlin)")
    pages: Visit | None = None


class StartSession(PageReport):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "inbox": _TOKEN, "url": "https://shop.example/pricing", "title": "Pricing", "locale": "en-GB",
        "timezone": "Europe/London"}]})

    inbox: InboxToken
    token: str | None = Field(default=None, max_length=512,
                              description="The visitor token kept from before (or send it as X-Visitor-Token): "
                                          "the same session resumes (200); otherwise a new one (201)")


class VisitorContactUpdate(BodyModel):
    """``Messenger.setAttributes``: a field sent replaces the stored one; attributes are merged."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"name": "Lea Park", "email": "lea@example.com", "custom_attributes": {"plan": "pro", "seats": 5}}]})

    name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    custom_attributes: dict[AttributeKey, AttributeValue] | None = Field(
        default=None, max_length=MAX_ATTRIBUTES, description="Flat: text (≤ 500), numbers, booleans or null")


class Identify(VisitorContactUpdate):
    """``Messenger.setUser``: the identifier and, from the customer's server, its HMAC."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"identifier": "user-1042", "identifier_hash": "5f0c" + "0" * 60, "name": "Lea Park",
         "email": "lea@example.com"}]})

    identifier: str = Field(min_length=1, max_length=255, description="The customer's own user id")
    identifier_hash: str | None = Field(default=None, description="Hex HMAC-SHA256 of identifier with the inbox's "
                                                                  "secret; a wrong one is a 401")


class NewConversation(BodyModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{}]})

    hp: Honeypot = None


class VisitorSendMessage(BodyModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"content": "Hello, where is my parcel?", "client_id": _UUID}]})

    content: Content = ""
    client_id: UUID = Field(description="A UUID made by the widget: a retry with the same one is answered 200 "
                                        "with the first message, never a duplicate")
    conversation_id: Id | None = Field(default=None, description="Without it: the conversation in progress, "
                                                                 "or a new one")
    attachments: list[AttachmentKey] = Field(default_factory=list, max_length=MAX_ATTACHMENTS,
                                             description="Ids from the upload answers; content may then be empty")
    hp: Honeypot = None


class VisitorMessagesQuery(QueryModel):
    before: QueryNumber | None = Field(default=None, description="Messages older than this id (scroll up)")
    after: QueryNumber | None = Field(default=None, description="Messages newer than this id (catch up)")
    limit: QueryNumber | None = Field(default=None, description="Page size: 30 by default, at most 100")


PrechatValue = Annotated[str, Field(max_length=FIELD_LIMIT)] | bool | int | float | None


class Prechat(BodyModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "fields": {"name": "Lea", "email": "lea@example.com", "topic": "Support"},
        "message": "Hello, where is my parcel?", "client_id": _UUID}]})

    fields: dict[Annotated[str, Field(max_length=64)], PrechatValue] = Field(
        max_length=MAX_FORM_FIELDS, description="The inbox's pre-chat fields by name (config.prechat.fields)")
    message: Content | None = Field(default=None, description="The first message, if any")
    client_id: UUID | None = Field(default=None, description="Required with message")
    hp: Honeypot = None


class OfflineForm(BodyModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"email": "lea@example.com", "name": "Lea", "message": "Please call me back tomorrow."}]})

    email: Email
    name: Name | None = None
    message: Content
    client_id: UUID | None = None
    hp: Honeypot = None


class Transcript(BodyModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"email": "lea@example.com"}, {}]})

    email: Email | None = Field(default=None, description="Default: the address the visitor left")


class Rate(BodyModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"rating": 5, "comment": "Quick and friendly."}]})

    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)


class VisitorTyping(BodyModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"on": True}]})

    on: bool


class SignedUrlsRequest(BodyModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"ids": ["k3J9xQ2mV7pL"]}]})

    ids: list[AttachmentKey] = Field(max_length=MAX_URL_IDS, description="Attachment ids; unknown ones are left out")


class VisitorDownloadQuery(QueryModel):
    sig: str | None = Field(default=None, max_length=512, description="A signed URL's signature (instead of the "
                                                                      "X-Visitor-Token header)")


class VisitorStreamQuery(QueryModel):
    ticket: str | None = Field(default=None, max_length=512,
                               description="From POST /stream-ticket: single use, short-lived (401 without)")
    after: QueryNumber | None = Field(default=None, description="Events after this position (or Last-Event-ID)")


class VisitorEventsQuery(QueryModel):
    after: QueryNumber | None = Field(default=None, description="Events after this position")

