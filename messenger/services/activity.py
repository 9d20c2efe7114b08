"""Activity lines ("Assigned to Anna (round robin)"): what the visitor may see of them.

Activity lines are written for operators and carry routing detail (policies, snoozes,
requeues, transfers). The server decides, once, which of them a visitor sees and in what
form: ``add_activity`` stores a ``visitor`` marker in ``content_attributes`` for the few
meant for visitors (today: an operator joining), and ``for_visitor`` shapes any message
payload (API page or realtime event) for the visitor audience. The widget translates the
marker's ``key`` into the visitor's language; ``content`` holds the English line.
"""
from __future__ import annotations

from typing import Any

from messenger.extensions import db
from messenger.models import User

# key -> the English line (the widget has its own translations of each key).
VISITOR_LINES = {"joined": "{name} joined the conversation"}
_JOINING_EVENTS = frozenset({"assignment", "escalation"})


def visitor_marker(data: dict[str, Any]) -> dict[str, str] | None:
    """The visitor-facing form of an activity with these attributes, or None (operators only).

    An operator becoming the assignee (auto-assignment, self-assignment, transfer,
    escalation) is "<name> joined the conversation"; everything else stays internal.
    """
    assignee_id = data.get("assignee_id")
    if data.get("event") not in _JOINING_EVENTS or not assignee_id:
        return None
    if assignee_id == data.get("previous_assignee_id"):
        return None
    user = db.session.get(User, assignee_id)
    return {"key": "joined", "name": user.name} if user is not None else None


def for_visitor(payload: dict[str, Any]) -> dict[str, Any] | None:
    """A message payload as the visitor may see it, or None when it is not for them (notes, internal lines)."""
    kind = payload.get("type")
    if kind == "note":
        return None
    if kind != "activity":
        return payload
    marker = (payload.get("content_attributes") or {}).get("visitor")
    if not isinstance(marker, dict) or marker.get("key") not in VISITOR_LINES:
        return None
    line = VISITOR_LINES[marker["key"]].format(name=marker.get("name") or "")
    return {**payload, "content": line, "content_attributes": {"visitor": marker}, "sender_user_id": None}
