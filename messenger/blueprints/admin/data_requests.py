"""Admin: data requests. Find a contact by e-mail, identifier or id; download their data; erase them."""
from __future__ import annotations

import sqlalchemy as sa
from flask import flash
from flask import g
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from messenger.blueprints.admin.blueprint import bp
from messenger.blueprints.admin.forms import ConfirmForm
from messenger.blueprints.admin.helpers import actor_ip
from messenger.extensions import db
from messenger.models import Contact
from messenger.models import Conversation
from messenger.parsing import digits_or_none
from messenger.services import data_requests

MAX_QUERY = 254


def _find(query: str) -> list[Contact]:
    query = query.strip()[:MAX_QUERY]
    if not query:
        return []
    match = [Contact.email == query.lower(), Contact.identifier == query]
    contact_id = digits_or_none(query)
    if contact_id is not None:
        match.append(Contact.id == contact_id)
    return list(db.session.scalars(sa.select(Contact).where(sa.or_(*match)).order_by(Contact.id).limit(20)))


@bp.route("/data-requests")
def data_requests_page() -> ResponseReturnValue:
    query = request.args.get("q", "")
    contacts = _find(query)
    counts = dict(db.session.execute(
        sa.select(Conversation.contact_id, sa.func.count()).where(Conversation.contact_id.in_([c.id for c in contacts]
                                                                                              or [-1]))
        .group_by(Conversation.contact_id)).all())
    return render_template("admin/data_requests.html", q=query, contacts=contacts, counts=counts,
                           action=ConfirmForm(), retention_days=data_requests.retention_days())


@bp.route("/data-requests/<int(max=2147483647):contact_id>/export")
def data_request_export(contact_id: int) -> ResponseReturnValue:
    response = jsonify(data_requests.export_contact(g.operator, contact_id, ip=actor_ip()))
    response.headers["Content-Disposition"] = f'attachment; filename="contact-{contact_id}.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/data-requests/<int(max=2147483647):contact_id>/erase", methods=["POST"])
def data_request_erase(contact_id: int) -> ResponseReturnValue:
    if ConfirmForm().validate_on_submit():
        counts = data_requests.erase_contact(g.operator, contact_id, ip=actor_ip())
        flash(_("Contact %(id)s erased: %(messages)s messages and %(files)s files.", id=contact_id,
                messages=counts["messages"], files=counts["attachments"]), "success")
    return redirect(url_for("admin.data_requests_page", q=str(contact_id)))
