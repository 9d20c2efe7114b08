"""Data requests on the operator API: export a contact (JSON) and erase a contact (admins)."""
from __future__ import annotations

from flask import g
from flask import jsonify
from flask.typing import ResponseReturnValue

from messenger.blueprints.operator.auth import login_required
from messenger.blueprints.operator.blueprint import bp
from messenger.contract import shapes
from messenger.contract.core import operation
from messenger.security.ratelimit import client_ip
from messenger.services import data_requests


@bp.route("/api/v1/contacts/<int(max=2147483647):contact_id>/export")
@login_required
@operation("Export everything held about a contact (profile, sessions, conversations, messages, attachments) "
           "as a JSON download", responses={200: shapes.ContactExport}, errors={404: "No such contact"})
def export_contact(contact_id: int) -> ResponseReturnValue:
    """Everything held about the contact, as a JSON download."""
    data = data_requests.export_contact(g.operator, contact_id, ip=client_ip())
    response = jsonify(data)
    response.headers["Content-Disposition"] = f'attachment; filename="contact-{contact_id}.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/api/v1/contacts/<int(max=2147483647):contact_id>/erase", methods=["POST"])
@login_required
@operation("Erase a contact's text and files, keep statistics (admins)", responses={200: shapes.Erased},
           errors={403: "Only admins can erase a contact", 404: "No such contact"})
def erase_contact(contact_id: int) -> ResponseReturnValue:
    """Erase the contact's text and files, keep statistics (admins only)."""
    return jsonify({"erased": data_requests.erase_contact(g.operator, contact_id, ip=client_ip())})
