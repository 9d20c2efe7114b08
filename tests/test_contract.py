"""The typed contracts (messenger/contract/): one mechanism refuses what does not fit, naming the field."""
from __future__ import annotations

import uuid

import pytest

from messenger.extensions import db
from messenger.models import Conversation
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user


@pytest.fixture
def chat(auth):  # type: ignore[no-untyped-def]
    inbox = make_inbox()
    user = make_user(inboxes=[inbox])
    conv = make_conversation(inbox)
    return auth(user), conv


def _refused(resp, field):  # type: ignore[no-untyped-def]
    assert resp.status_code == 422, resp.get_json()
    body = resp.get_json()
    assert body["error"] == "invalid" and body["field"] == field, body
    return body


@pytest.mark.parametrize(("payload", "field"), [
    ({"priority": True}, "priority"),          # a bool is not an integer
    ({"priority": "3"}, "priority"),           # nor is text
    ({"priority": 3.0}, "priority"),           # nor a float
    ({"priority": 5}, "priority"),             # out of 0..4
    ({"priority": 2, "version": -1}, "version"),
    ({"priority": 2, "version": 2**31}, "version"),
    ({}, "priority"),                          # required
])
def test_strict_json_types_and_bounds_are_a_422_naming_the_field(chat, payload, field):  # type: ignore[no-untyped-def]
    api, conv = chat
    _refused(api.send("POST", f"/api/v1/conversations/{conv.id}/priority", payload), field)
    assert db.session.get(Conversation, conv.id).priority == 0  # nothing written


def test_a_body_that_is_not_an_object_names_the_body(chat):  # type: ignore[no-untyped-def]
    api, conv = chat
    _refused(api.send("POST", f"/api/v1/conversations/{conv.id}/status", ["resolved"]), "body")
    resp = api.client.post(f"/api/v1/conversations/{conv.id}/status", data="status=resolved",
                           headers={"X-CSRFToken": api.token, "Content-Type": "application/x-www-form-urlencoded"})
    _refused(resp, "body")


def test_too_long_text_carries_the_limit_and_unknown_fields_are_named(chat):  # type: ignore[no-untyped-def]
    api, conv = chat
    body = _refused(api.send("POST", f"/api/v1/conversations/{conv.id}/messages",
                             {"content": "x" * 10_001, "client_id": str(uuid.uuid4())}), "content")
    assert body["limit"] == 10_000
    body = _refused(api.send("POST", f"/api/v1/conversations/{conv.id}/assign", {"user_id": None, "owner": 1}),
                    "owner")
    assert body["message"] == "Unknown field: owner."
    _refused(api.send("POST", f"/api/v1/conversations/{conv.id}/messages", {"content": "hi", "client_id": "x"}),
             "client_id")
    _refused(api.send("PUT", f"/api/v1/conversations/{conv.id}/labels", {"labels": [1, 2**31]}), "labels")


def test_query_integers_are_ascii_digits_in_range_and_empty_means_absent(chat):  # type: ignore[no-untyped-def]
    api, conv = chat
    for raw in ("²", "٣", "-1", "1.5", "9" * 20):
        _refused(api.get(f"/api/v1/conversations/{conv.id}/messages", before_id=raw), "before_id")
    assert api.get(f"/api/v1/conversations/{conv.id}/messages", before_id="", limit="").status_code == 200
    _refused(api.get("/api/v1/conversations", priority="5"), "priority")
    _refused(api.get("/api/v1/conversations", tab="everything"), "tab")
    _refused(api.get("/api/v1/conversations", colour="red"), "colour")  # the list refuses unknown parameters
    page = api.get("/api/v1/conversations", tab="all", status="any", limit="1")
    assert page.status_code == 200 and len(page.get_json()["items"]) == 1


def test_authentication_comes_before_the_body(client):  # type: ignore[no-untyped-def]
    conv = make_conversation(make_inbox())
    resp = client.get(f"/api/v1/conversations/{conv.id}/messages", query_string={"before_id": "bad"})
    assert resp.status_code == 401


def test_a_sent_null_differs_from_an_absent_field(chat):  # type: ignore[no-untyped-def]
    api, conv = chat
    contact = api.send("PATCH", f"/api/v1/contacts/{conv.contact_id}", {"name": "Lea", "phone": "+33 1 23"})
    assert contact.status_code == 200
    cleared = api.send("PATCH", f"/api/v1/contacts/{conv.contact_id}", {"phone": None}).get_json()
    assert (cleared["name"], cleared["phone"]) == ("Lea", None)
