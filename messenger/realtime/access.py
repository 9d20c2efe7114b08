"""Who may see which event, and what they see of it (case 15 in docs/security.md: one filter for live and replay).

Scopes are plain values built once in the view (and refreshed by the hub), so the
stream greenlets never need a database session. The same functions decide for live
delivery, SSE replay and long-poll, so no path can skip the filter.

- Operators see events of the inboxes they may see (admins: all inboxes), events about
  themselves, every colleague's ``presence.updated`` and every ``directory.changed`` (the
  account-wide kinds, whose payloads name no inbox).
- Visitors see only non-private events of their own contact in their own inbox, shaped
  without operator-only fields; never notes, never other contacts. The one inbox-wide
  kind, ``queue.changed``, reaches every visitor of the inbox as ``{"inbox_id"}`` only.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from messenger.realtime.log import LogEvent
from messenger.services.activity import for_visitor
from messenger.services.conversations import OPERATOR_ONLY_FIELDS

OPERATOR = "operator"
VISITOR = "visitor"

# Log kinds a visitor may ever receive (all others are operator business).
VISITOR_KINDS = frozenset({"message.created", "message.updated", "conversation.created", "conversation.updated",
                           "attachment.updated"})
# Account-wide kinds every operator receives: a colleague's presence, a change to the panel's pickers.
OPERATOR_ACCOUNT_KINDS = frozenset({"presence.updated", "directory.changed"})
# Inbox-wide kinds every visitor of the inbox receives (payload carries no personal data).
VISITOR_INBOX_KINDS = frozenset({"queue.changed"})
# Names in a conversation event's ``changed`` list that only operators may learn about.
_OPERATOR_ONLY_CHANGES = frozenset({"team_id", "priority"})
_HIDDEN_FOR_VISITORS = frozenset(OPERATOR_ONLY_FIELDS) | {"previous_assignee_id"}


@dataclass(frozen=True, slots=True)
class OperatorScope:
    """An operator stream's principal: ``inbox_ids`` None means every inbox (admin)."""

    user_id: int
    session_version: int
    inbox_ids: frozenset[int] | None
    session_id: str = ""  # the signed-in browser's server-side session (signing out closes its streams)
    token_id: int | None = None  # the API token a Bearer stream was opened with (revoking it closes the stream)

    @property
    def audience(self) -> str:
        return OPERATOR


@dataclass(frozen=True, slots=True)
class VisitorScope:
    """A visitor stream's principal: one contact session in one inbox."""

    session_id: int
    contact_id: int
    inbox_id: int

    @property
    def audience(self) -> str:
        return VISITOR


Scope = OperatorScope | VisitorScope


@dataclass(frozen=True, slots=True)
class Signal:
    """An ephemeral signal (typing) from the ``messenger_ephemeral`` channel: no log row, no position."""

    kind: str
    inbox_id: int
    conversation_id: int
    contact_id: int
    actor_type: str  # "operator" or "visitor"
    user_id: int | None
    name: str
    on: bool
    private: bool
    expires_in: int


def operator_may_see(scope: OperatorScope, event: LogEvent) -> bool:
    """True when this operator may receive ``event`` (live or by replay)."""
    if event.kind in OPERATOR_ACCOUNT_KINDS:
        return True
    if event.inbox_id is not None and (scope.inbox_ids is None or event.inbox_id in scope.inbox_ids):
        return True
    return event.user_id is not None and event.user_id == scope.user_id and event.inbox_id is None


def visitor_payload(event: LogEvent) -> dict[str, Any] | None:
    """What a visitor of ``event.contact_id`` may see of it, or None when nothing."""
    if event.kind in VISITOR_INBOX_KINDS and not event.private:
        return {"inbox_id": event.inbox_id}
    if event.private or event.kind not in VISITOR_KINDS or event.contact_id is None:
        return None
    if event.kind.startswith("message."):
        return for_visitor(event.payload)  # internal activity lines never reach visitors
    if not event.kind.startswith("conversation."):
        return event.payload
    data = {k: v for k, v in event.payload.items() if k not in _HIDDEN_FOR_VISITORS}
    changed = event.payload.get("changed")
    if isinstance(changed, list):
        visible = [c for c in changed if c not in _OPERATOR_ONLY_CHANGES]
        if changed and not visible:
            return None  # only operator-internal fields changed: the visitor learns nothing
        data["changed"] = visible
    return data


def visitor_may_see(scope: VisitorScope, event: LogEvent) -> bool:
    """True when this visitor may receive ``event``."""
    if event.inbox_id != scope.inbox_id:
        return False
    if event.kind in VISITOR_INBOX_KINDS:
        return not event.private
    return event.contact_id == scope.contact_id and visitor_payload(event) is not None


def may_see(scope: Scope, event: LogEvent) -> bool:
    """Dispatch on the scope's audience."""
    if isinstance(scope, OperatorScope):
        return operator_may_see(scope, event)
    return visitor_may_see(scope, event)


def payload_for(audience: str, event: LogEvent) -> dict[str, Any] | None:
    """The payload shaped for an audience (operators get the trigger payload as is)."""
    if audience == OPERATOR:
        return event.payload
    return visitor_payload(event)


def signal_may_reach(scope: Scope, signal: Signal) -> bool:
    """Typing: colleagues in a visible inbox (never yourself); the visitor sees operators, not notes."""
    if isinstance(scope, OperatorScope):
        if signal.actor_type == OPERATOR and signal.user_id == scope.user_id:
            return False
        return scope.inbox_ids is None or signal.inbox_id in scope.inbox_ids
    return (signal.actor_type == OPERATOR and not signal.private and signal.contact_id == scope.contact_id
            and signal.inbox_id == scope.inbox_id)


def signal_payload(audience: str, signal: Signal) -> dict[str, Any]:
    """The typing frame's data; visitors get the operator's display name and nothing else about them."""
    if audience == VISITOR:
        return {"conversation_id": signal.conversation_id, "on": signal.on, "from": OPERATOR,
                "name": signal.name, "expires_in": signal.expires_in}
    return {"conversation_id": signal.conversation_id, "inbox_id": signal.inbox_id, "on": signal.on,
            "from": signal.actor_type, "user_id": signal.user_id, "name": signal.name,
            "private": signal.private, "expires_in": signal.expires_in}


_SESSION_STATE = """
SELECT s.id, s.ip, s.revoked_at IS NOT NULL OR (c.blocked AND (c.blocked_until IS NULL OR c.blocked_until > now()))
  FROM contact_sessions s JOIN contacts c ON c.id = s.contact_id
 WHERE s.id = ANY(%s)
"""
_ACTIVE_IP_BLOCKS = "SELECT network::text FROM ip_blocks WHERE expires_at IS NULL OR expires_at > now()"


def sessions_to_close(conn: Any, session_ids: list[int]) -> list[int]:
    """Visitor sessions whose streams must end: revoked, contact blocked, or last address in a blocked range."""
    networks = [ipaddress.ip_network(row[0]) for row in conn.execute(_ACTIVE_IP_BLOCKS)]
    closing = []
    for session_id, ip, dead in conn.execute(_SESSION_STATE, (session_ids,)):
        if dead or (networks and _in_networks(ip, networks)):
            closing.append(session_id)
    return closing


def _in_networks(ip: str | None, networks: list[Any]) -> bool:
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return False
    return any(address.version == net.version and address in net for net in networks)
