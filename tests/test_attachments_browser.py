"""Attachments in real Chromium against the live gunicorn server.

- ``static/js/common/upload.js`` on one of our pages (same-origin, as in the widget frame
  and the panel): uploads with progress, clear errors for a forbidden type and a 30 MB
  image, and the widget-style signed thumbnail URL loads in an ``<img>`` under the CSP.
- The panel: an image pasted into the composer uploads with progress, the sent message
  shows "Scanning…", and after the scan job the thumbnail appears live (attachment.updated
  over the operator stream).
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
from tests.factories import make_user
from tests.factories import make_visitor
from tests.test_panel_browser import _sign_in
from tests.test_panel_browser import _visitor_conversation
from tests.test_panel_browser import close_quietly
from tests.test_panel_browser import wait_until

pytestmark = [pytest.mark.committing, pytest.mark.browser]

UPLOAD_JS = """
async ({url, token, b64, name, type, padTo}) => {
  const m = await import('/static/js/common/upload.js');
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
  const m = await import('/static/js/common/upload.js');
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
        assert ok["ok"], ok.get("message")
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


PASTE_JS = """
({b64, name}) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const dt = new DataTransfer();
  dt.items.add(new File([bytes], name, {type: 'image/png'}));
  const input = document.querySelector('#composer-input');
  input.focus();
  input.dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true}));
  return !!document.querySelector('#uploads progress');
}
"""


def test_image_pasted_into_the_panel_composer_shows_scanning_then_its_thumbnail_live(live_server, browser,
                                                                                     app) -> None:

    inbox = make_inbox(name="Shop")
    me = make_user(name="Paste Operator", inboxes=[inbox])
    conv_id = _visitor_conversation(inbox, "Grace", "grace@example.com", "Can you show me where to click?")
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        _sign_in(page, live_server.url, me.email)
        page.goto(f"{live_server.url}/app#c{conv_id}")
        wait_until(page, "!document.querySelector('#conv').hidden && !!document.querySelector('.msg')")
        screenshot = io.BytesIO()
        Image.new("RGB", (640, 480), (30, 120, 200)).save(screenshot, "PNG")
        assert page.evaluate(PASTE_JS, {"b64": base64.b64encode(screenshot.getvalue()).decode(), "name": "where.png"})
        wait_until(page, "!!document.querySelector('#uploads .upload.done, #uploads .upload.error')")
        assert page.evaluate("!document.querySelector('#uploads .upload.error')"), page.inner_text("#uploads")
        assert page.evaluate("document.querySelector('#uploads progress').value") == 100
        page.click("#send-btn")
        wait_until(page, "Array.from(document.querySelectorAll('.msg .att')).some((e) => "
                         "e.textContent.includes('where.png: Scanning'))")
        redis = app.extensions["redis"]
        SimpleWorker([Queue("scanning", connection=redis)], connection=redis).work(burst=True)
        # The attachment.updated event reaches the panel over its stream: the preview replaces "Scanning…".
        wait_until(page, "(() => { const i = document.querySelector('.msg .att.img img');"
                         " return !!i && i.complete && i.naturalWidth === 320; })()", timeout=30)
        assert not errors, errors
    finally:
        close_quietly(context)
