"""Sign-in hardening: open redirects (issue 14 item 2), logout ends the server-side session and
"sign out everywhere" (item 3), a lock-out nobody can use as a weapon (item 10), with the
audit lines each leaves (docs/security.md, cases 21, 22, 29)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import g

from messenger.extensions import db
from messenger.models import AuditLog
from tests.factories import PASSWORD
from tests.factories import make_user
from tests.helpers import csrf_token_from
from tests.helpers import login

HOSTILE_NEXT = [
    "//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example", "/\\/evil.example",
    "\t//evil.example", "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", " //evil.example",
    "/%2F/evil.example", "/%2f%2fevil.example", "%2F%2Fevil.example", "/%5Cevil.example", "/%09/evil.example",
    "/%0a/evil.example", "/%252F%252Fevil.example", "/app%0d%0aSet-Cookie:%20x=1", "https://evil.example/app",
    "http:/evil.example", "javascript:alert(1)", "data:text/html,x", "/\x00//evil.example", "/\u3000/evil.example",
    "/\u2028/evil.example", "evil.example", "/" + "a" * 5000,
]


def _login_with_next(client, email: str, password: str, target: str):  # type: ignore[no-untyped-def]
    g.pop("csrf_token", None)
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", query_string={"next": target}, data={"email": email, "password": password,
                                                                      "csrf_token": token})


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_next_never_leaves_the_site_and_never_500s(client, target: str) -> None:
    """Item 2: control characters, backslashes and percent-encodings of them never give //host."""
    user = make_user()
    resp = _login_with_next(client, user.email, PASSWORD, target)
    if "\x00" in target:
        # A NUL byte is refused before any view by messenger/security/hostile.py: a 422 naming
        # the field on the error page, no redirect at all.
        assert resp.status_code == 422 and b"next" in resp.data
        return
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/app"
    # Already signed in, the GET form of the same redirect holds too.
    again = client.get("/login", query_string={"next": target})
    assert again.status_code == 302 and again.headers["Location"] == "/app"


@pytest.mark.parametrize("target", ["/app?conversation=5", "/admin/", "/app#c-12"])
def test_next_keeps_same_site_paths(client, target: str) -> None:
    user = make_user()
    resp = _login_with_next(client, user.email, PASSWORD, target)
    assert resp.status_code == 302 and resp.headers["Location"] == target


def test_login_required_round_trips_through_next(client) -> None:
    user = make_user()
    bounce = client.get("/app?conversation=7")
    assert bounce.status_code == 302 and "next=" in bounce.headers["Location"]
    resp = _login_with_next(client, user.email, PASSWORD, "/app?conversation=7")
    assert resp.headers["Location"] == "/app?conversation=7"


def _panel_token(client) -> str:  # type: ignore[no-untyped-def]
    """The CSRF token of this client's panel page.

    The suite's app context (and so ``g``) spans the whole test, and Flask-WTF caches the
    token in ``g``: drop it so each client gets the one stored in its own session.
    """
    g.pop("csrf_token", None)
    return csrf_token_from(client.get("/app").get_data(as_text=True))


def _cookie(client) -> str:  # type: ignore[no-untyped-def]
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def test_logout_kills_a_copied_session_cookie(app, client) -> None:
    """Item 3: the cookie copied before logout no longer works after it."""
    user = make_user()
    login(client, user.email, PASSWORD)
    copied = _cookie(client)
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/app").status_code == 200
    assert client.post("/logout", data={"csrf_token": _panel_token(client)}).status_code == 302
    assert client.get("/app").status_code == 302
    assert thief.get("/app").status_code == 302
    assert thief.get("/api/v1/conversations").status_code == 401


def test_logout_ends_only_this_browser(app, client) -> None:
    user = make_user()
    other = app.test_client()
    login(client, user.email, PASSWORD)
    login(other, user.email, PASSWORD)
    client.post("/logout", data={"csrf_token": _panel_token(client)})
    assert client.get("/app").status_code == 302
    assert other.get("/app").status_code == 200


