"""Response models: the JSON shapes the services' ``*_to_dict`` functions build.

They document answers (and let Schemathesis check them); views keep returning the services'
dicts. A key added to a serializer must be added here in the same commit: ``extra="forbid"``
makes the contract test fail otherwise.
"""
from __future__ import annotations

from typing import Any
from typing import Literal

from pydantic import ConfigDict
from pydantic import Field

from messenger.contract.core import ResponseModel
from messenger.contract.types import Timestamp

ConversationStatus = Literal["open", "pending", "snoozed", "resolved"]
MessageType = Literal["incoming", "outgoing", "note", "activity"]

_TS = "2026-11-28T10:15:00+00:00"
MESSAGE_EXAMPLE: dict[str, Any] = {
    "id": 812, "conversation_id": 41, "type": "outgoing", "content": "Your parcel left today.",
    "content_attributes": {}, "sender_user_id": 3, "sender_contact_id": None, "sender_name": "Ann",
    "client_id": "2f1c8f52-3c1e-4d0b-9a43-8f0b0c3f1a77", "status": "sent", "created_at": _TS,
    "edited_at": None, "deleted": False, "attachments": []}
CONVERSATION_EXAMPLE: dict[str, Any] = {
    "id": 41, "uuid": "6f0f3a8e-8d51-4b8e-9e63-0c1b7f0d2a10", "display_id": 17, "inbox_id": 1,
    "contact_id": 9, "status": "open", "priority": 0, "assignee_id": 3, "team_id": None,
    "snoozed_until": None, "created_at": _TS, "last_activity_at": _TS, "waiting_since": None,
    "first_reply_at": _TS, "resolved_at": None, "unread_count": 0, "visitor_unread_count": 1,
    "contact_last_seen_at": _TS, "agent_last_seen_at": _TS, "last_message_preview": "Your parcel left today.",
    "last_message_type": "outgoing", "custom_attributes": {}, "version": 5,
    "contact": {"id": 9, "name": "Lea", "email": "lea@example.com", "phone": None, "identifier": None},
    "labels": [2]}
CONTACT_EXAMPLE: dict[str, Any] = {
    "id": 9, "name": "Lea", "email": "lea@example.com", "phone": None, "identifier": None,
    "custom_attributes": {"plan": "pro"}, "blocked": False, "blocked_until": None, "last_seen_at": _TS,
    "created_at": _TS}


class Attachment(ResponseModel):
    """A file sent with a message (``services.messages.attachment_to_dict``)."""

    id: str = Field(description="The attachment key used in download URLs")
    filename: str
    content_type: str
    size: int
    status: Literal["pending", "clean", "infected", "error"]
    width: int | None
    height: int | None
    has_thumbnail: bool


class Message(ResponseModel):
    """A message as the operator sees it (``services.messages.message_to_dict``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [MESSAGE_EXAMPLE]})

    id: int
    conversation_id: int
    type: MessageType
    content: str = Field(description="Plain text, empty once deleted; render it as text")
    content_attributes: dict[str, Any] = Field(description="edits, csat and other structured extras")
    sender_user_id: int | None
    sender_contact_id: int | None
    sender_name: str | None
    client_id: str | None = Field(description="The sender's idempotency key (UUID)")
    status: Literal["sent", "delivered", "read", "failed"]
    created_at: Timestamp | None
    edited_at: Timestamp | None
    deleted: bool
    attachments: list[Attachment]


class ContactSummary(ResponseModel):
    id: int
    name: str | None
    email: str | None
    phone: str | None
    identifier: str | None


class Conversation(ResponseModel):
    """A conversation card as the panel lists it (``services.listing.cards``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [CONVERSATION_EXAMPLE]})

    id: int
    uuid: str
    display_id: int = Field(description="The number shown to people, per inbox")
    inbox_id: int
    contact_id: int
    status: ConversationStatus
    priority: int = Field(ge=0, le=4, description="0 none, 1 low, 2 medium, 3 high, 4 urgent")
    assignee_id: int | None
    team_id: int | None
    snoozed_until: Timestamp | None
    created_at: Timestamp | None
    last_activity_at: Timestamp | None
    waiting_since: Timestamp | None
    first_reply_at: Timestamp | None
    resolved_at: Timestamp | None
    unread_count: int
    visitor_unread_count: int
    contact_last_seen_at: Timestamp | None
    agent_last_seen_at: Timestamp | None
    last_message_preview: str
    last_message_type: MessageType | None
    custom_attributes: dict[str, Any]
    version: int = Field(description="Send it back as `version` to detect a concurrent change (409)")
    contact: ContactSummary
    labels: list[int] = Field(description="Label ids")


class ConversationPage(ResponseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"items": [CONVERSATION_EXAMPLE], "next_cursor": "WyJsYXRlc3QiLCIyMDI2LTExLTI4VDEwOjE1OjAwKzAwOjAwIiw0MV0"}]})

    items: list[Conversation]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last one")


class TabCounts(ResponseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"waiting": 3, "mine": 5, "unassigned": 2,
                                                                "all": 12}]})

    waiting: int
    mine: int
    unassigned: int
    all: int


