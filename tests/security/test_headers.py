"""Security headers on every response type (issue 14 "Also", docs/security.md cases 1, 20, 27, 28):
pages, JSON, errors, redirects, the widget frame and loader, downloads, static files, streams.
CSP without inline script, frame-ancestors, nosniff, Referrer-Policy, COOP/CORP, HSTS on HTTPS."""
from __future__ import annotations

import re

import pytest

from tests.factories import PASSWORD
from tests.factories import make_inbox
from tests.factories import make_user
from tests.helpers import login
from tests.test_attachments import chat  # noqa: F401  (fixture)
from tests.test_attachments import uploads  # noqa: F401  (fixture)
from tests.test_widget_api import SITE
from tests.test_widget_api import start


def _directives(csp: str) -> dict[str, str]:
    return {part.strip().split(" ", 1)[0]: (part.strip().split(" ", 1) + [""])[1]
            for part in csp.split(";") if part.strip()}


def assert_secure_headers(resp, *, framed_by: str = "'none'", corp: str = "same-origin") -> None:  # type: ignore[no-untyped-def]
    headers = resp.headers
    csp = _directives(headers["Content-Security-Policy"])
    script = csp.get("script-src", csp.get("default-src", ""))
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, headers["Content-Security-Policy"]
    if "sandbox" not in csp:  # downloads are sandboxed documents with default-src 'none'
        assert framed_by in csp["frame-ancestors"], headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] in ("strict-origin-when-cross-origin", "no-referrer")
    assert headers["Cross-Origin-Resource-Policy"] == corp
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "Server" not in headers and "X-Powered-By" not in headers


@pytest.fixture
def signed_in(client):  # type: ignore[no-untyped-def]
    user = make_user(role="admin")
    login(client, user.email, PASSWORD)
    return client


def test_pages_json_errors_and_redirects_all_carry_the_headers(client) -> None:
    anonymous = {
        "/login": 200, "/app": 302, "/healthz": 200, "/api/openapi.json": 200, "/api/v1/conversations": 401,
        "/no-such-page": 404, "/api/v1/no-such-thing": 404, "/static/css/base.css": 200, "/demo": 200,
    }
    for path, status in anonymous.items():
        resp = client.get(path)
        assert resp.status_code == status, path
        assert_secure_headers(resp)
    assert client.get("/login").headers["X-Frame-Options"] == "DENY"
    too_large = client.post("/api/v1/conversations/1/messages", data=b"x" * (2 * 1024 * 1024),
                            content_type="application/json")
    assert too_large.status_code == 413
    assert_secure_headers(too_large)


def test_signed_in_pages_and_api_carry_the_headers(signed_in) -> None:
    for path in ("/app", "/admin/", "/api/v1/conversations", "/api/v1/directory"):
        resp = signed_in.get(path)
        assert resp.status_code == 200, path
        assert_secure_headers(resp)
    page = signed_in.get("/app").get_data(as_text=True)
    # No inline script anywhere the CSP would have to allow: every <script> has a src.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)


def test_widget_frame_loader_and_api(client) -> None:
    inbox = make_inbox(origins=["https://shop.example"])
    frame = client.get(f"/widget/frame?inbox={inbox.website_token}")
    assert frame.status_code == 200
    assert_secure_headers(frame, framed_by="https://shop.example")
    assert "X-Frame-Options" not in frame.headers and frame.headers["Referrer-Policy"] == "no-referrer"
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", frame.get_data(as_text=True))
    loader = client.get("/widget/loader.js")
    assert_secure_headers(loader, corp="cross-origin")
    config = client.get(f"/widget/api/v1/config?inbox={inbox.website_token}", headers={"Origin": "https://shop.example"})
    assert config.status_code == 200
    assert_secure_headers(config)
    session = start(client, make_inbox())
    assert session["token"]
    refused = client.get("/widget/api/v1/contact", headers={"X-Visitor-Token": "forged-token-value", "Origin": SITE})
    assert refused.status_code == 401
    assert_secure_headers(refused)


def test_hsts_only_over_https(app, client) -> None:
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://chat.example")
    assert secure.headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
    # Behind a trusted TLS-terminating proxy.
    app.config["TRUSTED_PROXIES"] = 1
    try:
        proxied = client.get("/healthz", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.1"})
        assert "max-age=63072000" in proxied.headers["Strict-Transport-Security"]
    finally:
        app.config["TRUSTED_PROXIES"] = 0
    # A client's own X-Forwarded-Proto is not trusted without a proxy.
    assert "Strict-Transport-Security" not in client.get("/healthz", headers={"X-Forwarded-Proto": "https"}).headers


def test_downloads_are_sandboxed_with_the_headers(client, chat, uploads) -> None:  # noqa: F811
    from tests.test_attachments import PDF
    from tests.test_attachments import scan
    from tests.test_attachments import visitor_get
    from tests.test_attachments import visitor_upload

    key = visitor_upload(client, chat, PDF, "invoice.pdf").get_json()["id"]
    scan(key)
    served = visitor_get(client, chat, key)
    assert served.status_code == 200
    assert_secure_headers(served)
    assert "sandbox" in served.headers["Content-Security-Policy"]
    assert served.headers["Content-Disposition"].startswith("attachment")
