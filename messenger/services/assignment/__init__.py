"""Routing and assignment: who gets a conversation, the queue, escalation, transfers.

The rule lives here whether a view or an RQ job triggers it; ``messenger.jobs.assignment``
only calls these functions. Other services never import this package: they ask for
routing through ``services.routing`` (enqueue after commit), and the capacity rule they
need is ``services.capacity``; both sit below conversations and messages, this package
above them.

- ``queue``: what waits, in what order (``(waiting_since, id)``), the queue position, the locks.
- ``policy``: auto-assignment picks, among the inbox's members who are active, ``online``
  and below capacity (``services.capacity``), by the inbox policy: round-robin or
  least-busy, optionally the contact's previous operator first. A conversation with a
  team only goes to team members. Nobody free: it waits ``pending`` in the inbox queue;
  any freed seat drains the queue oldest first.
- ``claims``: ``assign`` / ``drain`` and the claim transaction every assignment goes through.
- ``escalation``: no first reply within the inbox's timeout → reassign, team, or notify.
- ``repair``: offline or deactivated operators' waiting conversations back to the queue,
  and the periodic sweep that repairs whatever a lost job left behind.
- ``manual``: self-assign, assign / transfer with a note, team, unassign (operator API).

Every claim is one transaction that re-counts the operator's load under the operator
lock, so capacity holds under any concurrency (two workers, an operator clicking "assign
to me", another inbox sharing the operator). Lock order: ``claims``' docstring.

The routing entry points (``on_operator_online`` …) live in ``services.routing``, below
conversations and messages; they are named here too for callers above this package.
"""
from __future__ import annotations

from messenger.services.assignment.claims import DrainIncomplete
from messenger.services.assignment.claims import assign
from messenger.services.assignment.claims import drain
from messenger.services.assignment.escalation import escalate
from messenger.services.assignment.manual import assign_to
from messenger.services.assignment.manual import self_assign
from messenger.services.assignment.queue import LOCK_QUEUE
from messenger.services.assignment.queue import WAITING
from messenger.services.assignment.queue import queue_position
from messenger.services.assignment.repair import ESCALATION_GRACE_S
from messenger.services.assignment.repair import requeue_operator
from messenger.services.assignment.repair import requeue_removed_member
from messenger.services.assignment.repair import sweep
from messenger.services.routing import on_capacity_changed
from messenger.services.routing import on_operator_offline
from messenger.services.routing import on_operator_online

__all__ = ["ESCALATION_GRACE_S", "LOCK_QUEUE", "WAITING", "DrainIncomplete", "assign", "assign_to", "drain", "escalate",
           "on_capacity_changed", "on_operator_offline", "on_operator_online", "queue_position",
           "requeue_operator", "requeue_removed_member", "self_assign", "sweep"]
