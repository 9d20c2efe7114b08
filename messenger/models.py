"""All SQLAlchemy 2.0 models: columns, constraints and indexes.

No commits here and no Flask imports: services own transactions. Every rule that the
database can hold is a constraint, and every list the panel shows has an index.
The schema itself is created by Alembic migrations (never ``create_all``).
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects import postgresql as pg

from messenger.extensions import Model

NOW = sa.text("now()")

CONVERSATION_STATUSES = ("open", "pending", "snoozed", "resolved")
MESSAGE_TYPES = ("incoming", "outgoing", "note", "activity")
MESSAGE_STATUSES = ("sent", "delivered", "read", "failed")
ATTACHMENT_STATUSES = ("pending", "clean", "infected", "error")
ROLES = ("admin", "agent")
AVAILABILITIES = ("online", "busy", "offline")
PANEL_LOCALES = ("en", "ru")
PRIORITIES = (None, "low", "medium", "high", "urgent")  # stored as 0..4, 0 = none


# A message's search config follows its inbox's locale: 'en' stems with english; 'ru' and an unset
# locale with russian, which stems Cyrillic words in Russian and ASCII words in English.
SEARCH_CONFIG_SQL = "CASE WHEN {locale} = 'en' THEN 'english'::regconfig ELSE 'russian'::regconfig END"
MESSAGE_SEARCH_VECTOR = f"to_tsvector({SEARCH_CONFIG_SQL.format(locale='locale')}, coalesce(content, ''))"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Inbox(Model):
    """One widget install and its settings."""

    __tablename__ = "inboxes"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    website_token: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    hmac_secret: so.Mapped[str] = so.mapped_column(sa.String(128))
    enforce_identity: so.Mapped[bool] = so.mapped_column(server_default=sa.false())
    allowed_origins: so.Mapped[list[Any]] = so.mapped_column(server_default=sa.text("'[]'::jsonb"))
    color: so.Mapped[str] = so.mapped_column(sa.String(16), server_default="#1f6feb")
    greeting: so.Mapped[str] = so.mapped_column(sa.String(2000), server_default="")
    away_message: so.Mapped[str] = so.mapped_column(sa.String(2000), server_default="")
    locale: so.Mapped[str | None] = so.mapped_column(sa.String(8))
    timezone: so.Mapped[str] = so.mapped_column(sa.String(64), server_default="UTC")
    # {"mon": [["09:00", "18:00"]], ...}; empty = always open
    business_hours: so.Mapped[dict[str, Any]] = so.mapped_column(server_default=sa.text("'{}'::jsonb"))
    business_hours_enabled: so.Mapped[bool] = so.mapped_column(server_default=sa.false())
    # [{"name": "email", "label": "Email", "type": "email", "required": true}, ...]
    prechat_fields: so.Mapped[list[Any]] = so.mapped_column(server_default=sa.text("'[]'::jsonb"))
    prechat_enabled: so.Mapped[bool] = so.mapped_column(server_default=sa.false())
    auto_assignment: so.Mapped[bool] = so.mapped_column(server_default=sa.true())
    assignment_policy: so.Mapped[str] = so.mapped_column(sa.String(16), server_default="round_robin")
    prefer_previous_operator: so.Mapped[bool] = so.mapped_column(server_default=sa.false())
    # Max open conversations per operator in this inbox (None: the operator's own capacity only).
    capacity: so.Mapped[int | None] = so.mapped_column()
    # Durable round-robin position: the operator who got the last conversation.
    rr_last_user_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    first_reply_timeout_s: so.Mapped[int | None] = so.mapped_column()
    escalation_mode: so.Mapped[str] = so.mapped_column(sa.String(16), server_default="reassign")
    escalation_team_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("teams.id", ondelete="SET NULL"))
    requeue_on_offline: so.Mapped[bool] = so.mapped_column(server_default=sa.true())
    queue_timeout_s: so.Mapped[int | None] = so.mapped_column()
    hide_when_offline: so.Mapped[bool] = so.mapped_column(server_default=sa.false())
    reopen_window_s: so.Mapped[int] = so.mapped_column(server_default=sa.text("86400"))
    reply_after_resolve: so.Mapped[bool] = so.mapped_column(server_default=sa.true())
    csat_enabled: so.Mapped[bool] = so.mapped_column(server_default=sa.true())
    draft_preview: so.Mapped[bool] = so.mapped_column(server_default=sa.false())
    # Operator replies go by e-mail to a visitor who left one and is offline this long.
    email_replies: so.Mapped[bool] = so.mapped_column(server_default=sa.true())
    email_offline_minutes: so.Mapped[int] = so.mapped_column(server_default=sa.text("5"))
    allowed_types: so.Mapped[list[Any] | None] = so.mapped_column()
    # Per-inbox upload ceiling in bytes (None: the global MAX_UPLOAD_BYTES / MAX_IMAGE_BYTES only).
    max_upload_bytes: so.Mapped[int | None] = so.mapped_column(sa.BigInteger)
    proactive: so.Mapped[dict[str, Any]] = so.mapped_column(server_default=sa.text("'{}'::jsonb"))
    next_display_id: so.Mapped[int] = so.mapped_column(server_default=sa.text("1"))
    created_at: so.Mapped[datetime] = so.mapped_column(server_default=NOW)

    __table_args__ = (
        sa.CheckConstraint("assignment_policy IN ('round_robin', 'least_busy')", name="policy"),
        sa.CheckConstraint("escalation_mode IN ('reassign', 'team', 'notify')", name="escalation_mode"),
        sa.CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity"),
        sa.CheckConstraint("first_reply_timeout_s IS NULL OR first_reply_timeout_s > 0", name="timeout"),
        sa.CheckConstraint("char_length(name) > 0", name="name_not_empty"),
        sa.CheckConstraint("max_upload_bytes IS NULL OR max_upload_bytes > 0", name="max_upload_bytes"),
        sa.CheckConstraint("email_offline_minutes BETWEEN 0 AND 10080", name="email_offline_minutes"),
    )


class User(Model):
    """An operator or admin. Deactivated, never deleted."""

    __tablename__ = "users"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    email: so.Mapped[str] = so.mapped_column(sa.String(254))
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(256))
    role: so.Mapped[str] = so.mapped_column(sa.String(8), server_default="agent")
    availability: so.Mapped[str] = so.mapped_column(sa.String(8), server_default="offline")
    capacity: so.Mapped[int] = so.mapped_column(server_default=sa.text("10"))
    active: so.Mapped[bool] = so.mapped_column(server_default=sa.true())
    # Bumped on password change / deactivation: every session carrying an older value dies.
    session_version: so.Mapped[int] = so.mapped_column(server_default=sa.text("1"))
    last_assigned_at: so.Mapped[datetime | None] = so.mapped_column()
    last_seen_at: so.Mapped[datetime | None] = so.mapped_column()
    notification_prefs: so.Mapped[dict[str, Any]] = so.mapped_column(server_default=sa.text("'{}'::jsonb"))
    # The panel's language (None: the browser's) and the availability last chosen by hand
    # (None: never; the panel then asks). The presence sweep changes ``availability`` only.
    locale: so.Mapped[str | None] = so.mapped_column(sa.String(8))
    availability_choice: so.Mapped[str | None] = so.mapped_column(sa.String(8))
    created_at: so.Mapped[datetime] = so.mapped_column(server_default=NOW)

    __table_args__ = (
        sa.CheckConstraint(_in("role", ROLES), name="role"),
        sa.CheckConstraint(f"locale IS NULL OR {_in('locale', PANEL_LOCALES)}", name="locale"),
        sa.CheckConstraint(f"availability_choice IS NULL OR {_in('availability_choice', AVAILABILITIES)}",
                           name="availability_choice"),
        sa.CheckConstraint(_in("availability", AVAILABILITIES), name="availability"),
        sa.CheckConstraint("capacity >= 0", name="capacity"),
        sa.CheckConstraint("email = lower(email)", name="email_lower"),
        sa.Index("uq_users_email", "email", unique=True),
    )


class OperatorSession(Model):
    """One signed-in browser of an operator: the cookie carries its random id; logout revokes it."""

    __tablename__ = "operator_sessions"

    id: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    ip: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    user_agent: so.Mapped[str | None] = so.mapped_column(sa.String(512))
    created_at: so.Mapped[datetime] = so.mapped_column(server_default=NOW)
    revoked_at: so.Mapped[datetime | None] = so.mapped_column()

    __table_args__ = (sa.Index("ix_operator_sessions_user", "user_id"),)


class IpBlock(Model):
    """A blocked IP address or CIDR range: its visitors get no widget until it expires or is lifted."""

    __tablename__ = "ip_blocks"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    network: so.Mapped[str] = so.mapped_column(pg.CIDR)
    reason: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    created_by: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: so.Mapped[datetime] = so.mapped_column(server_default=NOW)
    expires_at: so.Mapped[datetime | None] = so.mapped_column()


class Team(Model):
    __tablename__ = "teams"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(server_default=NOW)


class TeamMember(Model):
    __tablename__ = "team_members"

    team_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), primary_key=True)

    __table_args__ = (sa.Index("ix_team_members_user", "user_id"),)


class InboxMember(Model):
    """Who may see (and be assigned in) which inbox."""

    __tablename__ = "inbox_members"

    inbox_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("inboxes.id", ondelete="CASCADE"), primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), primary_key=True)

    __table_args__ = (sa.Index("ix_inbox_members_user", "user_id"),)


class Contact(Model):
    """A visitor: anonymous until identified. A returning visitor is the same contact."""

    __tablename__ = "contacts"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    email: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    phone: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    identifier: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    custom_attributes: so.Mapped[dict[str, Any]] = so.mapped_column(server_default=sa.text("'{}'::jsonb"))
    blocked: so.Mapped[bool] = so.mapped_column(server_default=sa.false())
    blocked_until: so.Mapped[datetime | None] = so.mapped_column()
    blocked_at: so.Mapped[datetime | None] = so.mapped_column()
    blocked_reason: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    erased_at: so.Mapped[datetime | None] = so.mapped_column()
    last_seen_at: so.Mapped[datetime | None] = so.mapped_column()
    created_at: so.Mapped[datetime] = so.mapped_column(server_default=NOW)
    search: so.Mapped[Any] = so.mapped_column(
        pg.TSVECTOR,
        # ё is folded into е (migration 0020; the query is folded alike in services/search.py).
        sa.Computed(
            "to_tsvector('simple', translate(coalesce(name, '') || ' ' || coalesce(email, '') || ' ' "
            "|| coalesce(phone, '') || ' ' || coalesce(identifier, ''), 'ёЁ', 'еЕ'))",
            persisted=True,
        ),
    )

    __table_args__ = (
        sa.Index("uq_contacts_email", "email", unique=True, postgresql_where=sa.text("email IS NOT NULL")),
        sa.Index("uq_contacts_identifier", "identifier", unique=True,
                 postgresql_where=sa.text("identifier IS NOT NULL")),
        sa.Index("ix_contacts_search", "search", postgresql_using="gin"),
        sa.CheckConstraint("email IS NULL OR email = lower(email)", name="email_lower"),
    )


class ContactSession(Model):
    """One browser of a contact in one inbox: the visitor token binds to it, metadata lives here."""

    __tablename__ = "contact_sessions"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    contact_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"))
    inbox_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("inboxes.id", ondelete="CASCADE"))
    # Random 128-bit secret id carried inside the signed visitor token.
    token_id: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    hmac_verified: so.Mapped[bool] = so.mapped_column(server_default=sa.false())
    revoked_at: so.Mapped[datetime | None] = so.mapped_column()
    ip: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    user_agent: so.Mapped[str | None] = so.mapped_column(sa.String(512))
    browser: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    os: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    locale: so.Mapped[str | None] = so.mapped_column(sa.String(35))
    timezone: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    referrer: so.Mapped[str | None] = so.mapped_column(sa.String(2048))
    current_url: so.Mapped[str | None] = so.mapped_column(sa.String(2048))
    current_title: so.Mapped[str | None] = so.mapped_column(sa.String(512))
    pages: so.Mapped[list[Any]] = so.mapped_column(server_default=sa.text("'[]'::jsonb"))
    online: so.Mapped[bool] = so.mapped_column(server_default=sa.false())
    created_at: so.Mapped[datetime] = so.mapped_column(server_default=NOW)
    last_seen_at: so.Mapped[datetime] = so.mapped_column(server_default=NOW)

    __table_args__ = (sa.Index("ix_contact_sessions_contact", "contact_id", "last_seen_at"),)


class Conversation(Model):
    __tablename__ = "conversations"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    uuid: so.Mapped[uuid.UUID] = so.mapped_column(unique=True, server_default=sa.text("gen_random_uuid()"))
    inbox_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("inboxes.id", ondelete="CASCADE"))
    contact_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("contacts.id", ondelete="CASCADE"))
    # Filled by a BEFORE INSERT trigger from inboxes.next_display_id (per-inbox, no gaps).
    display_id: so.Mapped[int] = so.mapped_column(server_default=sa.FetchedValue())
    status: so.Mapped[str] = so.mapped_column(sa.String(10), server_default="open")
    priority: so.Mapped[int] = so.mapped_column(sa.SmallInteger, server_default=sa.text("0"))
    assignee_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    team_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("teams.id", ondelete="SET NULL"))
    previous_assignee_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    snoozed_until: so.Mapped[datetime | None] = so.mapped_column()
    created_at: so.Mapped[datetime] = so.mapped_column(server_default=NOW)
    updated_at: so.Mapped[datetime] = so.mapped_column(server_default=NOW)
    last_activity_at: so.Mapped[datetime] = so.mapped_column(server_default=NOW)
    waiting_since: so.Mapped[datetime | None] = so.mapped_column()
    first_reply_at: so.Mapped[datetime | None] = so.mapped_column()
    # Reports (services/reports.py): the first visitor message, and the first operator reply after it.
    first_visitor_message_at: so.Mapped[datetime | None] = so.mapped_column()
    first_response_at: so.Mapped[datetime | None] = so.mapped_column()
    assigned_at: so.Mapped[datetime | None] = so.mapped_column()
    resolved_at: so.Mapped[datetime | None] = so.mapped_column()
    contact_last_seen_at: so.Mapped[datetime | None] = so.mapped_column()
    agent_last_seen_at: so.Mapped[datetime | None] = so.mapped_column()
    unread_count: so.Mapped[int] = so.mapped_column(server_default=sa.text("0"))
    visitor_unread_count: so.Mapped[int] = so.mapped_column(server_default=sa.text("0"))
    last_message_preview: so.Mapped[str] = so.mapped_column(sa.String(160), server_default="")
    last_message_type: so.Mapped[str | None] = so.mapped_column(sa.String(10))
    custom_attributes: so.Mapped[dict[str, Any]] = so.mapped_column(server_default=sa.text("'{}'::jsonb"))
    version: so.Mapped[int] = so.mapped_column(server_default=sa.text("1"))

    __table_args__ = (
        sa.UniqueConstraint("inbox_id", "display_id", name="uq_conversations_inbox_display"),
        sa.CheckConstraint(_in("status", CONVERSATION_STATUSES), name="status"),
        sa.CheckConstraint("priority BETWEEN 0 AND 4", name="priority"),
        sa.CheckConstraint("snoozed_until IS NULL OR status = 'snoozed'", name="snooze_only_snoozed"),
        sa.CheckConstraint("display_id > 0", name="display_id_positive"),
        # One conversation in progress per contact and inbox (case 31 in docs/security.md).
        sa.Index("uq_conversations_one_active", "inbox_id", "contact_id", unique=True,
                 postgresql_where=sa.text("status <> 'resolved'")),
        # Panel lists: keyset on (sort key, id) within the visible filters.
        sa.Index("ix_conversations_inbox_status_activity", "inbox_id", "status",
                 sa.text("last_activity_at DESC"), sa.text("id DESC")),
        sa.Index("ix_conversations_assignee_status_activity", "assignee_id", "status",
                 sa.text("last_activity_at DESC"), sa.text("id DESC")),
        sa.Index("ix_conversations_status_activity", "status", sa.text("last_activity_at DESC"), sa.text("id DESC")),
        # An agent's tab counts: index-only over its inboxes (migration 0018).
        sa.Index("ix_conversations_inbox_status_assignee", "inbox_id", "status", "assignee_id"),
        sa.Index("ix_conversations_activity", sa.text("last_activity_at DESC"), sa.text("id DESC")),
        sa.Index("ix_conversations_created", sa.text("created_at DESC"), sa.text("id DESC")),
        sa.Index("ix_conversations_priority", sa.text("priority DESC"), sa.text("last_activity_at DESC"),
                 sa.text("id DESC")),
        sa.Index("ix_conversations_team_status", "team_id", "status", sa.text("last_activity_at DESC")),
        sa.Index("ix_conversations_contact", "contact_id", sa.text("created_at DESC")),
        # The queue: unassigned, waiting, oldest first.
        sa.Index("ix_conversations_queue", "inbox_id", "waiting_since", "id",
                 postgresql_where=sa.text("assignee_id IS NULL AND status IN ('open', 'pending')")),
        sa.Index("ix_conversations_waiting", "status", "waiting_since", "id"),
        sa.Index("ix_conversations_snoozed", "snoozed_until", postgresql_where=sa.text("status = 'snoozed'")),
        # Reports: response and resolution times from these alone (index-only scans).
        sa.Index("ix_conversations_report_created", "created_at",
                 postgresql_include=["inbox_id", "assignee_id", "team_id", "first_visitor_message_at",
                                     "first_response_at"]),
        sa.Index("ix_conversations_resolved", "resolved_at", postgresql_where=sa.text("resolved_at IS NOT NULL"),
                 postgresql_include=["created_at", "inbox_id", "assignee_id", "team_id"]),
    )


class Message(Model):
    __tablename__ = "messages"

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger, primary_key=True)
    conversation_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("conversations.id", ondelete="CASCADE"))
    type: so.Mapped[str] = so.mapped_column(sa.String(10))
    sender_user_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    sender_contact_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("contacts.id", ondelete="SET NULL"))
    content: so.Mapped[str] = so.mapped_column(sa.Text, server_default="")
    content_attributes: so.Mapped[dict[str, Any]] = so.mapped_column(server_default=sa.text("'{}'::jsonb"))
    client_id: so.Mapped[uuid.UUID | None] = so.mapped_column()
    status: so.Mapped[str] = so.mapped_column(sa.String(10), server_default="sent")
    edited_at: so.Mapped[datetime | None] = so.mapped_column()
    deleted_at: so.Mapped[datetime | None] = so.mapped_column()
    deleted_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: so.Mapped[datetime] = so.mapped_column(server_default=NOW)
    # Copied from the conversation's inbox by a BEFORE INSERT trigger (messenger_message_inbox): the
    # search filters by inbox without a join, and stems in the inbox's language (services/search.py).
    inbox_id: so.Mapped[int] = so.mapped_column(server_default=sa.FetchedValue())
    locale: so.Mapped[str | None] = so.mapped_column(sa.String(8), server_default=sa.FetchedValue())
    search: so.Mapped[Any] = so.mapped_column(pg.TSVECTOR, sa.Computed(MESSAGE_SEARCH_VECTOR, persisted=True))

    __table_args__ = (
        sa.UniqueConstraint("conversation_id", "client_id", name="uq_messages_conversation_client"),
        sa.CheckConstraint(_in("type", MESSAGE_TYPES), name="type"),
        sa.CheckConstraint(_in("status", MESSAGE_STATUSES), name="status"),
        sa.CheckConstraint("char_length(content) <= 20000", name="content_length"),
        sa.CheckConstraint("type <> 'outgoing' OR sender_user_id IS NOT NULL", name="outgoing_has_user"),
        sa.CheckConstraint("type <> 'note' OR sender_user_id IS NOT NULL", name="note_has_user"),
        sa.Index("ix_messages_conversation", "conversation_id", sa.text("id DESC")),
        # Reports: messages per day, an index-only scan (services/reports.py).
        sa.Index("ix_messages_created_type", "created_at", "type"),
        sa.Index("ix_messages_search", "search", postgresql_using="gin"),
    )


class Attachment(Model):
    __tablename__ = "attachments"

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger, primary_key=True)
    # Random 128-bit public id and storage key: never guessable, never a path from the client.
    key: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    conversation_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("conversations.id", ondelete="CASCADE"))
    message_id: so.Mapped[int | None] = so.mapped_column(
        sa.BigInteger, sa.ForeignKey("messages.id", ondelete="CASCADE"))
    uploader_user_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    uploader_contact_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("contacts.id", ondelete="SET NULL"))
    filename: so.Mapped[str] = so.mapped_column(sa.String(255))
    content_type: so.Mapped[str] = so.mapped_column(sa.String(127))
    size: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    sha256: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    status: so.Mapped[str] = so.mapped_column(sa.String(10), server_default="pending")
    scan_detail: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    width: so.Mapped[int | None] = so.mapped_column()
    height: so.Mapped[int | None] = so.mapped_column()
    thumb_key: so.Mapped[str | None] = so.mapped_column(sa.String(80))
    created_at: so.Mapped[datetime] = so.mapped_column(server_default=NOW)
    scanned_at: so.Mapped[datetime | None] = so.mapped_column()

    __table_args__ = (
        sa.CheckConstraint(_in("status", ATTACHMENT_STATUSES), name="status"),
        sa.CheckConstraint("size >= 0", name="size"),
        sa.Index("ix_attachments_message", "message_id"),
        sa.Index("ix_attachments_conversation", "conversation_id"),
    )


class Label(Model):
    __tablename__ = "labels"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    color: so.Mapped[str] = so.mapped_column(sa.String(16), server_default="#888888")


class ConversationLabel(Model):
    __tablename__ = "conversation_labels"

    conversation_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True)
    label_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True)

    __table_args__ = (sa.Index("ix_conversation_labels_label", "label_id", "conversation_id"),)


class CannedResponse(Model):
    """A reply template: shared (``owner_user_id`` NULL) or one operator's own."""

    __tablename__ = "canned_responses"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    short_code: so.Mapped[str] = so.mapped_column(sa.String(64))
    content: so.Mapped[str] = so.mapped_column(sa.String(5000))
    owner_user_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    created_at: so.Mapped[datetime] = so.mapped_column(server_default=NOW)

    __table_args__ = (
        sa.CheckConstraint("short_code ~ '^[a-z0-9_-]+$'", name="short_code"),
        sa.Index("uq_canned_responses_shared_code", "short_code", unique=True,
                 postgresql_where=sa.text("owner_user_id IS NULL")),
        sa.Index("uq_canned_responses_owner_code", "owner_user_id", "short_code", unique=True,
                 postgresql_where=sa.text("owner_user_id IS NOT NULL")),
    )


