"""Operator API for manual assignment: assign / transfer / unassign, self-assign, queue position.

Views parse and authorise; ``services.assignment`` decides (membership, presence, capacity,
locking). Another inbox's conversation is 404; a stale ``version`` is 409 with the current
state; a non-member assignee is 422.
"""
from __future__ import annotations

from typing import Any

from flask import g
from flask import jsonify
from flask import request
from flask.typing import ResponseReturnValue

from messenger.blueprints.operator.api import _version
from messenger.blueprints.operator.api import json_body
from messenger.blueprints.operator.auth import login_required
from messenger.blueprints.operator.blueprint import bp
from messenger.errors import ValidationError
from messenger.services import assignment
from messenger.services import conversations as conv_service
from messenger.services import listing

ASSIGN_FIELDS = frozenset({"user_id", "team_id", "note", "version"})


def _card(conv: Any) -> dict[str, Any]:
    return listing.cards([conv])[0]


@bp.route("/api/v1/conversations/<int:conversation_id>/assign", methods=["POST"])
@login_required
def assign_conversation(conversation_id: int) -> ResponseReturnValue:
    body = json_body()
    unknown = set(body) - ASSIGN_FIELDS
    if unknown:
        raise ValidationError(f"Unknown field: {sorted(unknown)[0]}.", field=sorted(unknown)[0])
    conv = assignment.assign_to(g.operator, conversation_id, body, expected_version=_version(body))
    return jsonify(_card(conv))


@bp.route("/api/v1/conversations/<int:conversation_id>/self-assign", methods=["POST"])
@login_required
def self_assign(conversation_id: int) -> ResponseReturnValue:
    body = request.get_json(silent=True) if request.content_length else {}
    if not isinstance(body, dict):
        raise ValidationError("Send a JSON object (or no body).", field="body")
    conv = assignment.self_assign(g.operator, conversation_id, expected_version=_version(body))
    return jsonify(_card(conv))


@bp.route("/api/v1/conversations/<int:conversation_id>/queue")
@login_required
def queue_position(conversation_id: int) -> ResponseReturnValue:
    conv = conv_service.get_for_operator(g.operator, conversation_id)
    return jsonify({"conversation_id": conv.id, "position": assignment.queue_position(conv.id)})