class Csat(ResponseModel):
    conversation_id: int
    rating: int = Field(ge=1, le=5)
    comment: str | None
    created_at: Timestamp | None


class MessagePage(ResponseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"messages": [MESSAGE_EXAMPLE], "has_more": False, "csat": None}]})

    messages: list[Message] = Field(description="Oldest first")
    has_more: bool = Field(description="Older messages exist: ask again with before_id = the first id")
    csat: Csat | None = Field(default=None, description="Only on the newest page (no before_id)")


class SentMessage(ResponseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"message": MESSAGE_EXAMPLE, "conversation": CONVERSATION_EXAMPLE}]})

    message: Message
    conversation: Conversation


class MessageOnly(ResponseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"message": MESSAGE_EXAMPLE}]})

    message: Message


class QueuePosition(ResponseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"conversation_id": 41, "position": 2}]})

    conversation_id: int
    position: int | None = Field(description="1-based place in the inbox queue; null when not queued")


class Contact(ResponseModel):
    """A contact's profile (``services.contact_profile.contact_to_dict``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [CONTACT_EXAMPLE]})

    id: int
    name: str | None
    email: str | None
    phone: str | None
    identifier: str | None = Field(description="The site's own user id (setUser)")
    custom_attributes: dict[str, Any]
    blocked: bool
    blocked_until: Timestamp | None
    last_seen_at: Timestamp | None
    created_at: Timestamp | None


class VisitorSession(ResponseModel):
    """Browser metadata of the contact's latest visit (``contact_profile.session_to_dict``)."""

    id: int
    inbox_id: int
    ip: str | None
    browser: str | None
    os: str | None
    user_agent: str | None
    locale: str | None
    timezone: str | None
    referrer: str | None
    current_url: str | None
    current_title: str | None
    online: bool
    pages: list[dict[str, Any]] = Field(description="This visit's last 20 pages: url, title, at, s, ref")
    hmac_verified: bool
    last_seen_at: Timestamp | None


class PastConversation(ResponseModel):
    id: int
    display_id: int
    status: ConversationStatus
    created_at: Timestamp
    last_message_preview: str
    inbox_id: int


class ContactDetail(ResponseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "contact": CONTACT_EXAMPLE, "session": None,
        "conversations": [{"id": 41, "display_id": 17, "status": "open", "created_at": _TS,
                           "last_message_preview": "Your parcel left today.", "inbox_id": 1}]}]})

    contact: Contact
    session: VisitorSession | None
    conversations: list[PastConversation] = Field(description="Up to 20, newest first, in inboxes I may see")


class BlockState(ResponseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 9, "blocked": True, "blocked_until": "2026-12-05T10:00:00+00:00", "blocked_reason": "spam"}]})

    id: int
    blocked: bool
    blocked_until: Timestamp | None
    blocked_reason: str | None


class CannedItem(ResponseModel):
    id: int
    short_code: str
    content: str
    personal: bool = Field(description="Mine (true) or shared (false)")


class CannedList(ResponseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [
        {"id": 4, "short_code": "refund", "content": "Refunds take 3–5 days.", "personal": False}]}]})

    items: list[CannedItem]


class Me(ResponseModel):
    id: int
    name: str
    email: str
    role: Literal["admin", "agent"]
    availability: Literal["online", "busy", "offline"]
    availability_choice: Literal["online", "busy", "offline"] | None
    locale: str | None
    notification_prefs: dict[str, Any]


class PrechatLabel(ResponseModel):
    name: str
    label: str


class DirectoryInbox(ResponseModel):
    id: int
    name: str
    color: str | None
    prechat_fields: list[PrechatLabel]


class DirectoryOperator(ResponseModel):
    id: int
    name: str
    email: str
    availability: Literal["online", "busy", "offline"]
    role: Literal["admin", "agent"]


class DirectoryTeam(ResponseModel):
    id: int
    name: str
    member: bool = Field(description="I am in this team")


class DirectoryLabel(ResponseModel):
    id: int
    name: str
    color: str | None


class Directory(ResponseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "me": {"id": 3, "name": "Ann", "email": "ann@example.com", "role": "agent", "availability": "online",
               "availability_choice": "online", "locale": "en", "notification_prefs": {}},
        "inboxes": [{"id": 1, "name": "Website", "color": "#1f6feb",
                     "prechat_fields": [{"name": "order", "label": "Order number"}]}],
        "operators": [{"id": 3, "name": "Ann", "email": "ann@example.com", "availability": "online",
                       "role": "agent"}],
        "teams": [{"id": 2, "name": "Billing", "member": True}],
        "labels": [{"id": 2, "name": "refund", "color": "#888888"}], "position": 1042}]})

    me: Me
    inboxes: list[DirectoryInbox]
    operators: list[DirectoryOperator]
    teams: list[DirectoryTeam]
    labels: list[DirectoryLabel]
    position: int = Field(description="The event-log position to open the stream from")


Snippet = list[tuple[str, bool]]  # [text, highlighted] pairs


class SearchContactRef(ResponseModel):
    id: int
    name: str | None
    email: str | None


