"""The 35 hostile-input cases of docs/security.md, one test each, named by number.

Each test attacks the way the case describes and checks what Messenger does. Several
cases also have deeper tests elsewhere (attachments, realtime, sign-in, identity); those
are named in the docstrings. ``test_every_case_has_a_test`` keeps this list complete.
"""
from __future__ import annotations

import io
import re
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import g

from messenger.extensions import db
from messenger.models import Attachment
from messenger.models import Conversation
from messenger.models import Message
from messenger.realtime import access
from messenger.realtime.log import LogEvent
from messenger.security import outbound
from messenger.security.html import sanitize_html
from messenger.security.html import text_to_html
from messenger.security.tokens import redeem_stream_ticket
from messenger.security.tokens import sign_stream_ticket
from messenger.services import blocks
from messenger.services import users as user_service
from tests.factories import PASSWORD
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user
from tests.factories import make_visitor
from tests.helpers import csrf_token_from
from tests.helpers import login
from tests.helpers import sign_in
from tests.test_attachments import EICAR
from tests.test_attachments import PDF
from tests.test_attachments import chat  # noqa: F401  (fixture)
from tests.test_attachments import png_bytes
from tests.test_attachments import scan
from tests.test_attachments import uploads  # noqa: F401  (fixture)
from tests.test_attachments import visitor_get
from tests.test_attachments import visitor_upload
from tests.test_attachments import zip_bytes
from tests.test_widget_api import API
from tests.test_widget_api import SITE
from tests.test_widget_api import call
from tests.test_widget_api import send
from tests.test_widget_api import sign
from tests.test_widget_api import start

ROOT = Path(__file__).resolve().parents[2]
STATIC_JS = [p for p in (ROOT / "messenger" / "static").rglob("*.js")]


def _stored(model) -> int:  # type: ignore[no-untyped-def]
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# --- Stored XSS --------------------------------------------------------------------------------

def test_case_1_svg_or_html_files_are_never_served_inline(client, chat, uploads) -> None:  # noqa: F811
    """case 1: an SVG with script is refused; what is served is an attachment, nosniff, sandboxed."""
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    for name in ("x.svg", "x.html", "x.htm"):
        resp = visitor_upload(client, chat, svg if name.endswith("svg") else b"<html><script>alert(1)</script>", name)
        assert resp.status_code == 422, name
    key = visitor_upload(client, chat, b"plain notes\n", "notes.txt").get_json()["id"]
    scan(key)
    served = visitor_get(client, chat, key)
    assert served.headers["Content-Disposition"].startswith("attachment")
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Security-Policy"].startswith("sandbox")


def test_case_2_svg_with_external_references_is_refused(client, chat, uploads) -> None:  # noqa: F811
    """case 2: an SVG pointing at the metadata service is never stored, so nothing ever fetches it."""
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><image href="http://169.254.169.254/latest"/></svg>'
    resp = visitor_upload(client, chat, svg, "avatar.svg")
    assert resp.status_code == 422 and _stored(Attachment) == 0


def test_case_3_html_under_an_image_name_is_refused_by_its_bytes(client, chat, uploads) -> None:  # noqa: F811
    """case 3: the type comes from the bytes, not the name or the client's Content-Type."""
    resp = client.post(f"/widget/api/v1/conversations/{chat['conv'].id}/attachments",
                       data={"file": (io.BytesIO(b"<!doctype html><script>alert(1)</script>"), "cat.png", "image/png")},
                       content_type="multipart/form-data", headers={"X-Visitor-Token": chat["token"]})
    assert resp.status_code == 422 and _stored(Attachment) == 0


def test_case_4_pdf_is_scanned_and_downloaded_never_rendered_inline(client, chat, uploads) -> None:  # noqa: F811
    """case 4: a PDF (JavaScript or not) is an attachment download with a sandbox CSP."""
    pdf = PDF.replace(b"/Type/Catalog", b"/Type/Catalog/OpenAction<</S/JavaScript/JS(app.alert(1))>>")
    key = visitor_upload(client, chat, pdf, "invoice.pdf").get_json()["id"]
    assert scan(key).status in ("clean", "infected")
    served = visitor_get(client, chat, key)
    if served.status_code == 200:
        assert served.headers["Content-Disposition"].startswith("attachment")
        assert "sandbox" in served.headers["Content-Security-Policy"]