class AccountLink(Model):
    """A one-time link to set a password: an invitation or a reset. Only the hash is stored."""

    __tablename__ = "account_links"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    purpose: so.Mapped[str] = so.mapped_column(sa.String(8))
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    created_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: so.Mapped[datetime] = so.mapped_column(server_default=NOW)
    expires_at: so.Mapped[datetime] = so.mapped_column()
    used_at: so.Mapped[datetime | None] = so.mapped_column()

    __table_args__ = (
        sa.CheckConstraint("purpose IN ('invite', 'reset')", name="purpose"),
        sa.Index("ix_account_links_user_id", "user_id"),
    )


class Webhook(Model):
    """An HTTP endpoint that receives chosen events, signed with its own secret."""

    __tablename__ = "webhooks"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120), server_default="")
    url: so.Mapped[str] = so.mapped_column(sa.String(2048))
    events: so.Mapped[list[Any]] = so.mapped_column(server_default=sa.text("'[]'::jsonb"))
    # Private notes are sent only when the admin opted in explicitly.
    include_private: so.Mapped[bool] = so.mapped_column(server_default=sa.false())
    secret: so.Mapped[str] = so.mapped_column(sa.String(128))
    active: so.Mapped[bool] = so.mapped_column(server_default=sa.true())
    # Event-log position up to which deliveries were created (the pump reads id > cursor).
    cursor: so.Mapped[int] = so.mapped_column(sa.BigInteger, server_default=sa.text("0"))
    consecutive_failures: so.Mapped[int] = so.mapped_column(server_default=sa.text("0"))
    disabled_reason: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    disabled_at: so.Mapped[datetime | None] = so.mapped_column()
    secret_rotated_at: so.Mapped[datetime | None] = so.mapped_column()
    created_by_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: so.Mapped[datetime] = so.mapped_column(server_default=NOW)

    __table_args__ = (sa.CheckConstraint("url ~ '^https?://'", name="url_scheme"),)


