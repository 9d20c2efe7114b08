"""Operator attachment endpoints: upload and downloads (panel side, session cookie).

- ``POST /api/v1/conversations/<id>/attachments`` (multipart, field ``file``, header
  ``X-CSRFToken``) → 201 attachment JSON; pass its ``id`` in ``attachment_keys`` when
  sending the message. The view is exempt from Flask-WTF's automatic check because that
  check reads the whole form before the view runs; it validates the header token itself,
  before reading the body.
- ``GET /api/v1/attachments/<key>`` and ``…/<key>/thumb``: for operators who may see the
  conversation's inbox (404 otherwise); only ``clean`` files are served.
"""
from __future__ import annotations

from flask import current_app
from flask import g
from flask import jsonify
from flask import request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError as CSRFValidationError

from messenger.blueprints.files import MultipartUpload
from messenger.blueprints.files import send_download
from messenger.blueprints.operator.auth import login_required
from messenger.blueprints.operator.blueprint import bp
from messenger.contract import shapes
from messenger.contract.core import operation
from messenger.extensions import csrf
from messenger.extensions import limiter
from messenger.security.bodies import body_limit
from messenger.security.bodies import upload_limit
from messenger.services import attachments as attachment_service


def _upload_limit() -> str:
    return str(current_app.config["OPERATOR_UPLOAD_RATE_LIMIT"])


def _check_csrf_header() -> None:
    """The panel's CSRF token from ``X-CSRFToken`` (never from the body, which is not read yet)."""
    try:
        validate_csrf(request.headers.get("X-CSRFToken"))
    except CSRFValidationError as exc:
        raise CSRFError(str(exc)) from None


@bp.route("/api/v1/conversations/<int(max=2147483647):conversation_id>/attachments", methods=["POST"])
@body_limit(upload_limit)
@csrf.exempt
@limiter.limit(_upload_limit)
@login_required
@operation("Upload an attachment (multipart `file`)", responses={201: shapes.Upload}, files=("file",),
           description="multipart/form-data with one `file` part and the X-CSRFToken header; send the answer's "
                       "id in the message's `attachments`.",
           errors={404: "No such conversation", 413: "File too large", 415: "File type not allowed"})
def upload_attachment(conversation_id: int) -> ResponseReturnValue:
    """Receive one file into a conversation the operator may see (status ``pending`` until scanned)."""
    _check_csrf_header()
    att = attachment_service.upload_by_operator(g.operator, conversation_id, MultipartUpload(request),
                                                declared_length=request.content_length)
    return jsonify(attachment_service.upload_to_dict(att)), 201


@bp.route("/api/v1/attachments/<key>", methods=["GET"])
@login_required
@operation("Download a clean attachment", responses={200: None}, content_type="application/octet-stream",
           errors={404: "No such attachment (or not clean)"})
def download_attachment(key: str) -> ResponseReturnValue:
    """The file itself (``Content-Disposition: attachment`` unless a raster image)."""
    att = attachment_service.get_for_operator(g.operator, key)
    return send_download(attachment_service.download(att))


@bp.route("/api/v1/attachments/<key>/thumb", methods=["GET"])
@login_required
@operation("Download an image thumbnail", responses={200: None}, content_type="image/*",
           errors={404: "No such thumbnail"})
def download_attachment_thumb(key: str) -> ResponseReturnValue:
    """The image preview (made by the scan job)."""
    att = attachment_service.get_for_operator(g.operator, key)
    return send_download(attachment_service.download(att, thumbnail=True))
