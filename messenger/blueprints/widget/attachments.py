"""Widget attachment endpoints: upload, signed URLs, downloads (visitor side).

- ``POST /widget/api/v1/conversations/<id>/attachments`` (multipart, field ``file``,
  ``X-Visitor-Token``) → 201 attachment JSON; pass its ``id`` in ``attachment_keys``
  when sending the message.
- ``POST /widget/api/v1/attachment-urls`` ``{"ids": [...]}`` → short-lived signed URLs
  for ``<img>``/``<video>``/download links, which cannot carry the token header.
- ``GET /widget/api/v1/attachments/<key>`` and ``…/<key>/thumb``: with the token header
  or a ``?sig=`` minted above. Someone else's file is a 404; only ``clean`` files are
  served (409 ``scanning`` / ``malware_detected`` / ``unavailable`` otherwise).
"""
from __future__ import annotations

from typing import Any

from flask import current_app
from flask import g
from flask import jsonify
from flask import request
from flask import url_for
from flask.typing import ResponseReturnValue

from messenger.blueprints.files import MultipartUpload
from messenger.blueprints.files import send_download
from messenger.blueprints.widget.api import visitor_required
from messenger.blueprints.widget.blueprint import bp
from messenger.contract import shapes as common
from messenger.contract import widget as contract
from messenger.contract import widget_shapes as shapes
from messenger.contract.core import operation
from messenger.errors import NotFound
from messenger.extensions import db
from messenger.extensions import limiter
from messenger.models import Inbox
from messenger.security import attachment_urls
from messenger.security.bodies import body_limit
from messenger.security.bodies import upload_limit
from messenger.security.origins import check_request_origin
from messenger.security.ratelimit import client_ip
from messenger.services import attachments as attachment_service
from messenger.services.messages import attachment_to_dict
from messenger.services.visitors import Visitor
from messenger.services.visitors import require_not_blocked

API = "/api/v1"
FILE = "application/octet-stream"  # as for the operator's downloads (the file keeps its own type)
NOT_SERVED = {404: "No such file (or not this visitor's, or the link expired)",
              409: "scanning / malware_detected / unavailable: only clean files are served"}


def _upload_limit() -> str:
    return str(current_app.config["UPLOAD_RATE_LIMIT"])


def _download_limit() -> str:
    return str(current_app.config["ATTACHMENT_DOWNLOAD_RATE_LIMIT"])


# The widget API's header check (token, origin, block list) without a view of its own.
_require_header_visitor = visitor_required(lambda: None)


@bp.route(f"{API}/conversations/<int(max=2147483647):conversation_id>/attachments", methods=["POST"])
@body_limit(upload_limit)
@limiter.limit(_upload_limit, key_func=client_ip)
@visitor_required
@operation("Upload an attachment (multipart/form-data, field `file`)", files=("file",),
           responses={201: common.Upload},
           description="The file is `pending` until scanned; pass its `id` in `attachments` when sending the "
                       "message. The size limit is the inbox's (413 above it).",
           errors={404: "No such conversation", 413: "too_large", 415: "A file type that is not accepted"})
def upload(conversation_id: int) -> ResponseReturnValue:
    """Receive one file into the visitor's conversation (status ``pending`` until scanned)."""
    att = attachment_service.upload_by_visitor(g.visitor, conversation_id, MultipartUpload(request),
                                               declared_length=request.content_length)
    return jsonify(attachment_service.upload_to_dict(att)), 201


@bp.route(f"{API}/attachment-urls", methods=["POST"])
@body_limit(16 * 1024)
@limiter.limit(_download_limit, key_func=client_ip)
@visitor_required
@operation("Short-lived signed URLs for attachment previews and downloads", body=contract.SignedUrlsRequest,
           responses={200: shapes.SignedUrls})
def signed_urls(body: contract.SignedUrlsRequest) -> ResponseReturnValue:
    """Signed download URLs for the visitor's clean attachments (unknown or not ready ids are left out)."""
    urls: dict[str, dict[str, str]] = {}
    for key in dict.fromkeys(body.ids):
        try:
            att = attachment_service.get_for_visitor(g.visitor, key)
        except NotFound:
            continue
        entry = signed_urls_for(g.visitor, attachment_to_dict(att))
        if entry:
            urls[att.key] = entry
    return jsonify({"urls": urls, "expires_in": attachment_urls.ttl_s()})


def signed_urls_for(visitor: Visitor, attachment: dict[str, Any]) -> dict[str, str]:
    """``{"url", "thumb_url"?}`` for a clean attachment JSON the visitor may see (empty otherwise).

    The widget API can merge this into message payloads it returns to ``visitor`` (only
    for messages it already authorised), sparing the frame a round trip per image.
    """
    if attachment.get("status") != "clean" or not isinstance(attachment.get("id"), str):
        return {}
    key = attachment["id"]
    entry = {"url": url_for("widget.download", key=key,
                            sig=attachment_urls.sign(key, "file", visitor.session_id, visitor.token_id))}
    if attachment.get("has_thumbnail"):
        entry["thumb_url"] = url_for("widget.download_thumb", key=key,
                                     sig=attachment_urls.sign(key, "thumb", visitor.session_id, visitor.token_id))
    return entry


def _visitor_for(key: str, variant: str) -> None:
    """``g.visitor`` from the token header, else from a signature bound to this key and variant."""
    if request.headers.get("X-Visitor-Token") is not None or "sig" not in request.args:
        _require_header_visitor()
        return
    claims = attachment_urls.read(request.args.get("sig"), key, variant)
    visitor = attachment_service.visitor_for_url(claims) if claims is not None else None
    if visitor is None:
        # Same answer as an unknown file: an expired or foreign link reveals nothing.
        raise NotFound("This link has expired or is not valid.", code="link_expired")
    inbox = db.session.get(Inbox, visitor.inbox_id)
    if inbox is None:
        raise NotFound("This link has expired or is not valid.", code="link_expired")
    check_request_origin(inbox)
    require_not_blocked(visitor)
    g.visitor = visitor


@bp.route(f"{API}/attachments/<key>", methods=["GET"])
@limiter.limit(_download_limit, key_func=client_ip)
@operation("Download a clean attachment (X-Visitor-Token, or a signed URL's sig)", query=contract.VisitorDownloadQuery,
           responses={200: None}, content_type=FILE, errors=NOT_SERVED)
def download(key: str, query: contract.VisitorDownloadQuery) -> ResponseReturnValue:
    """The file itself (``Content-Disposition: attachment`` unless a raster image)."""
    _visitor_for(key, "file")
    att = attachment_service.get_for_visitor(g.visitor, key)
    return send_download(attachment_service.download(att))


@bp.route(f"{API}/attachments/<key>/thumb", methods=["GET"])
@limiter.limit(_download_limit, key_func=client_ip)
@operation("Download an image's preview (X-Visitor-Token, or a signed URL's sig)", query=contract.VisitorDownloadQuery,
           responses={200: None}, content_type="image/*", errors=NOT_SERVED)
def download_thumb(key: str, query: contract.VisitorDownloadQuery) -> ResponseReturnValue:
    """The image preview (made by the scan job)."""
    _visitor_for(key, "thumb")
    att = attachment_service.get_for_visitor(g.visitor, key)
    return send_download(attachment_service.download(att, thumbnail=True))