class WebhookDelivery(Model):
    """One event for one webhook: pending until delivered (2xx) or given up after the last retry."""

    __tablename__ = "webhook_deliveries"

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger, primary_key=True)
    webhook_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: so.Mapped[int | None] = so.mapped_column(sa.BigInteger)
    kind: so.Mapped[str] = so.mapped_column(sa.String(64))
    payload: so.Mapped[dict[str, Any]] = so.mapped_column()
    attempts: so.Mapped[int] = so.mapped_column(server_default=sa.text("0"))
    status: so.Mapped[str] = so.mapped_column(sa.String(10), server_default="pending")
    response_code: so.Mapped[int | None] = so.mapped_column()
    error: so.Mapped[str | None] = so.mapped_column(sa.String(512))
    response_body: so.Mapped[str | None] = so.mapped_column(sa.String(2048))
    duration_ms: so.Mapped[int | None] = so.mapped_column()
    next_attempt_at: so.Mapped[datetime | None] = so.mapped_column()
    last_attempt_at: so.Mapped[datetime | None] = so.mapped_column()
    created_at: so.Mapped[datetime] = so.mapped_column(server_default=NOW)
    delivered_at: so.Mapped[datetime | None] = so.mapped_column()

    __table_args__ = (
        sa.CheckConstraint("status IN ('pending', 'success', 'failed')", name="status"),
        sa.UniqueConstraint("webhook_id", "event_id", name="uq_webhook_deliveries_webhook_event"),
        sa.Index("ix_webhook_deliveries_webhook", "webhook_id", sa.text("id DESC")),
        sa.Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where=sa.text("status = 'pending'")),
    )