def test_sign_out_everywhere_ends_every_session(app, client) -> None:
    user = make_user()
    phone, copy = app.test_client(), app.test_client()
    login(client, user.email, PASSWORD)
    login(phone, user.email, PASSWORD)
    copy.set_cookie("session", _cookie(phone))
    assert 'formaction="/logout/everywhere"' in client.get("/app").get_data(as_text=True)
    resp = client.post("/logout/everywhere", data={"csrf_token": _panel_token(client)})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")
    assert [c.get("/app").status_code for c in (client, phone, copy)] == [302, 302, 302]
    actions = db.session.scalars(sa.select(AuditLog.action).where(AuditLog.target_id == str(user.id))).all()
    assert "auth.logout_everywhere" in actions
    # Signing in again works.
    assert _attempt(phone, user.email, PASSWORD, "127.0.0.1").status_code == 302
    assert phone.get("/app").status_code == 200


def test_sign_out_everywhere_needs_csrf(client) -> None:
    user = make_user()
    login(client, user.email, PASSWORD)
    assert client.post("/logout/everywhere").status_code == 400
    assert client.get("/app").status_code == 200


def _attempt(client, email: str, password: str, ip: str):  # type: ignore[no-untyped-def]
    g.pop("csrf_token", None)
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": ip})


def test_an_attacker_cannot_lock_the_operator_out(app, client) -> None:
    """Item 10 (case 29): a dozen wrong passwords from elsewhere leave the operator's own sign-in working."""
    user = make_user()
    attacker = app.test_client()
    codes = [_attempt(attacker, user.email, "wrong guess", f"203.0.113.{i % 2 + 1}").status_code for i in range(12)]
    assert codes[:6] == [401] * 6 and set(codes) <= {401, 429}
    victim = _attempt(client, user.email, PASSWORD, "198.51.100.7")
    assert victim.status_code == 302 and client.get("/app").status_code == 200


def test_failures_from_one_pair_wait_longer_and_longer(app, client) -> None:
    from messenger.services import login_guard

    user = make_user()
    ip = "203.0.113.9"
    with app.test_request_context():
        delays = [login_guard.failed(user.email, ip) for _ in range(14)]
    assert delays == [0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    refused = _attempt(client, user.email, PASSWORD, ip)
    assert refused.status_code == 429 and 290 < int(refused.headers["Retry-After"]) <= 300
    assert "Try again in" in refused.get_data(as_text=True)
    assert client.get("/app").status_code == 302
    # The same account from the operator's own address is not delayed, and success clears that pair.
    assert _attempt(client, user.email, PASSWORD, "198.51.100.4").status_code == 302
    with app.test_request_context():
        assert [login_guard.failed(user.email, "198.51.100.4") for _ in range(4)] == [0, 0, 0, 1]
        login_guard.succeeded(user.email, "198.51.100.4")
        assert login_guard.failed(user.email, "198.51.100.4") == 0


def test_unknown_and_real_accounts_are_refused_alike(client) -> None:
    user = make_user()
    for email in (user.email, "nobody@example.com"):
        codes = [_attempt(client, email, "wrong", "203.0.113.20").status_code for _ in range(5)]
        assert codes == [401, 401, 401, 401, 429], email


def test_account_ceiling_spares_browsers_that_signed_in_before(app, client) -> None:
    """Past the per-account ceiling a new browser waits, the operator's usual browser still signs in."""
    app.config["LOGIN_ACCOUNT_FAILURES"] = 6
    try:
        user = make_user()
        known = app.test_client()
        assert _attempt(known, user.email, PASSWORD, "198.51.100.1").status_code == 302
        botnet = app.test_client()
        for i in range(6):
            assert _attempt(botnet, user.email, "guess", f"203.0.113.{50 + i}").status_code == 401
        stranger = app.test_client()
        refused = _attempt(stranger, user.email, PASSWORD, "198.51.100.2")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 60
        known.post("/logout", data={"csrf_token": _panel_token(known)})
        assert _attempt(known, user.email, PASSWORD, "198.51.100.3").status_code == 302
        actions = db.session.scalars(sa.select(AuditLog.action)).all()
        assert actions.count("auth.login_failed") == 6 and "auth.lockout" in actions
        assert "auth.login_refused" in actions and actions.count("auth.login") == 2
    finally:
        app.config["LOGIN_ACCOUNT_FAILURES"] = 50


def test_login_failures_are_audited_with_the_ip(client) -> None:
    user = make_user()
    _attempt(client, user.email, "wrong", "203.0.113.77")
    entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "auth.login_failed")).one()
    assert entry.ip == "203.0.113.77" and entry.data["email"] == user.email
