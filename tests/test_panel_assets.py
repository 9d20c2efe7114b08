"""The panel page and its assets: size budget, CSP-friendly markup, module graph."""
from __future__ import annotations

import gzip
import re

from tests.factories import PASSWORD
from tests.factories import make_inbox
from tests.factories import make_user
from tests.helpers import login
from tests.jsgraph import STATIC
from tests.jsgraph import module_graph

BUDGET = 120 * 1024


def test_panel_js_and_css_fit_the_gzip_budget():
    files = module_graph(STATIC / "js" / "panel" / "main.js") | {STATIC / "css" / "base.css",
                                                                   STATIC / "css" / "panel.css"}
    assert all(f.exists() for f in files), [str(f) for f in files if not f.exists()]
    total = sum(len(gzip.compress(f.read_bytes(), 9)) for f in files)
    assert len(files) > 10
    assert total <= BUDGET, total


def test_panel_page_needs_login_and_has_no_inline_code(client):
    assert client.get("/app").status_code == 302
    inbox = make_inbox()
    user = make_user(inboxes=[inbox])
    login(client, user.email, PASSWORD)
    resp = client.get("/app")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert '<meta name="csrf-token"' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert not re.search(r"\sstyle=|<style|\son[a-z]+=", html), "inline style or handler"
    assert 'type="module"' in html and "js/panel/main.js" in html