def test_case_5_only_http_https_mailto_links_survive() -> None:
    """case 5: javascript:, data: and vbscript: links never become links (nh3 scheme allowlist)."""
    for bad in ("javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)"):
        cleaned = sanitize_html(f'<a href="{bad}">x</a>')
        assert "href" not in cleaned, cleaned
    assert "href" not in text_to_html("[x](javascript:alert(1))")
    assert 'href="https://example.com"' in text_to_html("see https://example.com")
    widget_dom = (ROOT / "messenger/static/js/widget/dom.js").read_text()
    assert "https?:\\/\\/|mailto:" in widget_dom  # the frame links only these schemes


def test_case_6_markup_in_names_is_escaped_on_admin_pages(client) -> None:
    """case 6: a contact named like an <img onerror> payload is text on the server-rendered admin pages."""
    inbox = make_inbox()
    visitor = start(client, inbox)
    hostile = '"><img src=x onerror=alert(1)>'
    call(client, "PATCH", "/contact", visitor["token"], {"name": hostile})
    send(client, visitor["token"])
    admin = make_user(role="admin")
    blocks.block_contact(admin, visitor["contact"]["id"], reason=hostile)
    login(client, admin.email, PASSWORD)
    page = client.get("/admin/blocks").get_data(as_text=True)
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_case_7_template_syntax_is_stored_and_shown_verbatim(client) -> None:
    """case 7: no client-side template engine and no eval: template syntax is just text."""
    inbox = make_inbox()
    token = start(client, inbox)["token"]
    payload = "{{constructor.constructor('alert(1)')()}} ${7*7} <%= 7*7 %>"
    sent = send(client, token, payload).get_json()["message"]
    assert sent["content"] == payload
    for path in STATIC_JS:
        text = path.read_text()
        assert not re.search(r"\beval\(|new Function\(|\.innerHTML\s*=|insertAdjacentHTML", text), path.name


def test_case_8_markup_in_visitor_metadata_stays_text(client) -> None:
    """case 8: User-Agent, Referer, page title with markup are stored as given and served as JSON text."""
    inbox = make_inbox()
    agent = make_user(inboxes=[inbox])
    ua = "<script>alert(1)</script> Mozilla/5.0"
    resp = client.post(f"{API}/session", json={"inbox": inbox.website_token, "url": "https://shop.example/",
                                               "title": "<img src=x onerror=alert(2)>",
                                               "referrer": "https://ref.example/<b>x</b>"},
                       headers={"Origin": SITE, "User-Agent": ua})
    token = resp.get_json()["token"]
    send(client, token)
    api = sign_in(client, agent)
    contact = client.get(f"/api/v1/contacts/{resp.get_json()['contact']['id']}", headers={"X-CSRFToken": api})
    session = contact.get_json()["session"]
    assert session["user_agent"] == ua and session["current_title"] == "<img src=x onerror=alert(2)>"
    assert contact.headers["Content-Type"].startswith("application/json")
    assert "textContent" in (ROOT / "messenger/static/js/panel/dom.js").read_text()


# --- Access to other people's data ----------------------------------------------------------------

def test_case_9_token_a_with_conversation_b_is_404_everywhere(client) -> None:
    """case 9: history, send, read, CSAT, upload of another visitor's conversation are all 404."""
    inbox = make_inbox(csat_enabled=True)
    a, b = start(client, inbox)["token"], start(client, inbox)["token"]
    conv_b = send(client, b, "mine").get_json()["conversation"]["id"]
    for method, path, body in (("GET", f"/conversations/{conv_b}", None),
                               ("GET", f"/conversations/{conv_b}/messages", None),
                               ("POST", "/messages", {"content": "x", "client_id": str(uuid.uuid4()),
                                                      "conversation_id": conv_b}),
                               ("POST", f"/conversations/{conv_b}/read", {}),
                               ("POST", f"/conversations/{conv_b}/csat", {"rating": 5}),
                               ("POST", f"/conversations/{conv_b}/typing", {"on": True})):
        assert call(client, method, path, a, body).status_code == 404, path
    upload = client.post(f"{API}/conversations/{conv_b}/attachments", data={"file": (io.BytesIO(b"x"), "a.txt")},
                         content_type="multipart/form-data", headers={"X-Visitor-Token": a})
    assert upload.status_code == 404
    assert _stored(Message) == 1


