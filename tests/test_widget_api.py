"""Widget API: sessions, identity (HMAC), origins, IDOR, forms, CSAT, limits."""
from __future__ import annotations

import hashlib
import hmac
import io
import uuid
from datetime import datetime
from datetime import timezone

import pytest
import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import Contact
from messenger.models import ContactSession
from messenger.models import Conversation
from messenger.models import Message
from messenger.services import conversations as conv_service
from messenger.services import messages as msg_service
from messenger.services import widget as widget_service
from messenger.services.contacts import parse_user_agent
from messenger.services.visitors import anonymous_name
from tests.factories import make_inbox
from tests.factories import make_user

SITE = "http://127.0.0.1"
API = "/widget/api/v1"


def count(model) -> int:  # type: ignore[no-untyped-def]
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def start(client, inbox, **extra):  # type: ignore[no-untyped-def]
    resp = client.post(f"{API}/session", json={"inbox": inbox.website_token, **extra}, headers={"Origin": SITE})
    assert resp.status_code in (200, 201), resp.get_json()
    return resp.get_json()


def call(client, method, path, token, json=None, origin=SITE):  # type: ignore[no-untyped-def]
    headers = {"X-Visitor-Token": token}
    if origin:
        headers["Origin"] = origin
    return client.open(f"{API}{path}", method=method, json=json, headers=headers)


def send(client, token, content="hello", conversation_id=None, client_id=None):  # type: ignore[no-untyped-def]
    return call(client, "POST", "/messages", token, {"content": content, "conversation_id": conversation_id,
                                                     "client_id": client_id or str(uuid.uuid4())})


def sign(inbox, identifier: str) -> str:  # type: ignore[no-untyped-def]
    return hmac.new(inbox.hmac_secret.encode(), identifier.encode(), hashlib.sha256).hexdigest()


def test_session_create_and_resume_keeps_the_same_contact(client) -> None:
    inbox = make_inbox()
    first = start(client, inbox, url="https://shop.example/a", title="A")
    assert first["token"] and first["ticket"] and first["conversation"] is None
    assert first["config"]["color"] == inbox.color and "hmac_secret" not in str(first["config"])
    again = client.post(f"{API}/session", json={"inbox": inbox.website_token, "token": first["token"]},
                        headers={"Origin": SITE})
    assert again.status_code == 200 and again.get_json()["contact"]["id"] == first["contact"]["id"]
    assert again.get_json()["resumed"] is True


