"""Operator API for abuse: block / unblock a contact (optionally its address), mark a conversation as spam.

CSRF (``X-CSRFToken``) like every panel state change; ids go through the operator's access
(another inbox's contact or conversation is 404). The rules live in ``services/blocks.py``.
"""
from __future__ import annotations

from typing import Any

from flask import g
from flask import jsonify
from flask.typing import ResponseReturnValue

from messenger.blueprints.operator.api import json_body
from messenger.blueprints.operator.auth import login_required
from messenger.blueprints.operator.blueprint import bp
from messenger.errors import ValidationError
from messenger.models import Contact
from messenger.security.ratelimit import client_ip
from messenger.services import blocks
from messenger.services import listing


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise ValidationError(f"{name} must be true or false.", field=name)
    return value


def block_json(contact: Contact) -> dict[str, Any]:
    return {"id": contact.id, "blocked": contact.blocked,
            "blocked_until": contact.blocked_until.isoformat() if contact.blocked_until else None,
            "blocked_reason": contact.blocked_reason}


@bp.route("/api/v1/contacts/<int(max=2147483647):contact_id>/block", methods=["POST"])
@login_required
def block_contact(contact_id: int) -> ResponseReturnValue:
    """``{"until": ISO 8601 | null, "reason"?: str, "block_address"?: bool}``: the visitor gets no widget."""
    body = json_body()
    contact = blocks.block_contact(g.operator, contact_id, until=body.get("until"), reason=body.get("reason"),
                                   block_address=_flag(body, "block_address"), ip=client_ip())
    return jsonify(block_json(contact))


@bp.route("/api/v1/contacts/<int(max=2147483647):contact_id>/block", methods=["DELETE"])
@login_required
def unblock_contact(contact_id: int) -> ResponseReturnValue:
    """Lift the contact's block."""
    return jsonify(block_json(blocks.unblock_contact(g.operator, contact_id, ip=client_ip())))


@bp.route("/api/v1/conversations/<int(max=2147483647):conversation_id>/spam", methods=["POST"])
@login_required
def mark_spam(conversation_id: int) -> ResponseReturnValue:
    """``{"block_address"?: bool}``: resolve the conversation and block its contact."""
    body = json_body()
    conv = blocks.mark_spam(g.operator, conversation_id, block_address=_flag(body, "block_address"), ip=client_ip())
    return jsonify(listing.cards([conv])[0])