def test_case_10_file_of_another_conversation_is_404(client, chat, uploads) -> None:  # noqa: F811
    """case 10: a valid token with another conversation's file key is 404; keys are random."""
    key = visitor_upload(client, chat, b"secret\n", "a.txt").get_json()["id"]
    scan(key)
    _, other_token = make_visitor(chat["inbox"])
    assert client.get(f"{API}/attachments/{key}", headers={"X-Visitor-Token": other_token}).status_code == 404
    assert len(key) >= 22


def test_case_11_no_principal_means_no_file(client, chat, uploads) -> None:  # noqa: F811
    """case 11: downloads and uploads without a principal are refused (default deny)."""
    key = visitor_upload(client, chat, b"secret\n", "a.txt").get_json()["id"]
    scan(key)
    assert client.get(f"{API}/attachments/{key}").status_code in (401, 404)
    assert client.get(f"/api/v1/attachments/{key}").status_code == 401
    anonymous = client.post(f"{API}/conversations/{chat['conv'].id}/attachments",
                            data={"file": (io.BytesIO(b"x"), "a.txt")}, content_type="multipart/form-data")
    assert anonymous.status_code == 401
    assert client.delete(f"/api/v1/attachments/{key}").status_code in (401, 404, 405)


def test_case_12_ids_from_a_client_are_rescoped_to_the_caller(client) -> None:
    """case 12: an operator naming another inbox's conversation or contact gets 404, never a write."""
    mine, theirs = make_inbox(), make_inbox()
    agent = make_user(inboxes=[mine])
    foreign = make_conversation(theirs)
    csrf = sign_in(client, agent)
    h = {"X-CSRFToken": csrf}
    assert client.post(f"/api/v1/conversations/{foreign.id}/messages", json={"content": "x", "client_id": str(
        uuid.uuid4())}, headers=h).status_code == 404
    assert client.patch(f"/api/v1/contacts/{foreign.contact_id}", json={"name": "x"}, headers=h).status_code == 404
    assert client.post(f"/api/v1/contacts/{foreign.contact_id}/block", json={}, headers=h).status_code == 404
    assert _stored(Message) == 0


def test_case_13_operator_actions_check_membership(client) -> None:
    """case 13: status, priority, labels, assign, spam on another team's conversation are 404."""
    mine, theirs = make_inbox(), make_inbox()
    agent = make_user(inboxes=[mine])
    foreign = make_conversation(theirs)
    h = {"X-CSRFToken": sign_in(client, agent)}
    base = f"/api/v1/conversations/{foreign.id}"
    for path, body in ((f"{base}/status", {"status": "resolved"}), (f"{base}/priority", {"priority": 2}),
                       (f"{base}/assign", {"user_id": agent.id}), (f"{base}/spam", {}), (f"{base}/self-assign", {})):
        assert client.post(path, json=body, headers=h).status_code == 404, path
    assert client.put(f"{base}/labels", json={"labels": []}, headers=h).status_code == 404
    db.session.expire_all()
    assert db.session.get(Conversation, foreign.id).status == "open"


def test_case_14_agents_cannot_do_what_admins_do(client) -> None:
    """case 14: an agent gets 403 on admin pages and actions (block ranges, inboxes, operators)."""
    agent = make_user()
    token = sign_in(client, agent)
    for path in ("/admin/", "/admin/blocks", "/admin/inboxes", "/admin/operators"):
        assert client.get(path).status_code == 403, path
    resp = client.post("/admin/blocks", data={"network": "203.0.113.0/24", "csrf_token": token})
    assert resp.status_code == 403