class WebhookAttempt(Model):
    """One HTTP attempt of a delivery, for the delivery log."""

    __tablename__ = "webhook_attempts"

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger, primary_key=True)
    delivery_id: so.Mapped[int] = so.mapped_column(
        sa.BigInteger, sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    number: so.Mapped[int] = so.mapped_column()
    started_at: so.Mapped[datetime] = so.mapped_column(server_default=NOW)
    response_code: so.Mapped[int | None] = so.mapped_column()
    duration_ms: so.Mapped[int] = so.mapped_column()
    error: so.Mapped[str | None] = so.mapped_column(sa.String(512))
    response_body: so.Mapped[str | None] = so.mapped_column(sa.String(2048))

    __table_args__ = (sa.Index("ix_webhook_attempts_delivery", "delivery_id", "id"),)


class ApiToken(Model):
    """A personal API token: only its SHA-256 is stored; ``prefix`` identifies it in lists."""

    __tablename__ = "api_tokens"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    prefix: so.Mapped[str] = so.mapped_column(sa.String(16), server_default="")
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(server_default=NOW)
    last_used_at: so.Mapped[datetime | None] = so.mapped_column()
    revoked_at: so.Mapped[datetime | None] = so.mapped_column()

    __table_args__ = (sa.Index("ix_api_tokens_user", "user_id"),)


class EmailedMessage(Model):
    """An operator reply that went to the visitor by e-mail (never sent twice)."""

    __tablename__ = "emailed_messages"

    message_id: so.Mapped[int] = so.mapped_column(
        sa.BigInteger, sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    conversation_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("conversations.id", ondelete="CASCADE"))
    sent_at: so.Mapped[datetime] = so.mapped_column(server_default=NOW)

    __table_args__ = (sa.Index("ix_emailed_messages_conversation", "conversation_id"),)


class AuditLog(Model):
    __tablename__ = "audit_log"

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger, primary_key=True)
    actor_user_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    action: so.Mapped[str] = so.mapped_column(sa.String(64))
    target_type: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    target_id: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    data: so.Mapped[dict[str, Any]] = so.mapped_column(server_default=sa.text("'{}'::jsonb"))
    ip: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    created_at: so.Mapped[datetime] = so.mapped_column(server_default=NOW)

    __table_args__ = (
        sa.Index("ix_audit_log_created", sa.text("created_at DESC")),
        sa.Index("ix_audit_log_action_created", "action", sa.text("created_at DESC")),
        sa.Index("ix_audit_log_actor_created", "actor_user_id", sa.text("created_at DESC")),
    )


