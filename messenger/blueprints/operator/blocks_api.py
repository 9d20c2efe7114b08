"""Operator API for abuse: block / unblock a contact (optionally its address), mark a conversation as spam.

CSRF (``X-CSRFToken``) like every panel state change; ids go through the operator's access
(another inbox's contact or conversation is 404). The rules live in ``services/blocks.py``.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import g
from flask import jsonify
from flask.typing import ResponseReturnValue

from messenger.blueprints.operator.auth import login_required
from messenger.blueprints.operator.blueprint import bp
from messenger.contract import shapes
from messenger.contract.core import operation
from messenger.contract.operator import BlockContact
from messenger.contract.operator import MarkSpam
from messenger.models import Contact
from messenger.security.ratelimit import client_ip
from messenger.services import blocks
from messenger.services import listing


def block_json(contact: Contact) -> dict[str, Any]:
    return {"id": contact.id, "blocked": contact.blocked,
            "blocked_until": contact.blocked_until.isoformat() if contact.blocked_until else None,
            "blocked_reason": contact.blocked_reason}


@bp.route("/api/v1/contacts/<int(max=2147483647):contact_id>/block", methods=["POST"])
@login_required
@operation("Block a contact (no widget, streams closed); optionally its address too", body=BlockContact,
           responses={200: shapes.BlockState}, errors={404: "No such contact"})
def block_contact(contact_id: int, body: BlockContact) -> ResponseReturnValue:
    """``{"until": ISO 8601 | null, "reason"?: str, "block_address"?: bool}``: the visitor gets no widget."""
    until = body.until.isoformat() if isinstance(body.until, datetime) else None
    contact = blocks.block_contact(g.operator, contact_id, until=until, reason=body.reason,
                                   block_address=body.block_address, ip=client_ip())
    return jsonify(block_json(contact))


@bp.route("/api/v1/contacts/<int(max=2147483647):contact_id>/block", methods=["DELETE"])
@login_required
@operation("Lift a contact's block", responses={200: shapes.BlockState}, errors={404: "No such contact"})
def unblock_contact(contact_id: int) -> ResponseReturnValue:
    """Lift the contact's block."""
    return jsonify(block_json(blocks.unblock_contact(g.operator, contact_id, ip=client_ip())))


@bp.route("/api/v1/conversations/<int(max=2147483647):conversation_id>/spam", methods=["POST"])
@login_required
@operation("Mark as spam: resolve and block the contact (and its address if asked)", body=MarkSpam,
           responses={200: shapes.Conversation}, errors={404: "No such conversation"})
def mark_spam(conversation_id: int, body: MarkSpam) -> ResponseReturnValue:
    """``{"block_address"?: bool}``: resolve the conversation and block its contact."""
    conv = blocks.mark_spam(g.operator, conversation_id, block_address=body.block_address, ip=client_ip())
    return jsonify(listing.cards([conv])[0])