def test_case_15_one_filter_for_live_replay_and_rest() -> None:
    """case 15: a private note never reaches a visitor scope, live or replayed (access.may_see)."""
    note = LogEvent(id=10, kind="message.created", inbox_id=1, conversation_id=5, contact_id=7, user_id=2,
                    private=True, payload={"id": 1, "type": "note", "content": "internal"}, created_at=None)
    visitor = access.VisitorScope(session_id=1, contact_id=7, inbox_id=1)
    other = access.VisitorScope(session_id=2, contact_id=8, inbox_id=1)
    assert not access.may_see(visitor, note)
    public = LogEvent(id=11, kind="message.created", inbox_id=1, conversation_id=5, contact_id=7, user_id=2,
                      private=False, payload={"id": 2, "type": "outgoing", "content": "hi"}, created_at=None)
    assert access.may_see(visitor, public) and not access.may_see(other, public)


def test_case_16_enumeration_answers_like_a_missing_id(client) -> None:
    """case 16: someone else's conversation id answers exactly like one that does not exist."""
    mine, theirs = make_inbox(), make_inbox()
    agent = make_user(inboxes=[mine])
    foreign = make_conversation(theirs)
    sign_in(client, agent)
    a = client.get(f"/api/v1/conversations/{foreign.id}")
    b = client.get("/api/v1/conversations/2147483000")
    assert a.status_code == b.status_code == 404 and a.get_json() == b.get_json()


def test_case_17_type_juggling_in_tokens_and_ids(client) -> None:
    """case 17: tokens and hashes of the wrong type are refused; secrets compare in constant time."""
    inbox = make_inbox()
    token = start(client, inbox)["token"]
    for bad in ("0", "[]", "null", "true"):
        assert client.get(f"{API}/contact", headers={"X-Visitor-Token": bad, "Origin": SITE}).status_code == 401
    for bad in ([], 0, {"a": 1}, True):  # strict types at the boundary: a hash is text, never juggled
        resp = call(client, "POST", "/identify", token, {"identifier": "u", "identifier_hash": bad})
        assert resp.status_code == 422 and resp.get_json()["field"] == "identifier_hash", bad
        assert call(client, "GET", "/contact", token).get_json()["verified"] is False
    resp = call(client, "POST", "/messages", token, {"content": "x", "client_id": str(uuid.uuid4()),
                                                     "conversation_id": "1"})
    assert resp.status_code == 422 and resp.get_json()["field"] == "conversation_id"
    assert not user_service.constant_time_equal("0", 0)  # type: ignore[arg-type]


def test_case_18_ids_are_not_guessable(client, chat, uploads) -> None:  # noqa: F811
    """case 18: upload keys and visitor token ids carry at least 128 random bits."""
    keys = {visitor_upload(client, chat, b"x\n", f"{i}.txt").get_json()["id"] for i in range(5)}
    assert len(keys) == 5 and all(len(k) >= 22 for k in keys)
    _, token = make_visitor(chat["inbox"])
    session_ids = db.session.scalars(sa.select(Attachment.key)).all()
    assert len(set(session_ids)) == 5
    from messenger.models import ContactSession

    assert all(len(s.token_id) >= 22 for s in db.session.scalars(sa.select(ContactSession)))


# --- Identity, widget tokens, sessions ------------------------------------------------------------

def test_case_19_unverified_set_user_never_attaches(client) -> None:
    """case 19: setUser without a valid HMAC never attaches to the real contact nor sees its history
    (the pre-hijack variants are in test_identity_prehijack.py)."""
    inbox = make_inbox()
    victim = start(client, inbox)
    call(client, "POST", "/identify", victim["token"], {"identifier": "v-1", "identifier_hash": sign(inbox, "v-1"),
                                                        "email": "v@example.com"})
    send(client, victim["token"], "my history")
    attacker = start(client, inbox)
    resp = call(client, "POST", "/identify", attacker["token"], {"identifier": "v-1", "email": "v@example.com"})
    assert resp.get_json()["attached"] is False
    assert call(client, "GET", "/conversations", attacker["token"]).get_json()["conversations"] == []


