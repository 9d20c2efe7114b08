"""Personal API tokens: shown once, stored hashed, Bearer on the operator API without CSRF, revocable at once."""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import ApiToken
from messenger.models import AuditLog
from messenger.processes import stop_tree
from messenger.services import api_tokens
from tests.admin_helpers import client_for
from tests.admin_helpers import post_form
from tests.admin_helpers import signed_in
from tests.admin_helpers import text
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user
from tests.helpers import ROOT
from tests.helpers import free_port
from tests.helpers import sign_in_browser

TOKEN = re.compile(r'id="new-token">(msgr_[A-Za-z0-9_-]+)<')


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_operator_creates_a_token_shown_once_and_stored_hashed(app) -> None:
    client, user = signed_in(app, role="agent")
    resp = post_form(client, "/app/tokens", {"name": "CRM sync"})
    assert resp.status_code == 201 and resp.headers["Cache-Control"] == "no-store"
    token = TOKEN.search(text(resp)).group(1)
    row = db.session.scalar(sa.select(ApiToken))
    assert row.user_id == user.id and row.name == "CRM sync"
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and row.prefix == token[:12]
    listing = text(client.get("/app/tokens"))
    assert token not in listing and f"{row.prefix}…" in listing and "CRM sync" in listing
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "api_token.created"))
    assert entry.actor_user_id == user.id and token not in json.dumps(entry.data)
    assert post_form(client, "/app/tokens", {"name": ""}).status_code == 422
    assert post_form(client, "/app/tokens", {"name": "x" * 121}).status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 1


def test_bearer_token_acts_with_the_owners_permissions_and_needs_no_csrf(app) -> None:
    mine, other = make_inbox(), make_inbox()
    agent = make_user(role="agent", inboxes=[mine])
    conv, foreign = make_conversation(mine), make_conversation(other)
    _, token = api_tokens.create_token(agent, "script")
    client = client_for(app)  # no cookie at all
    listed = client.get("/api/v1/conversations?tab=all", headers=bearer(token))
    assert listed.status_code == 200
    assert [c["id"] for c in listed.get_json()["items"]] == [conv.id]
    assert client.get(f"/api/v1/conversations/{foreign.id}", headers=bearer(token)).status_code == 404
    sent = client.post(f"/api/v1/conversations/{conv.id}/messages", headers=bearer(token),
                       json={"content": "Sent by the integration", "client_id": str(uuid.uuid4())})
    assert sent.status_code == 201 and sent.get_json()["message"]["sender_user_id"] == agent.id
    # The same call with a session cookie and no CSRF token is still refused.
    browser, _ = signed_in(app, role="admin")
    refused = browser.post(f"/api/v1/conversations/{conv.id}/messages",
                           json={"content": "forged", "client_id": str(uuid.uuid4())})
    assert refused.status_code in (400, 403)
    # Tokens do not open the admin pages.
    assert client.get("/admin/", headers=bearer(token)).status_code == 302


def test_bad_revoked_and_deactivated_tokens_get_401_and_never_fall_back_to_the_cookie(app) -> None:
    client, user = signed_in(app, role="admin")
    _, token = api_tokens.create_token(user, "t")
    assert client.get("/api/v1/directory", headers=bearer(token)).status_code == 200
    for bad in ("msgr_nope", "", "x" * 500, token + "x"):
        resp = client.get("/api/v1/directory", headers=bearer(bad))
        assert resp.status_code == 401 and resp.get_json()["error"] == "invalid_token"
        assert token not in resp.get_data(as_text=True)
    row = db.session.scalar(sa.select(ApiToken))
    post_form(client, f"/app/tokens/{row.id}/revoke", {}, page="/app/tokens")
    resp = client.get("/api/v1/directory", headers=bearer(token))
    assert resp.status_code == 401  # at once, even with a valid session cookie alongside
    assert client.get("/api/v1/directory").status_code == 200  # the cookie alone still works

    agent = make_user(role="agent")
    _, agent_token = api_tokens.create_token(agent, "t2")
    assert client_for(app).get("/api/v1/directory", headers=bearer(agent_token)).status_code == 200
    agent.active = False
    db.session.commit()
    assert client_for(app).get("/api/v1/directory", headers=bearer(agent_token)).status_code == 401


