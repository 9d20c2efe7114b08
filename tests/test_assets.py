"""Static assets on the wire (real gunicorn): brotli/gzip precompressed, far-future cached by content."""
from __future__ import annotations

import gzip
import http.client
import re
from pathlib import Path
from urllib.parse import urlsplit

import brotli
import pytest

from messenger.assets import build
from messenger.assets import minify_loader
from messenger.assets import static_version
from tests.factories import make_inbox
from tests.jsgraph import STATIC
from tests.jsgraph import module_graph

YEAR = "max-age=31536000"


def fetch(base: str, path: str, encoding: str | None) -> tuple[int, dict[str, str], bytes]:
    """GET ``path`` as a browser would, returning the body exactly as it crossed the wire."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Accept-Encoding": encoding} if encoding else {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


@pytest.mark.committing
def test_frame_assets_are_served_compressed_with_far_future_caching(live_server) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox(origins=[live_server.url])
    status, _, html = fetch(live_server.url, f"/widget/frame?inbox={inbox.website_token}", None)
    assert status == 200
    entry = re.search(rb'src="(/static/([0-9a-f]{12})/js/widget/main\.js)"', html)
    assert entry is not None, html[:400]
    version = entry.group(2).decode()
    assert version == static_version()
    assert f'href="/static/{version}/css/widget.css"'.encode() in html
    files = [*module_graph(STATIC / "js" / "widget" / "main.js"), STATIC / "css" / "widget.css"]
    wire = {"br": 0, "gzip": 0, None: 0}
    for file in files:
        path = f"/static/{version}/" + file.relative_to(STATIC).as_posix()
        raw = file.read_bytes()
        for encoding, decode in (("br", brotli.decompress), ("gzip", gzip.decompress), (None, bytes)):
            status, headers, body = fetch(live_server.url, path, encoding)
            assert status == 200, path
            assert YEAR in headers["cache-control"] and "immutable" in headers["cache-control"], headers
            assert headers.get("content-encoding") == encoding, (path, headers)
            assert decode(body) == raw
            assert "accept-encoding" in headers.get("vary", "").lower()
            wire[encoding] += len(body)
    assert wire["br"] < wire["gzip"] < wire[None] / 2, wire
    # What a first visit downloads for the chat, as it crosses the wire (brotli).
    assert wire["br"] <= 25 * 1024, wire


@pytest.mark.committing
def test_loader_is_minified_compressed_and_kept_five_minutes(live_server) -> None:  # type: ignore[no-untyped-def]
    raw = minify_loader((STATIC / "widget" / "loader.js").read_text(encoding="utf-8")).encode()
    status, headers, body = fetch(live_server.url, "/widget/loader.js", "gzip, deflate, br")
    assert status == 200 and headers["content-encoding"] == "br"
    assert brotli.decompress(body) == raw and len(body) <= 2048, len(body)
    assert "max-age=300" in headers["cache-control"] and "immutable" not in headers["cache-control"]
    assert headers["cross-origin-resource-policy"] == "cross-origin"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-type"].startswith("text/javascript")
    status, headers, body = fetch(live_server.url, "/widget/loader.js", "gzip")
    assert headers["content-encoding"] == "gzip" and gzip.decompress(body) == raw
    # Unversioned static URLs still work, with the short lifetime.
    status, headers, _ = fetch(live_server.url, "/static/js/common/stream.js", "br")
    assert status == 200 and "max-age=300" in headers["cache-control"] and headers["content-encoding"] == "br"


def test_the_version_follows_the_content_and_old_builds_go(tmp_path: Path) -> None:
    tree, out = tmp_path / "static", tmp_path / "assets"
    (tree / "widget").mkdir(parents=True)
    (tree / "widget" / "loader.js").write_text("/* loader */\nvar a = 1;\n")
    (tree / "app.js").write_text("export const a = 1;\n" * 50)
    first = static_version(tree)
    assert static_version(tree) == first
    built = build(out, first, tree)
    assert sorted(p.name for p in (built / "static").iterdir()) == ["app.js", "app.js.br", "app.js.gz", "widget"]
    assert (built / "loader" / "loader.js").read_text() == "var a=1;"
    versions = [first]
    for n in range(2, 6):
        (tree / "app.js").write_text(f"export const a = {n};\n" * 50)
        versions.append(static_version(tree))
        build(out, versions[-1], tree)
    assert len(set(versions)) == 5
    assert sorted(p.name for p in out.iterdir()) == sorted(versions[-3:]), "the newest three builds stay"