def test_origin_not_allowed_is_refused_and_writes_nothing(client) -> None:
    inbox = make_inbox(origins=["https://shop.example"])
    before = (count(Contact), count(ContactSession))
    resp = client.post(f"{API}/session", json={"inbox": inbox.website_token}, headers={"Origin": "https://evil.example"})
    assert resp.status_code == 403 and resp.get_json()["error"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in resp.headers
    resp = client.post(f"{API}/session", json={"inbox": inbox.website_token},
                       headers={"Referer": "https://evil.example/page"})
    assert resp.status_code == 403
    assert (count(Contact), count(ContactSession)) == before
    token = client.post(f"{API}/session", json={"inbox": inbox.website_token},
                        headers={"Origin": "https://shop.example"}).get_json()["token"]
    messages = count(Message)
    resp = call(client, "POST", "/messages", token, {"content": "x", "client_id": str(uuid.uuid4())},
                origin="https://evil.example")
    assert resp.status_code == 403 and count(Message) == messages
    assert count(Conversation) == 0


def test_cors_names_only_allowed_origins_and_never_credentials(client) -> None:
    inbox = make_inbox(origins=["https://shop.example", "https://*.brand.example"])
    ok = client.get(f"{API}/config?inbox={inbox.website_token}", headers={"Origin": "https://shop.example"})
    assert ok.status_code == 200 and ok.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "Access-Control-Allow-Credentials" not in ok.headers
    sub = client.get(f"{API}/config?inbox={inbox.website_token}", headers={"Origin": "https://eu.brand.example"})
    assert sub.status_code == 200
    bad = client.get(f"{API}/config?inbox={inbox.website_token}", headers={"Origin": "https://brand.example.evil"})
    assert bad.status_code == 403
    pre = client.options(f"{API}/messages", headers={"Origin": "https://shop.example",
                                                     "Access-Control-Request-Method": "POST"})
    assert pre.headers.get("Access-Control-Allow-Origin") == "https://shop.example"
    assert "X-Visitor-Token" in pre.headers["Access-Control-Allow-Headers"]
    pre = client.options(f"{API}/messages", headers={"Origin": "https://evil.example",
                                                     "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in pre.headers


def test_visitor_a_cannot_touch_visitor_b_conversation(client) -> None:
    inbox = make_inbox()
    token_a = start(client, inbox)["token"]
    token_b = start(client, inbox)["token"]
    conv_b = send(client, token_b).get_json()["conversation"]["id"]
    checks = [("GET", f"/conversations/{conv_b}", None), ("GET", f"/conversations/{conv_b}/messages", None),
              ("POST", f"/conversations/{conv_b}/read", {}),
              ("POST", f"/conversations/{conv_b}/csat", {"rating": 5}),
              ("POST", "/messages", {"conversation_id": conv_b, "content": "hi", "client_id": str(uuid.uuid4())}),
              ("POST", f"/conversations/{conv_b}/typing", {"on": True}),
              ("GET", f"/conversations/{2**40}", None), ("GET", "/conversations/99999999", None)]
    for method, path, body in checks:
        resp = call(client, method, path, token_a, body)
        assert resp.status_code == 404, (path, resp.get_json())
        assert resp.get_json()["error"] == "not_found"
    upload = client.post(f"{API}/conversations/{conv_b}/attachments", headers={"X-Visitor-Token": token_a},
                         data={"file": (io.BytesIO(b"hello"), "a.txt")}, content_type="multipart/form-data")
    assert upload.status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)
                             .where(Message.conversation_id == conv_b)) == 1
    assert call(client, "GET", "/conversations", token_a).get_json()["conversations"] == []


def test_missing_or_forged_token_is_401(client) -> None:
    assert call(client, "GET", "/contact", "").status_code == 401
    assert call(client, "GET", "/contact", "x" * 100).status_code == 401


def test_send_is_idempotent_and_pages_with_a_cursor(client) -> None:
    inbox = make_inbox()
    token = start(client, inbox)["token"]
    cid = str(uuid.uuid4())
    first = send(client, token, "one", client_id=cid)
    again = send(client, token, "one", client_id=cid)
    assert first.status_code == 201 and again.status_code == 200
    assert first.get_json()["message"]["id"] == again.get_json()["message"]["id"]
    conv_id = first.get_json()["conversation"]["id"]
    for i in range(34):
        send(client, token, f"m{i}", conversation_id=conv_id)
    page = call(client, "GET", f"/conversations/{conv_id}/messages", token).get_json()
    assert len(page["messages"]) == 30 and page["has_more"] is True
    older = call(client, "GET", f"/conversations/{conv_id}/messages?before={page['messages'][0]['id']}",
                 token).get_json()
    assert [m["content"] for m in older["messages"]] == ["one", "m0", "m1", "m2", "m3"]
    assert older["has_more"] is False
    assert call(client, "GET", f"/conversations/{conv_id}/messages?before=abc", token).status_code == 422


@pytest.mark.parametrize("body, status", [
    ({"content": "x" * 10_001, "client_id": str(uuid.uuid4())}, 422),
    ({"content": "hi", "client_id": "1 OR 1=1"}, 422),
    ({"content": ["hi"], "client_id": str(uuid.uuid4())}, 422),
    ({"content": "", "client_id": str(uuid.uuid4())}, 422),
    ({"content": "hi", "client_id": str(uuid.uuid4()), "attachments": "k"}, 422),
    ({"content": "hi", "client_id": str(uuid.uuid4()), "conversation_id": "1"}, 422),  # "1" is not 1
])
def test_bad_message_input_is_a_clear_4xx(client, body, status) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox()
    token = start(client, inbox)["token"]
    resp = call(client, "POST", "/messages", token, body)
    assert resp.status_code == status and "error" in resp.get_json()
    assert count(Message) == 0


def test_bodies_are_size_capped_and_must_be_objects(client) -> None:
    inbox = make_inbox()
    token = start(client, inbox)["token"]
    big = client.post(f"{API}/messages", data="{" + " " * 70_000 + "}", content_type="application/json",
                      headers={"X-Visitor-Token": token})
    assert big.status_code == 413 and big.get_json()["error"] == "too_large"
    arr = client.post(f"{API}/messages", data="[1]", content_type="application/json",
                      headers={"X-Visitor-Token": token})
    assert arr.status_code == 422 and arr.get_json()["field"] == "body"


def test_hmac_verified_identity_merges_the_anonymous_contact(client) -> None:
    inbox = make_inbox()
    # The user chatted before on another browser, verified.
    laptop = start(client, inbox)["token"]
    ident = {"identifier": "user-42", "identifier_hash": sign(inbox, "user-42"), "name": "Ann", "email": "ann@x.io"}
    resp = call(client, "POST", "/identify", laptop, ident)
    assert resp.status_code == 200 and resp.get_json()["verified"] is True
    known_id = resp.get_json()["contact"]["id"]
    old_conv = send(client, laptop, "from the laptop").get_json()["conversation"]["id"]
    conv_service.change_status(make_user(role="admin"), old_conv, "resolved")
    # Now on a phone, anonymous, with a conversation in progress.
    phone = start(client, inbox)
    phone_conv = send(client, phone["token"], "from the phone").get_json()["conversation"]["id"]
    merged = call(client, "POST", "/identify", phone["token"], ident)
    assert merged.status_code == 200 and merged.get_json()["contact"]["id"] == known_id
    assert db.session.get(Contact, phone["contact"]["id"]) is None
    ids = {c["id"] for c in call(client, "GET", "/conversations", phone["token"]).get_json()["conversations"]}
    assert ids == {old_conv, phone_conv}
    assert db.session.get(Conversation, phone_conv).contact_id == known_id
    sessions = db.session.scalars(sa.select(ContactSession).where(ContactSession.contact_id == known_id)).all()
    assert len(sessions) == 2 and all(s.hmac_verified for s in sessions)


def test_merge_keeps_one_conversation_in_progress(client) -> None:
    inbox = make_inbox()
    ident = {"identifier": "u-7", "identifier_hash": sign(inbox, "u-7")}
    laptop = start(client, inbox)["token"]
    call(client, "POST", "/identify", laptop, ident)
    laptop_conv = send(client, laptop, "open on laptop").get_json()["conversation"]["id"]
    phone = start(client, inbox)["token"]
    phone_conv = send(client, phone, "open on phone").get_json()["conversation"]["id"]
    resp = call(client, "POST", "/identify", phone, ident)
    assert resp.status_code == 200
    assert resp.get_json()["conversation"]["id"] == laptop_conv
    db.session.expire_all()
    assert db.session.get(Conversation, phone_conv).status == "resolved"
    assert db.session.get(Conversation, laptop_conv).status == "open"


def test_wrong_hash_is_401_and_merges_nothing(client) -> None:
    inbox = make_inbox()
    victim = start(client, inbox)["token"]
    call(client, "POST", "/identify", victim, {"identifier": "v@x.io", "identifier_hash": sign(inbox, "v@x.io")})
    send(client, victim, "secret history")
    attacker = start(client, inbox)
    before = db.session.scalar(sa.select(ContactSession.contact_id).where(
        ContactSession.contact_id == attacker["contact"]["id"]))
    for bad in (sign(inbox, "other"), "0", "", None):
        body = {"identifier": "v@x.io", "identifier_hash": bad, "name": "Mallory"}
        resp = call(client, "POST", "/identify", attacker["token"], body)
        if bad in ("", None):
            # Not enforced: an unverified identity never attaches to the existing contact.
            assert resp.status_code == 200 and resp.get_json()["attached"] is False
            assert resp.get_json()["contact"]["id"] == attacker["contact"]["id"]
        else:
            assert resp.status_code == 401 and resp.get_json()["error"] == "identity_invalid"
    assert before == attacker["contact"]["id"]
    assert call(client, "GET", "/conversations", attacker["token"]).get_json()["conversations"] == []
    victim_contact = db.session.scalar(sa.select(Contact).where(Contact.identifier == "v@x.io"))
    assert victim_contact.name == anonymous_name(victim_contact.id)  # never "Mallory"


def test_enforced_identity_refuses_unverified(client) -> None:
    inbox = make_inbox(enforce_identity=True)
    token = start(client, inbox)["token"]
    resp = call(client, "POST", "/identify", token, {"identifier": "u1", "name": "X"})
    assert resp.status_code == 401 and resp.get_json()["error"] == "identity_required"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)
                             .where(Contact.identifier.is_not(None))) == 0


