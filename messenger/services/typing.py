"""Typing indicators: ephemeral signals on the ``messenger_ephemeral`` channel, no log row.

Each side says ``on`` while typing and ``off`` when it stops; clients hide an indicator
that was not refreshed within ``expires_in`` seconds (a closed tab never says ``off``).
Repeated ``on`` signals are throttled per (conversation, sender) in this process, so a
client that sends one per keystroke costs one NOTIFY every ``THROTTLE_S`` (CASES 31).
"""
from __future__ import annotations

import json
import threading
import time

import sqlalchemy as sa

from messenger.db import transaction
from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.models import User
from messenger.services import conversations as conv_service
from messenger.services.visitors import Visitor

THROTTLE_S = 2.0
EXPIRES_S = 6
_MAX_TRACKED = 10_000

_last: dict[tuple[int, str], tuple[bool, float]] = {}
_lock = threading.Lock()


def _should_send(conversation_id: int, sender: str, on: bool) -> bool:
    """False for an ``on`` repeated within the throttle window (state changes always go out)."""
    now = time.monotonic()
    key = (conversation_id, sender)
    with _lock:
        previous = _last.get(key)
        if previous is not None and previous[0] == on and (not on or now - previous[1] < THROTTLE_S):
            return False
        if len(_last) >= _MAX_TRACKED:
            cutoff = now - EXPIRES_S
            for stale in [k for k, (_, at) in _last.items() if at < cutoff]:
                del _last[stale]
        _last[key] = (on, now)
    return True


def _parse_on(on: object) -> bool:
    if not isinstance(on, bool):
        raise ValidationError("'on' must be true or false.", field="on")
    return on


def _publish(signal: dict[str, object]) -> None:
    # The ephemeral channel the hub listens on (realtime.hub.EPHEMERAL_CHANNEL).
    with transaction():
        db.session.execute(sa.text("SELECT pg_notify('messenger_ephemeral', :payload)"),
                           {"payload": json.dumps(signal, separators=(",", ":"))})


def operator_typing(user: User, conversation_id: object, on: object, *, private: object = False) -> bool:
    """An operator types in a conversation they may see; ``private`` (a note) is hidden from the visitor."""
    flag = _parse_on(on)
    if not isinstance(private, bool):
        raise ValidationError("'private' must be true or false.", field="private")
    conv = conv_service.get_for_operator(user, conversation_id)
    if not _should_send(conv.id, f"u{user.id}:{int(private)}", flag):
        return False
    _publish({"kind": "typing", "inbox_id": conv.inbox_id, "conversation_id": conv.id,
              "contact_id": conv.contact_id, "actor_type": "operator", "user_id": user.id, "name": user.name,
              "on": flag, "private": private, "expires_in": EXPIRES_S})
    return True


def visitor_typing(visitor: Visitor, conversation_id: object, on: object) -> bool:
    """A visitor types in their own conversation; operators who see the inbox are told."""
    flag = _parse_on(on)
    conv = conv_service.get_for_visitor(visitor, conversation_id)
    if not _should_send(conv.id, f"c{visitor.contact_id}", flag):
        return False
    _publish({"kind": "typing", "inbox_id": conv.inbox_id, "conversation_id": conv.id,
              "contact_id": conv.contact_id, "actor_type": "visitor", "user_id": None, "name": "",
              "on": flag, "private": False, "expires_in": EXPIRES_S})
    return True
