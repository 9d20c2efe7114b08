"""Operator API for manual assignment: assign / transfer / unassign, self-assign, queue position.

Views parse and authorise; ``services.assignment`` decides (membership, presence, capacity,
locking). Another inbox's conversation is 404; a stale ``version`` is 409 with the current
state; a non-member assignee is 422.
"""
from __future__ import annotations

from typing import Any

from flask import g
from flask import jsonify
from flask.typing import ResponseReturnValue

from messenger.blueprints.operator.auth import login_required
from messenger.blueprints.operator.blueprint import bp
from messenger.contract import shapes
from messenger.contract.core import operation
from messenger.contract.operator import Assign
from messenger.contract.operator import SelfAssign
from messenger.services import assignment
from messenger.services import conversations as conv_service
from messenger.services import listing


def _card(conv: Any) -> dict[str, Any]:
    return listing.cards([conv])[0]


@bp.route("/api/v1/conversations/<int:conversation_id>/assign", methods=["POST"])
@login_required
@operation("Assign to an operator or team, unassign, transfer with a note", body=Assign,
           responses={200: shapes.Conversation},
           errors={404: "No such conversation", 409: "stale_version", 422: "not a member of the inbox / team"})
def assign_conversation(conversation_id: int, body: Assign) -> ResponseReturnValue:
    # Only the fields sent count: {"user_id": null} unassigns, an absent user_id keeps the assignee.
    changes = body.model_dump(exclude_unset=True)
    conv = assignment.assign_to(g.operator, conversation_id, changes, expected_version=body.version)
    return jsonify(_card(conv))


@bp.route("/api/v1/conversations/<int:conversation_id>/self-assign", methods=["POST"])
@login_required
@operation("Assign to me", body=SelfAssign, body_optional=True, responses={200: shapes.Conversation},
           errors={404: "No such conversation", 409: "stale_version / already taken"})
def self_assign(conversation_id: int, body: SelfAssign) -> ResponseReturnValue:
    conv = assignment.self_assign(g.operator, conversation_id, expected_version=body.version)
    return jsonify(_card(conv))


@bp.route("/api/v1/conversations/<int:conversation_id>/queue")
@login_required
@operation("Queue position of a waiting conversation", responses={200: shapes.QueuePosition},
           errors={404: "No such conversation"})
def queue_position(conversation_id: int) -> ResponseReturnValue:
    conv = conv_service.get_for_operator(g.operator, conversation_id)
    return jsonify({"conversation_id": conv.id, "position": assignment.queue_position(conv.id)})