def test_reset_revokes_the_token(client) -> None:
    inbox = make_inbox()
    token = start(client, inbox)["token"]
    resp = call(client, "POST", "/reset", token, {})
    assert resp.status_code == 201 and resp.get_json()["token"] != token
    assert call(client, "GET", "/contact", token).status_code == 401
    assert call(client, "GET", "/contact", resp.get_json()["token"]).status_code == 200


def test_contact_update_validates(client) -> None:
    inbox = make_inbox()
    token = start(client, inbox)["token"]
    ok = call(client, "PATCH", "/contact", token, {"name": '"><img src=x onerror=alert(1)>', "email": "A@B.io",
                                                   "custom_attributes": {"plan": "pro", "seats": 3}})
    assert ok.status_code == 200 and ok.get_json()["email"] == "a@b.io"
    assert ok.get_json()["name"] == '"><img src=x onerror=alert(1)>'
    for body in ({"email": "nope"}, {"phone": "call me"}, {"name": "x" * 300},
                 {"custom_attributes": {"bad key": 1}}, {"custom_attributes": {"k": {"nested": 1}}}):
        resp = call(client, "PATCH", "/contact", token, body)
        assert resp.status_code == 422, body


def test_page_metadata_is_recorded_and_bounded(client) -> None:
    inbox = make_inbox()
    token = start(client, inbox)["token"]
    ua = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/126.0.0.0 Safari/537.36")
    for i in range(25):
        resp = client.post(f"{API}/page", json={"url": f"https://shop.example/p{i}", "title": f"P{i}",
                                                "locale": "ru-RU", "timezone": "Europe/Moscow",
                                                "referrer": "https://search.example/?q=x"},
                           headers={"X-Visitor-Token": token, "User-Agent": ua, "Origin": SITE})
        assert resp.status_code == 200
    session = db.session.scalar(sa.select(ContactSession).order_by(ContactSession.id.desc()))
    assert session.current_url == "https://shop.example/p24" and len(session.pages) == 20
    assert (session.browser, session.os, session.locale, session.timezone) == (
        "Chrome 126", "Windows 10/11", "ru-RU", "Europe/Moscow")
    for body in ({"url": "javascript:alert(1)"}, {"url": "https://x", "timezone": "Mars/Base"},
                 {"url": "https://x", "locale": "<b>"}):
        assert call(client, "POST", "/page", token, body).status_code == 422


