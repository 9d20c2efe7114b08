"""Full-text search over message contents and contacts, for the panel's search overlay.

Messages: each message's stored ``search`` tsvector is built in its inbox's language (the
``english`` or ``russian`` configuration, see ``SEARCH_CONFIG_SQL`` in models.py), so word forms
match ("orders" finds "order", "заказы" finds "заказ"). What the operator types is turned into a
prefix tsquery (search as you type) normalised by both configurations and OR-ed, so a search
finds messages of every inbox whatever its language. Contacts: names, emails, phones and
identifiers, in the ``simple`` configuration (no stemming of names), with ё folded into е on both
sides (Russian writers often drop its dots). Never ILIKE.

Ranking is bounded so common words stay fast: up to ``CANDIDATES`` of the newest matches the
operator may see are found first (the newest ``MESSAGE_WINDOW`` rows, then, if they hold less
than a page, the GIN index for older ones), and only those are ranked by ``ts_rank_cd``, newest
first among equals. For a rare word that is every match (up to ``CANDIDATES``).

Snippets come from ``ts_headline`` with private-use marker characters; they are returned as
segments ``[[text, highlighted], …]`` so the client renders plain text and adds ``<mark>``
itself: no HTML from the server is ever trusted.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import TSQUERY

from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.models import SEARCH_CONFIG_SQL
from messenger.models import Contact
from messenger.models import Conversation
from messenger.models import Message
from messenger.models import User
from messenger.services.listing import visible_filter
from messenger.services.listing import visible_inboxes

START, STOP = "\ue000", "\ue001"
HEADLINE_OPTIONS = f'StartSel="{START}", StopSel="{STOP}", MaxWords=18, MinWords=6, MaxFragments=2, ' \
                   'FragmentDelimiter=" … "'
MAX_QUERY = 200
MAX_TERMS = 8
# A shorter last word matches whole (a one- or two-letter prefix would match half the index).
MIN_PREFIX = 3
# Message search configurations: one per inbox language (models.SEARCH_CONFIG_SQL).
MESSAGE_CONFIGS = ("english", "russian")
# Newest rows scanned before falling back to the GIN index (see _newest_matches).
MESSAGE_WINDOW = 10_000
CONTACT_WINDOW = 2_000
# Newest matches ranked by relevance (see the module's docstring).
CANDIDATES = 100
CONTACT_CANDIDATES = 50
# What the match filters read: never the message text itself (the tsvector is enough).
SEARCH_COLUMNS = frozenset({"id", "inbox_id", "type", "deleted_at", "erased_at", "search"})
CONTACTS_LIMIT = 10
_TOKEN = re.compile(r"[\w@.+-]+", re.UNICODE)
_YO = str.maketrans("ёЁ", "еЕ")
# A contact's line is short: highlight it whole (then its original letters are put back, see _contacts).
CONTACT_HEADLINE_OPTIONS = f'StartSel="{START}", StopSel="{STOP}", HighlightAll=true'


def build_tsquery(text: object) -> str:
    """A safe tsquery text (``'w1' & 'w2':*``) from what the operator typed, before normalisation."""
    if not isinstance(text, str):
        raise ValidationError("q must be text.", field="q")
    text = text.strip()
    if not text:
        raise ValidationError("Type something to search.", field="q")
    if len(text) > MAX_QUERY:
        raise ValidationError(f"Searches are limited to {MAX_QUERY} characters.", field="q")
    tokens = [t.lstrip(".-").rstrip(".+-") for t in _TOKEN.findall(text.lower())]   # "+1" stays: phones
    words = [t for t in tokens if t.strip("+")][:MAX_TERMS]
    if not words:
        raise ValidationError("Search for words, an email or a phone number.", field="q")
    # Only the last word can be unfinished (search as you type): it is a prefix. A prefix of a common
    # word reads every posting of every matching word from the GIN index, so the others match whole.
    terms = [f"'{w}'" for w in words[:-1]]
    last = words[-1]
    terms.append(f"'{last}':*" if len(last) >= MIN_PREFIX else f"'{last}'")
    return " & ".join(terms)


def fold_yo(text: str) -> str:
    """ё written as е, one character for one, as the contacts' search vectors are (migration 0020)."""
    return text.translate(_YO)