def test_case_20_stream_tickets_are_single_use_and_single_purpose(app, client) -> None:
    """case 20: a ticket is no visitor token, a token is no ticket, and a used ticket is dead
    (live: test_stream_caps.py)."""
    inbox = make_inbox()
    session = start(client, inbox)
    with app.test_request_context():
        ticket = sign_stream_ticket("visitor", 42, "tid")
        assert redeem_stream_ticket(ticket, "operator") is None
        assert redeem_stream_ticket(session["token"], "visitor") is None
        assert redeem_stream_ticket(ticket, "visitor") == (42, "tid")
        assert redeem_stream_ticket(ticket, "visitor") is None
    assert client.get(f"{API}/contact", headers={"X-Visitor-Token": session["ticket"]}).status_code == 401
    frame = client.get(f"/widget/frame?inbox={inbox.website_token}")
    assert frame.headers["Referrer-Policy"] == "no-referrer"


def test_case_21_password_change_or_deactivation_revokes_sessions(app, client) -> None:
    """case 21: every session dies (streams close within a heartbeat: test_reliability.py, test_auth_streams.py)."""
    user = make_user()
    sign_in(client, user)
    assert client.get("/app").status_code == 200
    user_service.set_password(None, user.id, "a new long password")
    assert client.get("/app").status_code == 302
    other = make_user()
    second = app.test_client()
    g.pop("csrf_token", None)  # the suite's app context (and g) spans the test: a fresh client, a fresh token
    sign_in(second, other)
    user_service.deactivate_user(None, other.id)
    assert second.get("/api/v1/conversations").status_code == 401


def test_case_22_a_fixed_session_cookie_is_worthless_after_login(app, client) -> None:
    """case 22: the attacker plants their pre-login cookie in the victim's browser; after the victim signs in,
    the attacker's copy of that cookie is still signed out (the session is renewed, server-side id and all)."""
    user = make_user()
    client.get("/login")
    planted = client.get_cookie("session")
    assert planted is not None
    attacker = app.test_client()
    attacker.set_cookie("session", planted.value)
    login(client, user.email, PASSWORD)
    assert client.get("/app").status_code == 200
    assert attacker.get("/app").status_code == 302
    assert client.get_cookie("session").value != planted.value


def test_case_23_identity_and_forwarding_headers_from_clients_are_ignored(app, client) -> None:
    """case 23: X-Forwarded-User does not sign anyone in; X-Forwarded-For counts only from trusted proxies."""
    admin = make_user(role="admin")
    spoof = {"X-Forwarded-User": admin.email, "X-Remote-User": admin.email, "Remote-User": admin.email}
    assert client.get("/app", headers=spoof).status_code == 302
    assert client.get("/api/v1/conversations", headers=spoof).status_code == 401
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": admin.email, "password": "wrong", "csrf_token": token},
                headers={"X-Forwarded-For": "198.51.100.99"})
    from messenger.models import AuditLog

    entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "auth.login_failed")).one()
    assert entry.ip == "127.0.0.1"  # the socket's address, not the header


# --- Server-side requests -----------------------------------------------------------------------

@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data", "http://localhost:6379/",
                                 "http://[::1]/", "http://2130706433/", "http://0x7f000001/", "http://10.0.0.5/",
                                 "http://[::ffff:127.0.0.1]/", "http://127.1/", "http://[fe80::1]/"])
def test_case_24_webhook_urls_to_private_space_are_refused(url: str) -> None:
    """case 24: metadata, loopback, private, link-local and odd spellings of them are refused at send time."""
    with pytest.raises(outbound.BlockedDestination):
        outbound.resolve(url, allow_private=False)