def test_only_the_owner_or_an_admin_revokes(app) -> None:
    owner_client, owner = signed_in(app, role="agent")
    other_client, _ = signed_in(app, role="agent")
    admin_client, admin = signed_in(app, role="admin")
    row, token = api_tokens.create_token(owner, "mine")
    post_form(other_client, f"/app/tokens/{row.id}/revoke", {}, page="/app/tokens")
    db.session.refresh(row)
    assert row.revoked_at is None
    assert "mine" not in text(other_client.get("/app/tokens"))
    page = text(admin_client.get("/admin/api-tokens"))
    assert "mine" in page and owner.email in page and token not in page
    revoked = post_form(admin_client, f"/admin/api-tokens/{row.id}/revoke", {}, page="/admin/api-tokens")
    assert revoked.status_code == 302
    db.session.refresh(row)
    assert row.revoked_at is not None
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "api_token.revoked"))
    assert entry.actor_user_id == admin.id and entry.data["owner_id"] == owner.id
    assert owner_client.get("/admin/api-tokens").status_code == 403


def test_use_is_recorded_once_a_minute(app) -> None:
    user = make_user(role="admin")
    row, token = api_tokens.create_token(user, "busy")
    client = client_for(app)
    for _ in range(5):
        assert client.get("/api/v1/directory", headers=bearer(token)).status_code == 200
    db.session.refresh(row)
    assert row.last_used_at is not None
    uses = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "api_token.used")).all()
    assert len(uses) == 1 and uses[0].target_id == str(row.id) and uses[0].ip == "127.0.0.1"


@pytest.mark.committing
def test_a_token_never_appears_in_logs_or_the_database(app, env_for_servers, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    user = make_user(role="admin")
    conv = make_conversation(make_inbox())
    _, token = api_tokens.create_token(user, "logged?")
    p = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "-k", "gevent", "-w", "1", "-b", f"127.0.0.1:{p}",
             "--access-logfile", "-", "--log-level", "debug", "wsgi:app"],
            cwd=ROOT, env=dict(env_for_servers, LOG_LEVEL="DEBUG"), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
        try:
            base = f"http://127.0.0.1:{p}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=2)
                    break
                except urllib.error.HTTPError:
                    break
                except OSError:
                    assert time.monotonic() < deadline, "server did not start"
                    time.sleep(0.2)
            calls = [("GET", "/api/v1/directory", None, token), ("GET", "/api/v1/directory", None, token + "bad"),
                     ("POST", f"/api/v1/conversations/{conv.id}/messages",
                      {"content": "hi", "client_id": str(uuid.uuid4())}, token),
                     ("GET", f"/api/v1/conversations/{conv.id}", None, "msgr_wrong")]
            statuses = []
            for method, path, body, tok in calls:
                req = urllib.request.Request(base + path, method=method, headers={
                    **bearer(tok), "Content-Type": "application/json"},
                    data=json.dumps(body).encode() if body else None)
                try:
                    statuses.append(urllib.request.urlopen(req, timeout=10).status)
                except urllib.error.HTTPError as exc:
                    statuses.append(exc.code)
            assert statuses == [200, 401, 201, 401]
        finally:
            stop_tree(proc, grace=10)
    output = log.read_text()
    assert "GET /api/v1/directory" in output  # the access log is on
    secret_part = token[len("msgr_"):]
    assert secret_part not in output
    with db.engine.connect() as conn:
        for table in ("api_tokens", "audit_log", "messages", "events"):
            dump = conn.execute(sa.text(f"SELECT coalesce(string_agg(t::text, ' '), '') FROM {table} t")).scalar()
            assert secret_part not in dump, table


@pytest.mark.committing
@pytest.mark.browser
def test_tokens_page_from_the_panel_in_chromium(app, live_server, browser, artifacts) -> None:
    user = make_user(role="agent", name="Tess Token", inboxes=[make_inbox()])
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    page = context.new_page()
    try:
        sign_in_browser(page, live_server.url, user.email)
        page.click("a[href='/app/tokens']")
        page.fill("input[name=name]", "CRM sync")
        page.click("button.primary-btn")
        token = page.inner_text("#new-token")
        assert token.startswith("msgr_")
        page.screenshot(path=str(artifacts / "app-tokens.png"), full_page=True)
        page.reload()
        assert token not in page.content() and "CRM sync" in page.inner_text("main")
    finally:
        page.goto("about:blank")
        time.sleep(0.3)
        context.close()