def test_user_agent_parsing() -> None:
    assert parse_user_agent("Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
                            "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1") == ("Safari 17", "iOS 17")
    assert parse_user_agent("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0") == (
        "Firefox 128", "Linux")
    assert parse_user_agent(None) == (None, None)


def test_prechat_required_fields_are_checked_server_side(client) -> None:
    inbox = make_inbox(prechat_enabled=True, prechat_fields=[
        {"name": "name", "label": "Name", "type": "text", "required": False},
        {"name": "email", "label": "Email", "type": "email", "required": True},
        {"name": "topic", "label": "Topic", "type": "select", "options": ["Sales", "Support"], "required": True}])
    token = start(client, inbox)["token"]
    resp = send(client, token)
    assert resp.status_code == 422 and resp.get_json()["error"] == "prechat_required"
    assert call(client, "POST", "/conversations", token, {}).status_code == 422
    for fields, field in (({"topic": "Sales"}, "email"), ({"email": "bad", "topic": "Sales"}, "email"),
                          ({"email": "a@b.io"}, "topic"), ({"email": "a@b.io", "topic": "Hack"}, "topic")):
        resp = call(client, "POST", "/prechat", token, {"fields": fields})
        assert resp.status_code == 422 and resp.get_json()["field"] == field
    assert count(Conversation) == 0
    ok = call(client, "POST", "/prechat", token, {"fields": {"email": "a@b.io", "topic": "Support", "name": "Al"},
                                                  "message": "hi", "client_id": str(uuid.uuid4())})
    assert ok.status_code == 201 and ok.get_json()["message"]["content"] == "hi"
    contact = db.session.scalar(sa.select(Contact).where(Contact.email == "a@b.io"))
    assert contact.name == "Al" and contact.custom_attributes["topic"] == "Support"
    assert send(client, token).status_code == 201


