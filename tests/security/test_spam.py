"""Widget spam controls (issue 14 "Spam controls", docs/security.md case 31): honeypot, minimum
time before the first message, open conversations per address; each refusal writes nothing."""
from __future__ import annotations

import time
import uuid

import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import AuditLog
from messenger.models import Conversation
from messenger.models import Message
from tests.factories import make_inbox
from tests.test_widget_api import call
from tests.test_widget_api import count
from tests.test_widget_api import start


def _send(client, token: str, **extra):  # type: ignore[no-untyped-def]
    return call(client, "POST", "/messages", token, {"content": "buy cheap pills", "client_id": str(uuid.uuid4()),
                                                     **extra})


def test_a_filled_honeypot_is_refused_neutrally_and_audited(client) -> None:
    inbox = make_inbox()
    token = start(client, inbox)["token"]
    for path, body in (("/messages", {"content": "hi", "client_id": str(uuid.uuid4()), "hp": "http://spam.example"}),
                       ("/conversations", {"hp": "x"}),
                       ("/offline", {"email": "bot@example.com", "message": "hi", "hp": "x"}),
                       ("/prechat", {"fields": {}, "message": "hi", "hp": "x"})):
        resp = call(client, "POST", path, token, body)
        assert resp.status_code == 403, path
        assert resp.get_json() == {"error": "blocked", "message": "This chat is not available."}
    assert count(Conversation) == 0 and count(Message) == 0
    assert db.session.scalars(sa.select(AuditLog.action)).all().count("spam.honeypot") == 4
    # An empty honeypot (what the frame sends for people) passes.
    assert _send(client, token, hp="").status_code == 201


def test_first_message_too_soon_after_opening_is_429_then_accepted(app, client) -> None:
    app.config["SPAM_MIN_FIRST_MESSAGE_S"] = 2
    try:
        inbox = make_inbox()
        token = start(client, inbox)["token"]
        early = _send(client, token)
        assert early.status_code == 429 and early.get_json()["error"] == "rate_limited"
        assert 1 <= early.get_json()["retry_after"] <= 2 and "Retry-After" in early.headers
        assert count(Conversation) == 0
        time.sleep(2.1)
        assert _send(client, token).status_code == 201
        # The chat is going now: later messages never wait.
        assert _send(client, token).status_code == 201
    finally:
        app.config["SPAM_MIN_FIRST_MESSAGE_S"] = 0


def test_open_conversations_per_address_are_capped(app, client) -> None:
    app.config["SPAM_MAX_OPEN_PER_IP"] = 3
    try:
        inbox = make_inbox()
        tokens = [start(client, inbox)["token"] for _ in range(4)]
        assert [_send(client, t).status_code for t in tokens[:3]] == [201, 201, 201]
        refused = _send(client, tokens[3])
        assert refused.status_code == 403 and refused.get_json()["error"] == "blocked"
        assert count(Conversation) == 3
        # An ongoing chat from the same address still flows; another inbox has its own count.
        assert _send(client, tokens[0]).status_code == 201
        assert _send(client, start(client, make_inbox())["token"]).status_code == 201
        assert "spam.too_many_open" in db.session.scalars(sa.select(AuditLog.action)).all()
    finally:
        app.config["SPAM_MAX_OPEN_PER_IP"] = 0
