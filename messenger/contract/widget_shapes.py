"""Answer models of the widget API: what the visitor's side receives.

Exactly the keys the views and services build (``conversations.conversation_to_dict(…,
"visitor")`` plus queue and CSAT state, ``contacts.contact_to_dict``,
``widget.public_config``…); ``extra="forbid"`` makes a key added there without its field
here a contract-test failure. Messages and attachments are the operator API's shapes
(``shapes.Message``): the visitor gets the same keys, never notes or internal lines.
"""
from __future__ import annotations

from typing import Any
from typing import Literal

from pydantic import ConfigDict
from pydantic import Field

from messenger.contract.core import ResponseModel
from messenger.contract.shapes import ConversationStatus
from messenger.contract.shapes import Message
from messenger.contract.shapes import MessageType
from messenger.contract.types import Timestamp

_TS = "2026-11-28T10:15:00+00:00"
_HOURS = {"enabled": False, "open": True, "next_open_at": None, "timezone": "UTC"}
_CONFIG = {"name": "Support", "color": "#1f6feb", "greeting": "Hi! How can we help?", "away_message": "",
           "locale": "en", "business_hours": _HOURS, "online": True, "available": True, "email_enabled": False,
           "expected_wait_s": 180, "hidden": False, "prechat": {"enabled": False, "fields": []}, "csat_enabled": True,
           "reply_after_resolve": False, "identity_required": False, "proactive": None}
_CONTACT = {"id": 9, "name": "Lea", "email": "lea@example.com", "phone": None, "identifier": None,
            "custom_attributes": {}, "verified": False}
_QUEUE = {"waiting": True, "position": 2, "estimated_wait_s": 180, "offer_offline": False, "online": True}
_CONVERSATION = {"id": 41, "uuid": "6f0f3a8e-8d51-4b8e-9e63-0c1b7f0d2a10", "display_id": 17, "inbox_id": 1,
                 "contact_id": 9, "status": "open", "assignee_id": None, "snoozed_until": None, "created_at": _TS,
                 "last_activity_at": _TS, "resolved_at": None, "visitor_unread_count": 0,
                 "contact_last_seen_at": _TS, "last_message_preview": "Hello, where is my parcel?",
                 "last_message_type": "incoming", "queue": _QUEUE, "csat": None, "csat_requested": False}
_MESSAGE = {"id": 811, "conversation_id": 41, "type": "incoming", "content": "Hello, where is my parcel?",
            "content_attributes": {}, "sender_user_id": None, "sender_contact_id": 9, "sender_name": None,
            "client_id": "9b2d6c1e-4f7a-4c3b-8e21-5d0f6a7b8c90", "status": "sent", "created_at": _TS,
            "edited_at": None, "deleted": False, "attachments": []}
_SESSION = {"token": "eyJzIjo0Mn0.visitor-token", "ticket": "eyJhIjoidmlzaXRvciJ9.ticket", "contact": _CONTACT,
            "config": _CONFIG, "conversation": None}


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class BusinessHours(ResponseModel):
    enabled: bool
    open: bool
    next_open_at: Timestamp | None = Field(description="When closed: the next opening (UTC)")
    timezone: str


class PrechatField(ResponseModel):
    name: str
    label: str
    type: Literal["text", "email", "phone", "textarea", "select", "checkbox", "number"]
    required: bool
    options: list[str] = Field(description="The choices of a select")


class PrechatForm(ResponseModel):
    enabled: bool
    fields: list[PrechatField]


class Proactive(ResponseModel):
    message: str
    delay_s: int = Field(description="Show it after this many seconds on the page")
    period_s: int = Field(description="At most once per this many seconds")


class WidgetConfig(ResponseModel):
    """The inbox's public settings (``services.widget.public_config``); never secrets or routing internals."""

    model_config = _examples(_CONFIG)

    name: str
    color: str
    greeting: str
    away_message: str
    locale: str | None
    business_hours: BusinessHours
    online: bool = Field(description="An operator who may answer is online")
    available: bool = Field(description="Within business hours and online; otherwise offer the offline form")
    email_enabled: bool = Field(description="Replies can reach the visitor by e-mail")
    expected_wait_s: int | None = Field(description="Median wait when available and known")
    hidden: bool = Field(description="Hide the launcher (the inbox hides it while unavailable)")
    prechat: PrechatForm
    csat_enabled: bool
    reply_after_resolve: bool
    identity_required: bool = Field(description="Only HMAC-verified identities may chat")
    proactive: Proactive | None = Field(description="The greeting for the `page` asked about, if any")


class VisitorContact(ResponseModel):
    """The visitor's own contact (``services.contacts.contact_to_dict``)."""

    model_config = _examples(_CONTACT)

    id: int
    name: str | None
    email: str | None
    phone: str | None
    identifier: str | None = Field(description="Set only by an HMAC-verified identify")
    custom_attributes: dict[str, Any]
    verified: bool = Field(description="This session's identity was HMAC-verified")