def test_business_hours_in_the_inbox_time_zone() -> None:
    inbox = make_inbox(business_hours_enabled=True, timezone="Europe/Moscow",
                       business_hours={"mon": [["09:00", "18:00"]], "fri": [["22:00", "02:00"]]})
    monday_noon_msk = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)  # 12:00 MSK
    assert widget_service.business_hours_state(inbox, monday_noon_msk)["open"] is True
    monday_late = datetime(2026, 11, 23, 16, 0, tzinfo=timezone.utc)  # 19:00 MSK
    state = widget_service.business_hours_state(inbox, monday_late)
    assert state["open"] is False and state["next_open_at"] == "2026-11-27T19:00:00+00:00"
    saturday_1am_msk = datetime(2026, 11, 27, 22, 0, tzinfo=timezone.utc)
    assert widget_service.business_hours_state(inbox, saturday_1am_msk)["open"] is True
    inbox.business_hours_enabled = False
    assert widget_service.business_hours_state(inbox, monday_late)["open"] is True


def test_offline_form_outside_business_hours_creates_a_conversation(client) -> None:
    inbox = make_inbox(business_hours_enabled=True, business_hours={}, away_message="Back tomorrow")
    session = start(client, inbox)
    assert session["config"]["business_hours"]["open"] is False and session["config"]["available"] is False
    token = session["token"]
    assert call(client, "POST", "/offline", token, {"email": "nope", "message": "hi"}).status_code == 422
    assert call(client, "POST", "/offline", token, {"email": "a@b.io", "message": ""}).status_code == 422
    assert count(Conversation) == 0
    resp = call(client, "POST", "/offline", token, {"email": "Lea@Example.com", "message": "Call me back",
                                                    "name": "Lea"})
    assert resp.status_code == 201
    conv = db.session.get(Conversation, resp.get_json()["conversation"]["id"])
    contact = db.session.get(Contact, conv.contact_id)
    assert conv.status == "open" and conv.custom_attributes["offline_form"] is True
    assert contact.email == "lea@example.com" and contact.name == "Lea"
    assert conv.last_message_preview == "Call me back"


