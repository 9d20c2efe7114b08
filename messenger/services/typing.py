"""Typing indicators: ephemeral signals on the ``messenger_ephemeral`` channel, no log row.

Each side says ``on`` while typing and ``off`` when it stops; clients hide an indicator
that was not refreshed within ``expires_in`` seconds (a closed tab never says ``off``).
Repeated ``on`` signals are throttled per (conversation, sender) in this process, so a
client that sends one per keystroke costs one NOTIFY every ``THROTTLE_S`` (case 31).

State flips are coalesced too (issue 14 item 5): after a publish, nothing else goes out
for that (conversation, sender) for ``FLIP_S``; flips inside the window only update the
latest state, which one trailing publish sends at the window's end if it differs from
what operators last saw. Alternating on/off as fast as possible therefore costs at most
two NOTIFYs per ``FLIP_S``, and the last word still arrives. (The trailing publish needs
the gevent loop of the web server; elsewhere a flip inside the window is simply dropped
and the indicator expires on its own.) The endpoints are rate-limited per visitor and per
operator on top (``TYPING_RATE_LIMIT``).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app

from messenger.db import notify_ephemeral
from messenger.db import transaction
from messenger.errors import ValidationError
from messenger.models import User
from messenger.services import conversations as conv_service
from messenger.services.visitors import Visitor

logger = logging.getLogger(__name__)

THROTTLE_S = 2.0
FLIP_S = 1.0
EXPIRES_S = 6
_MAX_TRACKED = 10_000


@dataclass
class _Sender:
    """What operators last saw from one (conversation, sender), and a flip waiting for the window's end."""

    published: bool
    at: float
    latest: bool
    publish: Callable[[bool], None]
    trailing: bool = False


_senders: dict[tuple[int, str], _Sender] = {}
_lock = threading.Lock()


def _can_defer() -> bool:
    """True inside the gevent web server, where a greenlet can send the trailing state later."""
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return False
    return bool(monkey.is_module_patched("socket"))


def _forget_stale(now: float) -> None:
    if len(_senders) < _MAX_TRACKED:
        return
    cutoff = now - EXPIRES_S
    for stale in [k for k, v in _senders.items() if v.at < cutoff and not v.trailing]:
        del _senders[stale]


def _should_send(key: tuple[int, str], on: bool, publish: Callable[[bool], None]) -> bool:
    """Publish now (True), or fold ``on`` into the window's trailing state (False)."""
    now = time.monotonic()
    with _lock:
        sender = _senders.get(key)
        if sender is None:
            _forget_stale(now)
            _senders[key] = _Sender(on, now, on, publish)
            return True
        sender.latest, sender.publish = on, publish
        elapsed = now - sender.at
        if on == sender.published:
            # A repeat: "on" refreshes the indicator every THROTTLE_S, "off" never repeats.
            if not on or elapsed < THROTTLE_S:
                return False
        elif elapsed < FLIP_S:
            if not sender.trailing and _can_defer():
                sender.trailing = True
                _defer(key, FLIP_S - elapsed)
            return False
        sender.published, sender.at = on, now
    return True


def _defer(key: tuple[int, str], delay: float) -> None:
    import gevent

    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def flush() -> None:
        with _lock:
            sender = _senders.get(key)
            if sender is None:
                return
            sender.trailing = False
            if sender.latest == sender.published:
                return
            sender.published, sender.at = sender.latest, time.monotonic()
            publish, state = sender.publish, sender.latest
        with app.app_context():
            try:
                publish(state)
            except Exception:  # best effort: the indicator expires by itself anyway
                logger.exception("trailing typing signal failed")

    gevent.spawn_later(delay, flush)


def _parse_on(on: object) -> bool:
    if not isinstance(on, bool):
        raise ValidationError("'on' must be true or false.", field="on")
    return on


def _publish(signal: dict[str, object]) -> None:
    with transaction():
        notify_ephemeral(signal)


def operator_typing(user: User, conversation_id: object, on: object, *, private: object = False) -> bool:
    """An operator types in a conversation they may see; ``private`` (a note) is hidden from the visitor."""
    flag = _parse_on(on)
    if not isinstance(private, bool):
        raise ValidationError("'private' must be true or false.", field="private")
    conv = conv_service.get_for_operator(user, conversation_id)
    base = {"kind": "typing", "inbox_id": conv.inbox_id, "conversation_id": conv.id, "contact_id": conv.contact_id,
            "actor_type": "operator", "user_id": user.id, "name": user.name, "private": private,
            "expires_in": EXPIRES_S}
    publish = _publisher(base)
    if not _should_send((conv.id, f"u{user.id}:{int(private)}"), flag, publish):
        return False
    publish(flag)
    return True


def visitor_typing(visitor: Visitor, conversation_id: object, on: object) -> bool:
    """A visitor types in their own conversation; operators who see the inbox are told."""
    flag = _parse_on(on)
    conv = conv_service.get_for_visitor(visitor, conversation_id)
    base = {"kind": "typing", "inbox_id": conv.inbox_id, "conversation_id": conv.id, "contact_id": conv.contact_id,
            "actor_type": "visitor", "user_id": None, "name": "", "private": False, "expires_in": EXPIRES_S}
    publish = _publisher(base)
    if not _should_send((conv.id, f"c{visitor.contact_id}"), flag, publish):
        return False
    publish(flag)
    return True


def _publisher(base: dict[str, object]) -> Callable[[bool], None]:
    return lambda on: _publish({**base, "on": on})