class MessageHit(ResponseModel):
    message_id: int
    conversation_id: int
    type: MessageType
    created_at: Timestamp
    snippet: Snippet = Field(description="[text, highlighted] pairs; render as text")
    display_id: int
    status: ConversationStatus
    contact: SearchContactRef


class ContactHit(ResponseModel):
    id: int
    name: str | None
    email: str | None
    phone: str | None
    snippet: Snippet
    conversation_id: int
    display_id: int
    status: ConversationStatus


class SearchResults(ResponseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "messages": [{"message_id": 812, "conversation_id": 41, "type": "outgoing", "created_at": _TS,
                      "snippet": [["Your ", False], ["parcel", True], [" left today.", False]], "display_id": 17,
                      "status": "open", "contact": {"id": 9, "name": "Lea", "email": "lea@example.com"}}],
        "contacts": []}]})

    messages: list[MessageHit]
    contacts: list[ContactHit]


class Typing(ResponseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"ok": True, "sent": True}]})

    ok: bool
    sent: bool = Field(description="False when the same state was sent a moment ago (not repeated)")


class Availability(ResponseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"user_id": 3, "availability": "busy",
                                                                "availability_choice": "busy"}]})

    user_id: int
    availability: Literal["online", "busy", "offline"]
    availability_choice: Literal["online", "busy", "offline"] | None


class Preferences(ResponseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"locale": "ru"}]})

    locale: Literal["en", "ru"] | None


class StreamEvent(ResponseModel):
    id: int = Field(description="Log position (0 for ephemeral signals such as typing)")
    kind: str
    data: dict[str, Any]


class EventsPage(ResponseModel):
    """``events`` after the position asked for, or ``resync`` when the log no longer holds them."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "events": [{"id": 1043, "kind": "message.created", "data": {"message": MESSAGE_EXAMPLE}}],
        "position": 1043, "resync": False}]})

    events: list[StreamEvent] = Field(default_factory=list)
    position: int = Field(description="Ask again with after = position")
    resync: bool = Field(default=False, description="Reload the state, then continue from position")


class Upload(Attachment):
    """An uploaded attachment (``services.attachments.upload_to_dict``); send its id with the message."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": "k3J9xQ", "filename": "invoice.pdf", "content_type": "application/pdf", "size": 48213,
        "status": "pending", "width": None, "height": None, "has_thumbnail": False,
        "scanner": {"engine": "builtin", "note": "Built-in checks"}}]})

    scanner: dict[str, str] = Field(description="engine and a note on which scanner checks the file")


class ExportMessage(ResponseModel):
    id: int
    from_: Literal["contact", "operator"] = Field(alias="from")
    content: str
    created_at: Timestamp | None
    edited_at: Timestamp | None


class ExportAttachment(ResponseModel):
    id: str
    message_id: int | None
    filename: str
    content_type: str
    size: int
    status: str
    created_at: Timestamp | None


class ExportCsat(ResponseModel):
    rating: int
    comment: str | None
    created_at: Timestamp | None


class ExportConversation(ResponseModel):
    id: int
    inbox_id: int
    display_id: int
    status: ConversationStatus
    created_at: Timestamp | None
    resolved_at: Timestamp | None
    custom_attributes: dict[str, Any]
    messages: list[ExportMessage] = Field(description="What the visitor saw (no notes, no activity)")
    attachments: list[ExportAttachment]
    csat: ExportCsat | None


class ExportProfile(ResponseModel):
    id: int
    name: str | None
    email: str | None
    phone: str | None
    identifier: str | None
    custom_attributes: dict[str, Any]
    blocked: bool
    created_at: Timestamp | None
    last_seen_at: Timestamp | None
    erased_at: Timestamp | None


class ExportSession(ResponseModel):
    id: int
    inbox_id: int
    ip: str | None
    user_agent: str | None
    browser: str | None
    os: str | None
    locale: str | None
    timezone: str | None
    referrer: str | None
    current_url: str | None
    pages: Any
    created_at: Timestamp | None
    last_seen_at: Timestamp | None


class ContactExport(ResponseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"exported_at": _TS, "profile": {
        "id": 9, "name": "Lea", "email": "lea@example.com", "phone": None, "identifier": None,
        "custom_attributes": {}, "blocked": False, "created_at": _TS, "last_seen_at": _TS, "erased_at": None},
        "sessions": [], "conversations": [{
            "id": 41, "inbox_id": 1, "display_id": 17, "status": "resolved", "created_at": _TS, "resolved_at": _TS,
            "custom_attributes": {}, "messages": [{"id": 812, "from": "operator", "content": "Your parcel left today.",
                                                   "created_at": _TS, "edited_at": None}],
            "attachments": [], "csat": {"rating": 5, "comment": "Quick!", "created_at": _TS}}]}]})

    exported_at: Timestamp
    profile: ExportProfile
    sessions: list[ExportSession]
    conversations: list[ExportConversation]


class Erased(ResponseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"erased": {"messages": 14, "attachments": 2}}]})

    erased: dict[str, int] = Field(description="How many of each kind were erased")
