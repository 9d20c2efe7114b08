"""``static/js/shared/upload.js`` in real Chromium against the live gunicorn server.

The page is one of ours (the module is same-origin, as in the widget frame and the panel):
the helper uploads with progress, reports a forbidden type clearly, and after the scan
job the widget-style signed thumbnail URL loads in an ``<img>`` under the page's CSP.
"""
from __future__ import annotations

import base64
import io

import pytest
import sqlalchemy as sa
from PIL import Image
from rq import Queue
from rq import SimpleWorker

from messenger.extensions import db
from messenger.models import Attachment
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_visitor

pytestmark = [pytest.mark.committing, pytest.mark.browser]

UPLOAD_JS = """
async ({url, token, b64, name, type, padTo}) => {
  const m = await import('/static/js/shared/upload.js');
  let bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  if (padTo) { const big = new Uint8Array(padTo); big.set(bytes); bytes = big; }
  const file = new File([bytes], name, {type});
  const progress = [];
  const up = m.uploadFile(url, file, {headers: {'X-Visitor-Token': token}, onProgress: (p) => progress.push(p)});
  try {
    const att = await up.promise;
    return {ok: true, att, progress, label: m.attachmentLabel(att), size: m.formatSize(att.size)};
  } catch (e) {
    return {ok: false, name: e.name, status: e.status, code: e.code, message: e.message, progress};
  }
}
"""

THUMB_JS = """
async ({token, id}) => {
  const r = await fetch('/widget/api/v1/attachment-urls', {method: 'POST',
    headers: {'X-Visitor-Token': token, 'Content-Type': 'application/json'}, body: JSON.stringify({ids: [id]})});
  const body = await r.json();
  const img = document.createElement('img');
  document.body.append(img);
  await new Promise((resolve, reject) => {
    img.onload = resolve;
    img.onerror = reject;
    img.src = body.urls[id].thumb_url;
  });
  const m = await import('/static/js/shared/upload.js');
  return {w: img.naturalWidth, h: img.naturalHeight, expires: body.expires_in,
          previewable: m.isPreviewable({status: 'clean', content_type: 'image/png', has_thumbnail: true})};
}
"""


def _photo() -> bytes:
    buf = io.BytesIO()
    Image.effect_noise((600, 400), 60).convert("RGB").save(buf, "PNG")
    return buf.getvalue()


def test_upload_helper_progress_errors_and_signed_thumbnail_in_chromium(live_server, browser, app) -> None:
    inbox = make_inbox(origins=[live_server.url])
    visitor, token = make_visitor(inbox)
    conv = make_conversation(inbox, visitor)
    url = f"/widget/api/v1/conversations/{conv.id}/attachments"
    photo = _photo()
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/login")
        ok = page.evaluate(UPLOAD_JS, {"url": url, "token": token, "b64": base64.b64encode(photo).decode(),
                                       "name": "photo.png", "type": "image/png"})
        assert ok["ok"], ok
        assert ok["att"]["status"] == "pending" and ok["label"] == "Scanning…"
        assert ok["att"]["content_type"] == "image/png" and ok["progress"] and ok["progress"][-1] == 100
        bad = page.evaluate(UPLOAD_JS, {"url": url, "token": token,
                                        "b64": base64.b64encode(b"<html><script>alert(1)</script>").decode(),
                                        "name": "x.png", "type": "image/png"})
        assert not bad["ok"] and bad["name"] == "UploadError" and bad["status"] == 422
        assert bad["code"] == "type_not_allowed" and "not allowed" in bad["message"]
        # 30 MB starting like a PNG: refused at the 10 MB image limit while streaming, a clear 413.
        huge = page.evaluate(UPLOAD_JS, {"url": url, "token": token, "b64": base64.b64encode(photo[:64]).decode(),
                                         "name": "huge.png", "type": "image/png", "padTo": 30 * 1024 * 1024})
        assert not huge["ok"] and huge["status"] == 413 and huge["code"] == "too_large"
        assert huge["message"] == "This file is too large (limit 10 MB)."
        # The scan job (the worker's part), then the widget-style signed thumbnail URL in an <img>.
        redis = app.extensions["redis"]
        SimpleWorker([Queue("scanning", connection=redis)], connection=redis).work(burst=True)
        db.session.expire_all()
        att = db.session.scalar(sa.select(Attachment).where(Attachment.key == ok["att"]["id"]))
        assert att is not None and att.status == "clean"
        thumb = page.evaluate(THUMB_JS, {"token": token, "id": ok["att"]["id"]})
        assert (thumb["w"], thumb["h"]) == (320, 213) and thumb["expires"] > 0 and thumb["previewable"]
    finally:
        context.close()