def test_csat_once_after_resolve_only_if_enabled(client) -> None:
    inbox = make_inbox()
    admin = make_user(role="admin")
    token = start(client, inbox)["token"]
    conv_id = send(client, token).get_json()["conversation"]["id"]
    assert call(client, "POST", f"/conversations/{conv_id}/csat", token, {"rating": 5}).status_code == 409
    conv_service.change_status(admin, conv_id, "resolved")
    assert call(client, "GET", f"/conversations/{conv_id}", token).get_json()["csat_requested"] is True
    for bad in (0, 6, "5", True, 4.5):
        assert call(client, "POST", f"/conversations/{conv_id}/csat", token, {"rating": bad}).status_code == 422
    ok = call(client, "POST", f"/conversations/{conv_id}/csat", token, {"rating": 4, "comment": "quick"})
    assert ok.status_code == 201
    again = call(client, "POST", f"/conversations/{conv_id}/csat", token, {"rating": 1})
    assert again.status_code == 409 and again.get_json()["error"] == "already_rated"
    off = make_inbox(csat_enabled=False)
    token2 = start(client, off)["token"]
    conv2 = send(client, token2).get_json()["conversation"]["id"]
    conv_service.change_status(admin, conv2, "resolved")
    assert call(client, "POST", f"/conversations/{conv2}/csat", token2, {"rating": 3}).status_code == 403


def test_blocked_visitor_gets_nothing(client) -> None:
    inbox = make_inbox()
    session = start(client, inbox)
    contact = db.session.get(Contact, session["contact"]["id"])
    contact.blocked = True
    db.session.flush()
    assert send(client, session["token"]).status_code == 403
    resumed = client.post(f"{API}/session", json={"inbox": inbox.website_token, "token": session["token"]},
                          headers={"Origin": SITE})
    assert resumed.status_code == 403 and resumed.get_json()["error"] == "blocked"
    assert count(Message) == 0


