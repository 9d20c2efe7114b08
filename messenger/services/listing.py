"""The operator's conversation list: tabs, filters, sorts and keyset pagination.

Every parameter is allowlisted and typed (case 26 in docs/security.md); sort keys map to fixed column
tuples, never to client text. Pages are keyset pages — ``WHERE (key, id) < (:k, :id)``
on an index of the same order — so page 500 costs what page 1 costs, and a
conversation that moves while the operator scrolls is never shown twice on one pass.
The cursor is opaque to the client (base64url JSON), checked on the way back.
"""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.models import CONVERSATION_STATUSES
from messenger.models import Contact
from messenger.models import Conversation
from messenger.models import ConversationLabel
from messenger.models import InboxMember
from messenger.models import User
from messenger.parsing import whole_number
from messenger.services.conversations import conversation_to_dict

# "waiting": everything nobody has taken yet, queued (pending) or not, whatever the status filter.
TABS = ("waiting", "mine", "unassigned", "all")
WAITING_STATUSES = ("open", "pending")
_WAITING_SQL: sa.ColumnElement[bool] = sa.literal_column(
    f"conversations.status IN ({', '.join(repr(s) for s in WAITING_STATUSES)})", sa.Boolean)
SORTS = ("latest", "oldest_waiting", "newest", "priority")
STATUS_FILTERS = (*CONVERSATION_STATUSES, "any")
PAGE_DEFAULT = 30
PAGE_MAX = 100
ALLOWED_PARAMS = frozenset({"tab", "status", "inbox_id", "team_id", "label_id", "priority", "sort", "cursor",
                            "limit"})


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A validated list request."""

    tab: str = "all"
    status: str = "open"
    inbox_id: int | None = None
    team_id: int | None = None
    label_id: int | None = None
    priority: int | None = None
    sort: str = "latest"
    cursor: tuple[Any, ...] | None = None
    limit: int = PAGE_DEFAULT


def _choice(params: Mapping[str, object], name: str, allowed: Sequence[str], default: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        return default
    if not isinstance(value, str) or value not in allowed:
        raise ValidationError(f"{name} must be one of: {', '.join(allowed)}.", field=name)
    return value


def _int(params: Mapping[str, object], name: str, low: int, high: int) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValidationError(f"{name} must be a whole number.", field=name)
    if isinstance(value, str):
        value = whole_number(value, name)
    if not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(f"{name} must be between {low} and {high}.", field=name)
    return value


def parse_list_query(params: Mapping[str, object]) -> ListQuery:
    """Validate query parameters (unknown ones are refused, not ignored)."""
    unknown = set(params) - ALLOWED_PARAMS
    if unknown:
        raise ValidationError(f"Unknown parameter: {sorted(unknown)[0]}.", field=sorted(unknown)[0])
    sort = _choice(params, "sort", SORTS, "latest")
    raw_cursor = params.get("cursor")
    cursor = None
    if raw_cursor not in (None, ""):
        cursor = decode_cursor(raw_cursor, sort)
    limit = _int(params, "limit", 1, PAGE_MAX)
    return ListQuery(
        tab=_choice(params, "tab", TABS, "all"), status=_choice(params, "status", STATUS_FILTERS, "open"),
        inbox_id=_int(params, "inbox_id", 1, 2**31 - 1), team_id=_int(params, "team_id", 1, 2**31 - 1),
        label_id=_int(params, "label_id", 1, 2**31 - 1), priority=_int(params, "priority", 0, 4), sort=sort,
        cursor=cursor, limit=limit or PAGE_DEFAULT)


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def encode_cursor(sort: str, conv: Conversation) -> str:
    """The opaque position after ``conv`` in the given sort."""
    if sort == "latest":
        keys: list[Any] = [_ts(conv.last_activity_at)]
    elif sort == "newest":
        keys = [_ts(conv.created_at)]
    elif sort == "oldest_waiting":
        keys = [_ts(conv.waiting_since)]
    else:
        keys = [conv.priority, _ts(conv.last_activity_at)]
    raw = json.dumps([sort, *keys, conv.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _bad_cursor() -> ValidationError:
    return ValidationError("The list cursor is invalid; reload the list.", field="cursor", code="invalid_cursor")


def _parse_ts(value: object, *, nullable: bool = False) -> datetime | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise _bad_cursor()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _bad_cursor() from None
    if parsed.tzinfo is None:
        raise _bad_cursor()
    return parsed


def _is_int(value: object) -> bool:
    """A JSON integer (``bool`` is an ``int`` subclass in Python, but never a valid id or priority)."""
    return isinstance(value, int) and not isinstance(value, bool)


def decode_cursor(raw: object, sort: str) -> tuple[Any, ...]:
    """Decode and type-check a cursor made by :func:`encode_cursor` for this sort."""
    if not isinstance(raw, str) or len(raw) > 300:
        raise _bad_cursor()
    try:
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _bad_cursor() from None
    if not isinstance(data, list) or not data or data[0] != sort:
        raise _bad_cursor()
    last_id = data[-1]
    if not _is_int(last_id) or last_id <= 0:
        raise _bad_cursor()
    if sort == "priority":
        if len(data) != 4 or not _is_int(data[1]) or not 0 <= data[1] <= 4:
            raise _bad_cursor()
        return (data[1], _parse_ts(data[2]), last_id)
    if len(data) != 3:
        raise _bad_cursor()
    return (_parse_ts(data[1], nullable=sort == "oldest_waiting"), last_id)


def _keyset(sort: str, cursor: tuple[Any, ...]) -> sa.ColumnElement[bool]:
    c = Conversation
    if sort == "latest":
        return sa.tuple_(c.last_activity_at, c.id) < sa.tuple_(cursor[0], cursor[1])
    if sort == "newest":
        return sa.tuple_(c.created_at, c.id) < sa.tuple_(cursor[0], cursor[1])
    if sort == "priority":
        return sa.tuple_(c.priority, c.last_activity_at, c.id) < sa.tuple_(*cursor)
    waiting, last_id = cursor
    if waiting is None:  # already in the NULLS LAST tail
        return sa.and_(c.waiting_since.is_(None), c.id > last_id)
    return sa.or_(sa.tuple_(c.waiting_since, c.id) > sa.tuple_(waiting, last_id), c.waiting_since.is_(None))


def _order(sort: str) -> list[sa.ColumnElement[Any]]:
    c = Conversation
    if sort == "latest":
        return [c.last_activity_at.desc(), c.id.desc()]
    if sort == "newest":
        return [c.created_at.desc(), c.id.desc()]
    if sort == "priority":
        return [c.priority.desc(), c.last_activity_at.desc(), c.id.desc()]
    return [c.waiting_since.asc().nulls_last(), c.id.asc()]


def visible_inboxes(user: User, inbox_id: Any) -> list[sa.ColumnElement[bool]]:
    """Conditions limiting ``inbox_id`` (a conversation's, a message's) to the inboxes ``user`` may see.

    The inbox ids are read first and sent as a list: the planner then knows how many rows they
    select and uses the (inbox_id, …) indexes, where a semi-join with inbox_members made it hash
    the whole conversations table for an agent of a few inboxes.
    """
    if user.role == "admin":
        return []
    ids = list(db.session.scalars(sa.select(InboxMember.inbox_id).where(InboxMember.user_id == user.id)))
    return [inbox_id.in_(ids)]


def visible_filter(user: User) -> list[sa.ColumnElement[bool]]:
    """Conditions limiting conversations to the inboxes ``user`` may see (none for admins)."""
    return visible_inboxes(user, Conversation.inbox_id)


def _filters(user: User, q: ListQuery, *, status: bool = True) -> list[sa.ColumnElement[bool]]:
    """Everything but the tab: visibility, status (unless ``status`` is false), inbox, team, label, priority."""
    c = Conversation
    where = visible_filter(user)
    if status and q.status != "any":
        where.append(c.status == q.status)
    if q.inbox_id is not None:
        where.append(c.inbox_id == q.inbox_id)
    if q.team_id is not None:
        where.append(c.team_id == q.team_id)
    if q.priority is not None:
        where.append(c.priority == q.priority)
    if q.label_id is not None:
        where.append(sa.exists().where(ConversationLabel.conversation_id == c.id,
                                       ConversationLabel.label_id == q.label_id))
    return where


def _tab(user: User, tab: str) -> list[sa.ColumnElement[bool]]:
    if tab == "waiting":
        # Literal values, as in the queue index's predicate, so the planner can use that partial index.
        return [Conversation.assignee_id.is_(None), _WAITING_SQL]
    if tab == "mine":
        return [Conversation.assignee_id == user.id]
    if tab == "unassigned":
        return [Conversation.assignee_id.is_(None)]
    return []


@dataclass(frozen=True, slots=True)
class Page:
    """Cards of one page and the cursor of the next (None at the end)."""

    items: list[dict[str, Any]]
    next_cursor: str | None


def list_conversations(user: User, q: ListQuery) -> Page:
    """One keyset page of conversation cards visible to ``user`` (one SQL statement)."""
    where = _filters(user, q, status=q.tab != "waiting") + _tab(user, q.tab)
    if q.cursor is not None:
        where.append(_keyset(q.sort, q.cursor))
    rows = _card_rows(sa.and_(*where), _order(q.sort), q.limit + 1)
    more = len(rows) > q.limit
    rows = rows[:q.limit]
    return Page([_card(row) for row in rows], encode_cursor(q.sort, rows[-1][0]) if more and rows else None)


def tab_counts(user: User, q: ListQuery) -> dict[str, int]:
    """How many conversations each tab holds under the current filters ("waiting" ignores the status one)."""
    c = Conversation
    # Waiting: the queue's partial index (ix_conversations_queue) answers it; the others the status indexes.
    waiting = sa.select(sa.func.count()).select_from(c).where(*_filters(user, q, status=False),
                                                            *_tab(user, "waiting")).scalar_subquery()
    row = db.session.execute(sa.select(
        sa.func.count().filter(c.assignee_id == user.id),
        sa.func.count().filter(c.assignee_id.is_(None)),
        sa.func.count(), waiting).where(*_filters(user, q))).one()
    return {"waiting": int(row[3]), "mine": int(row[0]), "unassigned": int(row[1]), "all": int(row[2])}


CONTACT_COLUMNS = (Contact.name, Contact.email, Contact.phone, Contact.identifier)


def _card_rows(where: sa.ColumnElement[bool], order: Sequence[sa.ColumnElement[Any]],
               limit: int | None) -> list[sa.Row[Any]]:
    """Conversations with their contact's card fields and label ids, in one statement."""
    labels = (sa.select(sa.func.array_agg(pg.aggregate_order_by(ConversationLabel.label_id,
                                                                 ConversationLabel.label_id)))
              .where(ConversationLabel.conversation_id == Conversation.id).scalar_subquery())
    stmt = (sa.select(Conversation, *CONTACT_COLUMNS, labels)
            .join(Contact, Contact.id == Conversation.contact_id).where(where).order_by(*order))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(db.session.execute(stmt).all())


def _card(row: sa.Row[Any]) -> dict[str, Any]:
    """A list card from one ``_card_rows`` row: conversation, contact name/email/phone/identifier, label ids."""
    conv, name, email, phone, identifier, labels = tuple(row)
    data = conversation_to_dict(conv, "operator")
    data["contact"] = {"id": conv.contact_id, "name": name, "email": email, "phone": phone, "identifier": identifier}
    data["labels"] = list(labels or [])
    return data


def cards(convs: Sequence[Conversation]) -> list[dict[str, Any]]:
    """Cards of these conversations (same order): operator shape, contact summary, label ids."""
    if not convs:
        return []
    found = {row[0].id: row for row in _card_rows(Conversation.id.in_([c.id for c in convs]), [], None)}
    return [_card(found[c.id]) for c in convs if c.id in found]
