"""Full-text search over message contents and contacts, for the panel's search overlay.

Uses the GIN-indexed ``search`` tsvector columns ('simple' configuration) with a
prefix tsquery built from the user's words — never ILIKE. Snippets come from
``ts_headline`` with private-use marker characters; they are returned as segments
``[[text, highlighted], …]`` so the client renders plain text and adds ``<mark>``
itself: no HTML from the server is ever trusted.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.models import Contact
from messenger.models import Conversation
from messenger.models import Message
from messenger.models import User
from messenger.services.listing import visible_filter

START, STOP = "\ue000", "\ue001"
HEADLINE_OPTIONS = f'StartSel="{START}", StopSel="{STOP}", MaxWords=18, MinWords=6, MaxFragments=2, ' \
                   'FragmentDelimiter=" … "'
MAX_QUERY = 200
MAX_TERMS = 8
# Newest rows scanned before falling back to the GIN index (see _newest_matches).
MESSAGE_WINDOW = 10_000
CONTACT_WINDOW = 2_000
# What the match filters read: never the message text itself (the tsvector is enough).
SEARCH_COLUMNS = frozenset({"id", "conversation_id", "type", "deleted_at", "erased_at", "search"})
CONTACTS_LIMIT = 10
_TOKEN = re.compile(r"[\w@.+-]+", re.UNICODE)


def build_tsquery(text: object) -> str:
    """A safe prefix tsquery text (``'w1':* & 'w2':*``) from what the operator typed."""
    if not isinstance(text, str):
        raise ValidationError("q must be text.", field="q")
    text = text.strip()
    if not text:
        raise ValidationError("Type something to search.", field="q")
    if len(text) > MAX_QUERY:
        raise ValidationError(f"Searches are limited to {MAX_QUERY} characters.", field="q")
    terms = []
    for token in _TOKEN.findall(text.lower()):
        token = token.strip(".+-")
        if token:
            terms.append(f"'{token}':*")
    if not terms:
        raise ValidationError("Search for words, an email or a phone number.", field="q")
    return " & ".join(terms[:MAX_TERMS])


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
                    filters: Callable[[sa.Select[Any], Any], sa.Select[Any]], limit: int, window: int) -> list[int]:
    """Ids of the newest matching rows, fast for common and for rare words alike.

    A common word is found among the newest ``window`` rows (a bounded backward
    scan of the primary key); only if that window holds too few matches are the older
    rows searched through the GIN index, where a rare word has a short posting list.
    """
    needed = [c for c in table.c if c.name in SEARCH_COLUMNS]
    recent = sa.select(*needed).order_by(table.c.id.desc()).limit(window).subquery()
    ids = list(db.session.scalars(filters(sa.select(recent.c.id), recent)
                                  .where(recent.c.search.bool_op("@@")(query))
                                  .order_by(recent.c.id.desc()).limit(limit)))
    if len(ids) >= limit:
        return ids
    floor = db.session.scalar(sa.select(table.c.id).order_by(table.c.id.desc()).offset(window - 1).limit(1))
    if floor is None:
        return ids
    # "id + 0" keeps the planner off the primary-key order: the GIN bitmap is the cheap path here.
    older = (filters(sa.select(table.c.id), table).where(table.c.search.bool_op("@@")(query), table.c.id < floor)
             .order_by((table.c.id + 0).desc()).limit(limit - len(ids)))
    return ids + list(db.session.scalars(older))


def search(user: User, text: object, *, limit: int = 20) -> dict[str, Any]:
    """Messages (newest first) and contacts matching ``text`` among the inboxes ``user`` may see."""
    query = sa.func.to_tsquery("simple", build_tsquery(text))
    limit = max(1, min(limit, 50))
    visible = visible_filter(user)

    def message_filters(stmt: sa.Select[Any], src: Any) -> sa.Select[Any]:
        stmt = stmt.where(src.c.type.in_(("incoming", "outgoing", "note")), src.c.deleted_at.is_(None))
        if visible:
            stmt = stmt.join(Conversation, Conversation.id == src.c.conversation_id).where(*visible)
        return stmt

    def contact_filters(stmt: sa.Select[Any], src: Any) -> sa.Select[Any]:
        return stmt.where(src.c.erased_at.is_(None), sa.exists().where(Conversation.contact_id == src.c.id, *visible))

    message_ids = _newest_matches(Message.__table__, query, message_filters, limit, MESSAGE_WINDOW)
    rows = db.session.execute(sa.select(
        Message.id, Message.conversation_id, Message.type, Message.created_at,
        sa.func.ts_headline("simple", Message.content, query, HEADLINE_OPTIONS),
        Conversation.display_id, Conversation.status, Contact.id, Contact.name, Contact.email)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .where(Message.id.in_(message_ids)).order_by(Message.id.desc())).all() if message_ids else []
    messages = [{
        "message_id": r[0], "conversation_id": r[1], "type": r[2], "created_at": r[3].isoformat(),
        "snippet": segments(r[4]), "display_id": r[5], "status": r[6],
        "contact": {"id": r[7], "name": r[8], "email": r[9]},
    } for r in rows]
    contact_ids = _newest_matches(Contact.__table__, query, contact_filters, CONTACTS_LIMIT, CONTACT_WINDOW)
    latest = (sa.select(Conversation.id, Conversation.display_id, Conversation.status)
              .where(Conversation.contact_id == Contact.id, *visible)
              .order_by(Conversation.id.desc()).limit(1).lateral())
    contact_rows = db.session.execute(
        sa.select(Contact.id, Contact.name, Contact.email, Contact.phone,
                  sa.func.ts_headline("simple", sa.func.concat_ws(" · ", Contact.name, Contact.email, Contact.phone),
                                      query, HEADLINE_OPTIONS),
                  latest.c.id, latest.c.display_id, latest.c.status)
        .join(latest, sa.true())
        .where(Contact.id.in_(contact_ids)).order_by(Contact.id.desc())).all() if contact_ids else []
    contacts = [{
        "id": r[0], "name": r[1], "email": r[2], "phone": r[3], "snippet": segments(r[4]),
        "conversation_id": r[5], "display_id": r[6], "status": r[7],
    } for r in contact_rows]
    return {"messages": messages, "contacts": contacts}
