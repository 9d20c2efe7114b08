"""Operator sign-in and /healthz."""
from __future__ import annotations

from tests.factories import PASSWORD
from tests.factories import make_user
from tests.helpers import csrf_token_from
from tests.helpers import login


def test_healthz_reports_database_redis_and_hub(client):  # liveness: see also tests/test_operations.py
    resp = client.get("/healthz")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["redis"] == "ok"
    assert "state" in body["hub"]


def test_login_page_renders_with_a_csrf_token(client):
    resp = client.get("/login")
    assert resp.status_code == 200
    assert csrf_token_from(resp.get_data(as_text=True))
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]


def test_operator_signs_in_and_reaches_the_panel(client):
    user = make_user(name="Anna Smith")
    resp = login(client, user.email, PASSWORD)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/app")
    assert "Anna Smith" in client.get("/app").get_data(as_text=True)


def test_wrong_password_and_unknown_email_get_the_same_answer(client):
    user = make_user()
    wrong = login(client, user.email, "not the password")
    unknown = login(client, "nobody@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong email or password." in wrong.get_data(as_text=True)
    assert "Wrong email or password." in unknown.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(client):
    user = make_user()
    resp = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 400
    assert client.get("/app").status_code == 302


def test_session_is_renewed_on_login(client):
    user = make_user()
    client.get("/login")
    with client.session_transaction() as sess:
        sess["planted"] = "by attacker"
    login(client, user.email, PASSWORD)
    with client.session_transaction() as sess:
        assert "planted" not in sess and sess["uid"] == user.id


def test_password_change_signs_out_every_session(client, app):
    from messenger.services.users import set_password

    user = make_user()
    login(client, user.email, PASSWORD)
    assert client.get("/app").status_code == 200
    set_password(None, user.id, "another long password")
    assert client.get("/app").status_code == 302


def test_login_is_rate_limited_per_ip(client, app):
    """Case 29: LOGIN_RATE_LIMIT counts every attempt from one IP, whatever the account."""
    app.config["LOGIN_FREE_FAILURES"] = 100
    try:
        statuses = [login(client, f"user{i}@example.com", "wrong password").status_code for i in range(11)]
    finally:
        app.config["LOGIN_FREE_FAILURES"] = 3
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429