def normalised_queries(text: object) -> tuple[str, str]:
    """The message tsquery (every configuration's forms, OR-ed) and the contact one, as tsquery text."""
    raw = build_tsquery(text)
    forms = db.session.execute(sa.select(
        *(sa.func.to_tsquery(sa.literal_column(f"'{config}'::regconfig"), raw).cast(sa.Text)
          for config in MESSAGE_CONFIGS),
        sa.func.to_tsquery(sa.literal_column("'simple'::regconfig"), fold_yo(raw)).cast(sa.Text))).one()
    *message_forms, contact = forms
    distinct = [f for f in dict.fromkeys(message_forms) if f]
    return " | ".join(f"( {f} )" for f in distinct), contact

def segments(headline: str) -> list[list[Any]]:
    """Split a marked ts_headline into ``[text, highlighted]`` pairs."""
    out: list[list[Any]] = []
    highlighted = False
    for part in re.split(f"([{START}{STOP}])", headline):
        if part == START:
            highlighted = True
        elif part == STOP:
            highlighted = False
        elif part:
            out.append([part, highlighted])
    return out


def _newest_matches(table: sa.FromClause, query: sa.ColumnElement[Any],
                    filters: Callable[[sa.Select[Any], Any], sa.Select[Any]], want: int, enough: int,
                    window: int) -> list[int]:
    """Ids of up to ``want`` of the newest matching rows, fast for common and for rare words alike.

    The newest ``window`` rows are read first (a bounded backward scan of the primary key): a
    common word has its ``want`` candidates there, or at least ``enough`` (a page), and that
    is the answer. Only if the window holds fewer are the older rows searched through the GIN
    index, where such a word has a short posting list.
    """
    needed = [c for c in table.c if c.name in SEARCH_COLUMNS]
    recent = sa.select(*needed).order_by(table.c.id.desc()).limit(window).subquery()
    ids = list(db.session.scalars(filters(sa.select(recent.c.id), recent)
                                  .where(recent.c.search.bool_op("@@")(query))
                                  .order_by(recent.c.id.desc()).limit(want)))
    if len(ids) >= enough:
        return ids
    floor = db.session.scalar(sa.select(table.c.id).order_by(table.c.id.desc()).offset(window - 1).limit(1))
    if floor is None:
        return ids
    # "id + 0" keeps the planner off the primary-key order: the GIN bitmap is the cheap path here.
    older = (filters(sa.select(table.c.id), table).where(table.c.search.bool_op("@@")(query), table.c.id < floor)
             .order_by((table.c.id + 0).desc()).limit(want - len(ids)))
    return ids + list(db.session.scalars(older))


def _ranked(table: Any, ids: list[int], query: sa.ColumnElement[Any], limit: int) -> Any:
    """The best ``limit`` of ``ids`` by relevance, newest first among equals: a subquery of ids in that order."""
    order = (sa.func.ts_rank_cd(table.c.search, query).desc(), table.c.created_at.desc(), table.c.id.desc())
    return (sa.select(table.c.id, sa.func.row_number().over(order_by=order).label("pos"))
            .where(table.c.id.in_(ids)).order_by(*order).limit(limit).subquery())