def test_rate_limit_per_visitor_answers_429(app, client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox()
    token = start(client, inbox)["token"]
    monkeypatch.setitem(app.config, "WIDGET_RATE_LIMIT", "3 per minute")
    codes = [call(client, "GET", "/contact", token).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[-1] == 429
    resp = call(client, "GET", "/contact", token)
    assert resp.get_json()["error"] == "rate_limited" and "Retry-After" in resp.headers


def test_retry_after_says_when_the_limit_window_resets(app, client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox()
    token = start(client, inbox)["token"]
    monkeypatch.setitem(app.config, "WIDGET_RATE_LIMIT", "2 per 10 seconds")
    codes = [call(client, "GET", "/contact", token).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    retry_after = int(call(client, "GET", "/contact", token).headers["Retry-After"])
    assert 0 <= retry_after <= 10, retry_after  # not a blanket minute: the client may retry when the window ends


def test_queue_position_estimate_and_offline_offer(client) -> None:
    from datetime import timedelta

    inbox = make_inbox(auto_assignment=True, queue_timeout_s=60)
    operator = make_user(inboxes=[inbox])  # online: the offer waits for the queue timeout
    first = start(client, inbox)["token"]
    second = start(client, inbox)["token"]
    send(client, first, "me first")
    conv_id = send(client, second, "me second").get_json()["conversation"]["id"]
    queue = call(client, "GET", f"/conversations/{conv_id}", second).get_json()["queue"]
    assert queue["waiting"] is True and queue["position"] == 2 and queue["online"] is True
    assert queue["estimated_wait_s"] is None and queue["offer_offline"] is False
    # Nobody online: the offline form is offered at once.
    operator.availability = "offline"
    db.session.flush()
    queue = call(client, "GET", f"/conversations/{conv_id}", second).get_json()["queue"]
    assert queue["online"] is False and queue["offer_offline"] is True
    operator.availability = "online"
    db.session.flush()
    # Five answered chats this week: the median pickup time appears.
    now = conv_service.now()
    other = make_inbox()
    for minutes in (1, 2, 3, 4, 5):
        visitor_token = start(client, inbox)["token"]
        cid = send(client, visitor_token, "x").get_json()["conversation"]["id"]
        conv = db.session.get(Conversation, cid)
        conv.created_at = now - timedelta(hours=1)
        conv.first_reply_at = conv.created_at + timedelta(minutes=minutes)
        conv.status = "resolved"
        conv.waiting_since = None
    start(client, other)
    waiting = db.session.get(Conversation, conv_id)
    waiting.waiting_since = now - timedelta(minutes=2)
    db.session.flush()
    queue = call(client, "GET", f"/conversations/{conv_id}", second).get_json()["queue"]
    assert queue["estimated_wait_s"] == 180 and queue["offer_offline"] is True
    assert widget_service.estimated_wait_s(other.id) is None


def test_proactive_greeting_matches_the_page_pattern(client) -> None:
    inbox = make_inbox(proactive={"enabled": True, "delay_s": 5, "url_pattern": "/pricing*", "message": "Hi!"})
    base = f"{API}/config?inbox={inbox.website_token}"
    assert client.get(base + "&page=/pricing/team").get_json()["proactive"] == {
        "message": "Hi!", "delay_s": 5, "period_s": 86400}
    assert client.get(base + "&page=/blog").get_json()["proactive"] is None
    assert client.get(base).get_json()["proactive"] is None
    off = make_inbox(proactive={"enabled": False, "message": "Hi!"})
    assert client.get(f"{API}/config?inbox={off.website_token}&page=/").get_json()["proactive"] is None


def test_bad_page_data_on_session_start_writes_nothing(client) -> None:
    inbox = make_inbox()
    before = (count(Contact), count(ContactSession))
    resp = client.post(f"{API}/session", json={"inbox": inbox.website_token, "url": "javascript:alert(1)"},
                       headers={"Origin": SITE})
    assert resp.status_code == 422 and resp.get_json()["field"] == "url"
    assert (count(Contact), count(ContactSession)) == before


def test_email_owned_by_another_contact_is_kept_aside(client) -> None:
    inbox = make_inbox()
    owner = start(client, inbox)["token"]
    call(client, "PATCH", "/contact", owner, {"email": "taken@example.com"})
    other = start(client, inbox)["token"]
    resp = call(client, "PATCH", "/contact", other, {"email": "taken@example.com"})
    assert resp.status_code == 200 and resp.get_json()["email"] is None
    assert resp.get_json()["custom_attributes"]["unverified_email"] == "taken@example.com"


def test_launcher_hides_when_nobody_can_answer_if_asked(client) -> None:
    inbox = make_inbox(hide_when_offline=True)
    url = f"{API}/config?inbox={inbox.website_token}"
    config = client.get(url).get_json()
    assert config["online"] is False and config["hidden"] is True
    make_user(inboxes=[inbox], availability="online")
    config = client.get(url).get_json()
    assert config["available"] is True and config["hidden"] is False
    assert client.get(f"{API}/config?inbox=unknown-token-x").status_code == 404


def test_stream_tickets_and_long_poll_share_the_visitor_rate_limit(app, client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox()
    token = start(client, inbox)["token"]
    monkeypatch.setitem(app.config, "WIDGET_RATE_LIMIT", "3 per minute")
    codes = [call(client, "POST", "/stream-ticket", token).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


@pytest.mark.committing
def test_operator_replies_carry_the_operator_name_in_history_and_events(client) -> None:  # type: ignore[no-untyped-def]
    from messenger.realtime.log import events_after
    from messenger.realtime.log import head_position

    inbox = make_inbox()
    token = start(client, inbox)["token"]
    conv_id = send(client, token, "hello").get_json()["conversation"]["id"]
    operator = make_user(role="admin", name="Anna Petrova")
    position = head_position()
    msg_service.send_operator_message(operator, conv_id, "Hi, how can I help?", str(uuid.uuid4()))
    listed = call(client, "GET", f"/conversations/{conv_id}/messages", token).get_json()["messages"]
    assert [(m["type"], m["sender_name"]) for m in listed] == [("incoming", None), ("outgoing", "Anna Petrova")]
    created = [e for e in events_after(position) if e.kind == "message.created"]
    assert [e.payload["sender_name"] for e in created] == ["Anna Petrova"]