class CsatResponse(Model):
    __tablename__ = "csat_responses"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    conversation_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("conversations.id", ondelete="CASCADE"), unique=True)
    assignee_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    rating: so.Mapped[int] = so.mapped_column(sa.SmallInteger)
    comment: so.Mapped[str] = so.mapped_column(sa.String(2000), server_default="")
    created_at: so.Mapped[datetime] = so.mapped_column(server_default=NOW)

    __table_args__ = (sa.CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),
                      sa.Index("ix_csat_responses_created", "created_at"))


# Reports (services/reports.py): per UTC hour × inbox × assignee × team, visitor and operator
# messages sent, conversations opened and resolved, each hour split by quarter (``incoming_15`` =
# minutes 15–29). Triggers on messages and conversations (migration 0014) append signed changes
# to ``report_count_deltas``; ``messenger_report_counts_compact()`` folds them into
# ``report_counts``. No ORM classes: nothing else writes them.
REPORT_COUNT_KINDS = ("incoming", "outgoing", "opened", "resolved")
REPORT_COUNT_COLUMNS = tuple(f"{kind}_{minute:02d}" for kind in REPORT_COUNT_KINDS for minute in (0, 15, 30, 45))


# ``level`` (migration 0016): 0 = hour × inbox × assignee × team, then pre-summed 1 = hour,
# 2 = hour × inbox, 3 = hour × assignee, 4 = hour × team (the summed-over keys are NULL).
REPORT_LEVEL_KEYS = {1: (), 2: ("inbox_id",), 3: ("assignee_id",), 4: ("team_id",)}


