"""Loader and frame pages: sizes, headers, embedding rules."""
from __future__ import annotations

import gzip

from tests.factories import make_inbox
from tests.jsgraph import STATIC
from tests.jsgraph import module_graph

FRAME_ENTRY = STATIC / "js" / "widget" / "main.js"
FRAME_CSS = STATIC / "css" / "widget.css"


def gz(data: bytes) -> int:
    return len(gzip.compress(data, 9))


def test_loader_is_small_cacheable_and_cross_origin(client) -> None:
    resp = client.get("/widget/loader.js")
    assert resp.status_code == 200 and resp.mimetype == "text/javascript"
    # 2 KB on the wire with brotli (tests/test_assets.py); gzip, the fallback, stays near it.
    assert gz(resp.get_data()) <= 2300, gz(resp.get_data())
    assert resp.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert "max-age=300" in resp.headers["Cache-Control"]
    assert "innerHTML" not in resp.get_data(as_text=True)
    resp.close()


def test_frame_bundle_is_under_30_kb_gzipped(client) -> None:
    """The page, its stylesheet and every module the entry imports (walked, not listed) fit 30 KB gzipped."""
    inbox = make_inbox()
    html = client.get(f"/widget/frame?inbox={inbox.website_token}").get_data()
    modules = module_graph(FRAME_ENTRY)
    assert {"stream.js", "upload.js", "state.js", "live.js"} <= {m.name for m in modules}
    assert b"/js/widget/main.js" in html and b"/css/widget.css" in html
    for asset in [*modules, FRAME_CSS]:
        resp = client.get("/static/" + asset.relative_to(STATIC).as_posix())
        assert resp.status_code == 200
        resp.close()
        assert b"innerHTML" not in asset.read_bytes(), asset
    total = gz(html) + sum(gz(asset.read_bytes()) for asset in [*modules, FRAME_CSS])
    assert total <= 30 * 1024, total


def test_frame_may_be_framed_only_by_allowed_origins(client) -> None:
    inbox = make_inbox(origins=["https://shop.example", "https://*.brand.example"])
    resp = client.get(f"/widget/frame?inbox={inbox.website_token}", headers={"Referer": "https://shop.example/p"})
    assert resp.status_code == 200
    csp = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://shop.example https://*.brand.example" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "X-Frame-Options" not in resp.headers
    assert b'data-parent="https://shop.example"' in resp.get_data()
    evil = client.get(f"/widget/frame?inbox={inbox.website_token}", headers={"Referer": "https://evil.example/"})
    assert evil.status_code == 403
    assert client.get("/widget/frame?inbox=nope-nope-nope").status_code == 404


def test_frame_language_follows_the_visitor_unless_the_inbox_overrides(client) -> None:
    inbox = make_inbox()
    ru = client.get(f"/widget/frame?inbox={inbox.website_token}", headers={"Accept-Language": "ru-RU,ru;q=0.9"})
    assert b'<html lang="ru">' in ru.get_data()
    fixed = make_inbox(locale="en")
    en = client.get(f"/widget/frame?inbox={fixed.website_token}", headers={"Accept-Language": "ru-RU"})
    assert b'<html lang="en">' in en.get_data()


def test_frame_escapes_the_inbox_name(client) -> None:
    inbox = make_inbox(name='"><img src=x onerror=alert(1)>')
    body = client.get(f"/widget/frame?inbox={inbox.website_token}").get_data(as_text=True)
    assert "<img src=x" not in body and "&lt;img src=x" in body