class Queue(ResponseModel):
    waiting: bool = Field(description="Nobody has answered yet")
    position: int | None = Field(description="1-based place in the queue while waiting")
    estimated_wait_s: int | None
    offer_offline: bool = Field(description="Offer the offline form (queue timeout passed, or nobody online)")
    online: bool


class CsatGiven(ResponseModel):
    model_config = _examples({"rating": 5, "comment": "Quick and friendly."})

    rating: int = Field(ge=1, le=5)
    comment: str | None


class VisitorConversation(ResponseModel):
    """A conversation as its visitor sees it: no operator-internal fields, with queue and CSAT state."""

    model_config = _examples(_CONVERSATION)

    id: int
    uuid: str
    display_id: int
    inbox_id: int
    contact_id: int
    status: ConversationStatus
    assignee_id: int | None
    snoozed_until: Timestamp | None
    created_at: Timestamp | None
    last_activity_at: Timestamp | None
    resolved_at: Timestamp | None
    visitor_unread_count: int = Field(description="Operator messages the visitor has not read")
    contact_last_seen_at: Timestamp | None
    last_message_preview: str
    last_message_type: MessageType | None
    queue: Queue
    csat: CsatGiven | None = Field(description="The visitor's rating, once given")
    csat_requested: bool = Field(description="Resolved, rated not yet, and the inbox asks for ratings")


class Session(ResponseModel):
    """A visitor session: keep ``token`` (X-Visitor-Token), open the stream with ``ticket``."""

    model_config = _examples(_SESSION)

    token: str
    ticket: str = Field(description="For GET /stream, single use, short-lived")
    contact: VisitorContact
    config: WidgetConfig
    conversation: VisitorConversation | None = Field(description="The latest conversation, if any")


class StartedSession(Session):
    model_config = _examples({**_SESSION, "resumed": False})

    resumed: bool = Field(description="The token sent was this inbox's: the same session goes on")


class IdentifiedSession(Session):
    model_config = _examples({**_SESSION, "verified": True, "attached": True})

    verified: bool = Field(description="The HMAC matched")
    attached: bool = Field(description="This browser now belongs to the identified contact")


class PageRecorded(ResponseModel):
    model_config = _examples({"current_url": "https://shop.example/pricing", "pages": 2})

    current_url: str | None
    pages: int = Field(description="Pages of this visit recorded")


class ConversationList(ResponseModel):
    model_config = _examples({"conversations": [_CONVERSATION]})

    conversations: list[VisitorConversation] = Field(description="In progress first, then newest; at most 20")


class VisitorMessagePage(ResponseModel):
    model_config = _examples({"messages": [_MESSAGE], "has_more": False})

    messages: list[Message] = Field(description="Oldest first")
    has_more: bool


class VisitorSent(ResponseModel):
    model_config = _examples({"message": _MESSAGE, "created": True, "conversation": _CONVERSATION})

    message: Message
    created: bool = Field(description="False: a retry of a client_id already stored (the first message)")
    conversation: VisitorConversation


class ReadReceipt(ResponseModel):
    model_config = _examples({"id": 41, "visitor_unread_count": 0})

    id: int
    visitor_unread_count: int


class PrechatStarted(ResponseModel):
    model_config = _examples({"conversation": _CONVERSATION, "message": _MESSAGE})

    conversation: VisitorConversation
    message: Message | None = Field(default=None, description="Present when a first message was sent")


class OfflineSent(ResponseModel):
    model_config = _examples({"conversation": {**_CONVERSATION, "queue": {**_QUEUE, "offer_offline": True}},
                              "message": {**_MESSAGE, "content": "Please call me back tomorrow."}})

    conversation: VisitorConversation
    message: Message


class TranscriptQueued(ResponseModel):
    model_config = _examples({"queued": True, "email": "lea@example.com"})

    queued: bool
    email: str = Field(description="Where it goes")


class SignedUrl(ResponseModel):
    url: str
    thumb_url: str | None = Field(default=None, description="Only for images with a preview")


class SignedUrls(ResponseModel):
    model_config = _examples({"urls": {"k3J9xQ2mV7pL": {"url": "/widget/api/v1/attachments/k3J9xQ2mV7pL?sig=…"}},
                              "expires_in": 300})

    urls: dict[str, SignedUrl] = Field(description="By attachment id; unknown or not clean ones are left out")
    expires_in: int = Field(description="Seconds the URLs stay valid")


class StreamTicket(ResponseModel):
    model_config = _examples({"ticket": "eyJhIjoidmlzaXRvciJ9.ticket", "expires_in": 60})

    ticket: str
    expires_in: int