def test_case_25_no_other_server_side_fetch_of_client_urls() -> None:
    """case 25: the only outbound HTTP client in the code is the guarded one (security/outbound.py)."""
    offenders = []
    for path in (ROOT / "messenger").rglob("*.py"):
        if path.name == "outbound.py":
            continue
        text = path.read_text()
        if re.search(r"urlopen\(|import requests|import httpx|http\.client\.HTTP|aiohttp", text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


# --- Injection, CSRF, rate limits, CORS ---------------------------------------------------------

def test_case_26_filter_and_sort_parameters_are_allowlisted(client) -> None:
    """case 26: SQL in sort/filter parameters is a 4xx naming the parameter (full sweep: test_bad_input.py)."""
    inbox = make_inbox()
    agent = make_user(inboxes=[inbox])
    sign_in(client, agent)
    for query in ("sort=id;--", "sort=id desc", "status=open' OR '1'='1", "inbox=1 OR 1=1", "priority=9"):
        resp = client.get(f"/api/v1/conversations?{query}")
        assert resp.status_code == 422 and resp.get_json()["field"], query


def test_case_27_cross_site_posts_without_csrf_are_refused(client) -> None:
    """case 27: a state change riding the cookie without the CSRF token is 400; cookies are SameSite=Lax."""
    inbox = make_inbox()
    agent = make_user(inboxes=[inbox])
    conv = make_conversation(inbox)
    signed_in = login(client, agent.email, PASSWORD)
    assert "SameSite=Lax" in signed_in.headers["Set-Cookie"] and "HttpOnly" in signed_in.headers["Set-Cookie"]
    resp = client.post(f"/api/v1/conversations/{conv.id}/status", json={"status": "resolved"},
                       headers={"Origin": "https://evil.example"})
    assert resp.status_code == 400 and resp.get_json()["error"] == "csrf_failed"
    assert client.post("/logout/everywhere", headers={"Origin": "https://evil.example"}).status_code == 400


def test_case_28_no_cors_grant_for_foreign_origins(client) -> None:
    """case 28: the operator API never answers a foreign origin with CORS; the widget API only the inbox's."""
    inbox = make_inbox(origins=["https://shop.example"])
    agent = make_user(inboxes=[inbox])
    sign_in(client, agent)
    op = client.get("/api/v1/conversations", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in op.headers and "Access-Control-Allow-Credentials" not in op.headers
    refused = client.get(f"{API}/config?inbox={inbox.website_token}", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused.headers
    allowed = client.get(f"{API}/config?inbox={inbox.website_token}", headers={"Origin": "https://shop.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "Access-Control-Allow-Credentials" not in allowed.headers


def test_case_29_brute_force_is_slowed_with_identical_answers(client) -> None:
    """case 29: per account+address waits, the same answers for real and unknown accounts
    (the lock-out trade-off: test_auth_sessions.py)."""
    user = make_user()
    answers = []
    for email in (user.email, "nobody@example.com"):
        for _ in range(5):
            g.pop("csrf_token", None)
            token = csrf_token_from(client.get("/login").get_data(as_text=True))
            resp = client.post("/login", data={"email": email, "password": "guess", "csrf_token": token},
                               environ_base={"REMOTE_ADDR": "203.0.113.50"})
            answers.append(resp.status_code)
    assert answers[:5] == answers[5:] == [401, 401, 401, 401, 429]


def test_case_30_rotating_x_forwarded_for_does_not_dodge_ip_limits(app, client) -> None:
    """case 30: without trusted proxies, a new X-Forwarded-For per request is still one address."""
    inbox = make_inbox()
    app.config["WIDGET_SESSION_RATE_LIMIT"] = "3 per hour"
    try:
        codes = [client.post(f"{API}/session", json={"inbox": inbox.website_token},
                             headers={"Origin": SITE, "X-Forwarded-For": f"198.51.100.{i}"}).status_code
                 for i in range(5)]
    finally:
        app.config["WIDGET_SESSION_RATE_LIMIT"] = "60 per hour"
    assert codes == [201, 201, 201, 429, 429]


def test_case_31_floods_and_huge_bodies(client) -> None:
    """case 31: a 64 KB widget body cap, one conversation in progress per visitor, typing throttled
    (chunked bodies: test_body_limits.py; typing floods: test_ephemeral_floods.py; spam: test_spam.py)."""
    inbox = make_inbox()
    token = start(client, inbox)["token"]
    huge = client.post(f"{API}/messages", data='{"content": "' + "x" * 70_000 + '"}',
                       content_type="application/json", headers={"X-Visitor-Token": token, "Origin": SITE})
    assert huge.status_code == 413
    first = call(client, "POST", "/conversations", token, {}).get_json()["id"]
    second = call(client, "POST", "/conversations", token, {}).get_json()["id"]
    assert first == second and _stored(Conversation) == 1
    typing = [call(client, "POST", f"/conversations/{first}/typing", token, {"on": True}).get_json()["sent"]
              for _ in range(3)]
    assert typing == [True, False, False]


def test_case_32_pasted_content_is_never_evaluated() -> None:
    """case 32: the frame's paste handler only takes files; no eval, no HTML insertion anywhere in the JS."""
    composer = (ROOT / "messenger/static/js/widget/composer.js").read_text()
    pastes = re.findall(r"addEventListener\(\"paste\".*?\n\s*\}\);", composer, re.S)
    assert all("files" in p and "innerHTML" not in p for p in pastes)
    assert not any(re.search(r"\beval\(|new Function\(|document\.write", p.read_text()) for p in STATIC_JS)


# --- Upload abuse -------------------------------------------------------------------------------

def test_case_33_giant_uploads_and_bombs_are_refused(client, chat, uploads, app) -> None:  # noqa: F811
    """case 33: a declared 2 GB body is refused unread; a zip bomb and a pixel bomb are refused."""
    resp = client.post(f"{API}/conversations/{chat['conv'].id}/attachments", input_stream=io.BytesIO(b"x" * 10),
                       headers={"X-Visitor-Token": chat["token"], "Content-Type": "multipart/form-data; boundary=x"},
                       environ_overrides={"CONTENT_LENGTH": str(2 * 1024**3)})
    assert resp.status_code == 413
    limits = {"ZIP_MAX_UNCOMPRESSED": 10_000, "MAX_IMAGE_PIXELS": 1000}
    saved = {k: app.config.get(k) for k in limits}
    app.config.update(limits)
    try:
        bomb = zip_bytes({"a.txt": b"0" * 100_000})  # a few hundred bytes packed, 100 KB unpacked
        assert len(bomb) < 2000 and visitor_upload(client, chat, bomb, "a.zip").status_code in (413, 422)
        assert visitor_upload(client, chat, png_bytes((100, 100)), "big.png").status_code in (413, 422)
    finally:
        app.config.update(saved)
    assert _stored(Attachment) == 0


def test_case_34_file_names_are_metadata_only(client, chat, uploads) -> None:  # noqa: F811
    """case 34: traversal, NUL, double extensions and huge names never reach the file system."""
    for name in ("../../etc/passwd.txt", "a\x00b.txt", "a.jpg.php.txt", "n" * 10_000 + ".txt"):
        resp = visitor_upload(client, chat, b"hello\n", name)
        assert resp.status_code in (201, 422), name
    for att in db.session.scalars(sa.select(Attachment)):
        assert "/" not in att.filename and "\x00" not in att.filename and len(att.filename) <= 255
        assert re.fullmatch(r"[A-Za-z0-9_-]{22,}", att.key)
    assert not any(".." in str(p) for p in uploads.rglob("*"))


def test_case_35_eicar_is_infected_and_never_served(client, chat, uploads) -> None:  # noqa: F811
    """case 35: EICAR in a .txt and inside a zip is infected and never served (outages: test_attachments_scan.py)."""
    for data, name in ((EICAR, "note.txt"), (zip_bytes({"x.txt": EICAR}), "x.zip")):
        key = visitor_upload(client, chat, data, name).get_json()["id"]
        assert scan(key).status == "infected"
        assert visitor_get(client, chat, key).status_code == 409


def test_every_case_has_a_test() -> None:
    """Each hostile-input case 1..35 of docs/security.md is named by a test in this module."""
    numbers = {int(m) for m in re.findall(r"^def test_case_(\d+)_", Path(__file__).read_text(), re.M)}
    assert numbers == set(range(1, 36))
