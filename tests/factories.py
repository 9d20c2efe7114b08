"""Plain factory functions (Indico style): each creates a committed-or-flushed row via services."""
from __future__ import annotations

import itertools
import uuid
from typing import Any

from messenger.extensions import db
from messenger.models import Conversation
from messenger.models import Inbox
from messenger.models import User
from messenger.services import inboxes as inbox_service
from messenger.services import users as user_service
from messenger.services import visitors as visitor_service
from messenger.services.visitors import Visitor

_seq = itertools.count(1)
PASSWORD = "correct horse battery"


def make_user(*, role: str = "agent", name: str | None = None, email: str | None = None,
              availability: str = "online", capacity: int = 10, inboxes: list[Inbox] = ()) -> User:
    n = next(_seq)
    email = email or f"op{n}-{uuid.uuid4().hex[:6]}@example.com"
    user = user_service.create_user(None, name=name or f"Operator {n}", email=email, password=PASSWORD, role=role,
                                    capacity=capacity)
    user.availability = availability
    db.session.commit()
    for inbox in inboxes:
        inbox_service.add_member(None, inbox.id, user.id)
    return user


def make_inbox(*, name: str | None = None, origins: list[str] | None = None, **settings: Any) -> Inbox:
    settings.setdefault("auto_assignment", False)
    return inbox_service.create_inbox(None, name=name or f"Inbox {next(_seq)}",
                                      allowed_origins=origins or ["http://127.0.0.1", "http://localhost"],
                                      **settings)


def make_visitor(inbox: Inbox) -> tuple[Visitor, str]:
    return visitor_service.start_session(inbox, ip="127.0.0.1", user_agent="pytest")


def make_conversation(inbox: Inbox, visitor: Visitor | None = None, **fields: Any) -> Conversation:
    from messenger.services import conversations as conv_service

    if visitor is None:
        visitor, _ = make_visitor(inbox)
    conv, _ = conv_service.create_conversation(visitor)
    if fields:
        for key, value in fields.items():
            setattr(conv, key, value)
        db.session.commit()
    return conv