def _messages(user: User, tsquery: str, limit: int) -> list[dict[str, Any]]:
    if not tsquery:
        return []
    query = sa.cast(tsquery, TSQUERY)

    def message_filters(stmt: sa.Select[Any], src: Any) -> sa.Select[Any]:
        # The message's own inbox_id: no join with conversations to decide who may see it.
        return stmt.where(src.c.type.in_(("incoming", "outgoing", "note")), src.c.deleted_at.is_(None),
                          *visible_inboxes(user, src.c.inbox_id))

    ids = _newest_matches(Message.__table__, query, message_filters, CANDIDATES, limit, MESSAGE_WINDOW)
    if not ids:
        return []
    best = _ranked(Message.__table__, ids, query, limit)
    config: sa.ColumnElement[Any] = sa.literal_column(SEARCH_CONFIG_SQL.format(locale="messages.locale"))
    rows = db.session.execute(sa.select(
        Message.id, Message.conversation_id, Message.type, Message.created_at,
        sa.func.ts_headline(config, Message.content, query, HEADLINE_OPTIONS),
        Conversation.display_id, Conversation.status, Contact.id, Contact.name, Contact.email)
        .join(best, best.c.id == Message.id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .order_by(best.c.pos)).all()
    return [{
        "message_id": r[0], "conversation_id": r[1], "type": r[2], "created_at": r[3].isoformat(),
        "snippet": segments(r[4]), "display_id": r[5], "status": r[6],
        "contact": {"id": r[7], "name": r[8], "email": r[9]},
    } for r in rows]


def _unfolded(parts: list[list[Any]], original: str) -> list[list[Any]]:
    """Segments of a headline of the folded text, with the original's letters (ё) back in place."""
    if sum(len(text) for text, _ in parts) != len(original):
        return parts  # not the whole text: keep the folded letters rather than misplace any
    out: list[list[Any]] = []
    at = 0
    for text, marked in parts:
        out.append([original[at:at + len(text)], marked])
        at += len(text)
    return out


def _contacts(user: User, tsquery: str) -> list[dict[str, Any]]:
    if not tsquery:
        return []
    query = sa.cast(tsquery, TSQUERY)
    visible = visible_filter(user)

    def contact_filters(stmt: sa.Select[Any], src: Any) -> sa.Select[Any]:
        # A scalar subquery (not EXISTS, which the planner turns into a semi-join hashing the conversations
        # of every visible inbox) stays a per-contact probe of ix_conversations_contact.
        seen = sa.select(Conversation.id).where(Conversation.contact_id == src.c.id, *visible).limit(1)
        return stmt.where(src.c.erased_at.is_(None), seen.scalar_subquery().is_not(None))

    ids = _newest_matches(Contact.__table__, query, contact_filters, CONTACT_CANDIDATES, CONTACTS_LIMIT,
                         CONTACT_WINDOW)
    if not ids:
        return []
    best = _ranked(Contact.__table__, ids, query, CONTACTS_LIMIT)
    latest = (sa.select(Conversation.id, Conversation.display_id, Conversation.status)
              .where(Conversation.contact_id == Contact.id, *visible)
              .order_by(Conversation.id.desc()).limit(1).lateral())
    rows = db.session.execute(
        sa.select(Contact.id, Contact.name, Contact.email, Contact.phone,
                  sa.func.ts_headline("simple", sa.func.translate(sa.func.concat_ws(
                      " · ", Contact.name, Contact.email, Contact.phone), "ёЁ", "еЕ"), query, CONTACT_HEADLINE_OPTIONS),
                  latest.c.id, latest.c.display_id, latest.c.status)
        .join(best, best.c.id == Contact.id)
        .join(latest, sa.true())
        .order_by(best.c.pos)).all()
    return [{
        "id": r[0], "name": r[1], "email": r[2], "phone": r[3],
        "snippet": _unfolded(segments(r[4]), " · ".join(v for v in r[1:4] if v is not None)),
        "conversation_id": r[5], "display_id": r[6], "status": r[7],
    } for r in rows]


def search(user: User, text: object, *, limit: int = 20) -> dict[str, Any]:
    """Messages and contacts matching ``text`` among the inboxes ``user`` may see, best first (newest among equals)."""
    message_query, contact_query = normalised_queries(text)
    return {"messages": _messages(user, message_query, max(1, min(limit, 50))),
            "contacts": _contacts(user, contact_query)}