def _report_count_columns() -> list[sa.Column[Any]]:
    return [sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
            sa.Column("inbox_id", sa.Integer),
            sa.Column("assignee_id", sa.Integer),
            sa.Column("team_id", sa.Integer),
            *[sa.Column(col, sa.Integer, server_default=sa.text("0"), nullable=False) for col in REPORT_COUNT_COLUMNS],
            sa.Column("level", sa.SmallInteger, server_default=sa.text("0"), nullable=False)]


report_counts = sa.Table(
    "report_counts", Model.metadata, *_report_count_columns(),
    sa.UniqueConstraint("level", "hour", "inbox_id", "assignee_id", "team_id", name="uq_report_counts_key",
                        postgresql_nulls_not_distinct=True),
)
report_count_deltas = sa.Table("report_count_deltas", Model.metadata, *_report_count_columns())


class _EventFields:
    """What an event says, the same in ``events`` and ``events_pending``."""

    kind: so.Mapped[str] = so.mapped_column(sa.String(40))
    inbox_id: so.Mapped[int | None] = so.mapped_column()
    conversation_id: so.Mapped[int | None] = so.mapped_column()
    contact_id: so.Mapped[int | None] = so.mapped_column()
    user_id: so.Mapped[int | None] = so.mapped_column()
    private: so.Mapped[bool] = so.mapped_column(server_default=sa.false())
    payload: so.Mapped[dict[str, Any]] = so.mapped_column(server_default=sa.text("'{}'::jsonb"))
    created_at: so.Mapped[datetime] = so.mapped_column(server_default=sa.text("clock_timestamp()"))


class Event(_EventFields, Model):
    """The event log. Rows are written only by the sequencer, which moves them from ``events_pending``.

    ``id`` is the gap-safe position: it is drawn under a transaction advisory lock that the
    sequencer holds until its commit ends, so a reader that has seen id N will never later
    see an id < N (docs/event-log.md).
    """

    __tablename__ = "events"

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger, primary_key=True, autoincrement=False,
                                          server_default=sa.FetchedValue())

    __table_args__ = (sa.Index("ix_events_created", "created_at"),)


class EventPending(_EventFields, Model):
    """Events committed by user transactions and not yet numbered (migration 0017).

    Triggers append here without a lock or a NOTIFY; the sequencer
    (``messenger/realtime/sequencer.py``) moves committed rows into ``events`` in ``id`` order.
    """

    __tablename__ = "events_pending"

    id: so.Mapped[int] = so.mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)


class EventsPruned(Model):
    """High-water marks of pruning: a replay from below ``up_to`` must resync instead."""

    __tablename__ = "events_pruned"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    up_to: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    pruned_at: so.Mapped[datetime] = so.mapped_column(server_default=NOW)
