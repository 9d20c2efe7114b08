"""Account pre-hijack through an unverified identity (issue 14 item 1, docs/security.md case 19).

Rule: only an HMAC-verified identify gives a contact an identifier, and only a verified
identity attaches to an existing contact; unverified identifiers and e-mails stay
attributes of the visitor's own anonymous contact and never become a merge target.
"""
from __future__ import annotations

import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import Contact
from messenger.models import Conversation
from tests.factories import make_inbox
from tests.test_widget_api import call
from tests.test_widget_api import send
from tests.test_widget_api import sign
from tests.test_widget_api import start


def _conversation_ids(client, token: str) -> set[int]:  # type: ignore[no-untyped-def]
    return {c["id"] for c in call(client, "GET", "/conversations", token).get_json()["conversations"]}


def _verified(inbox, identifier: str, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"identifier": identifier, "identifier_hash": sign(inbox, identifier), **extra}


def test_claimed_identifier_never_receives_the_real_users_history(client) -> None:
    inbox = make_inbox()
    attacker = start(client, inbox)
    claim = call(client, "POST", "/identify", attacker["token"], {"identifier": "customer-1", "name": "Mallory"})
    assert claim.status_code == 200 and claim.get_json()["attached"] is False
    assert claim.get_json()["contact"]["identifier"] is None
    assert claim.get_json()["contact"]["custom_attributes"]["unverified_identifier"] == "customer-1"
    # The real customer arrives later, chats, and signs in with a valid HMAC.
    victim = start(client, inbox)
    secret = send(client, victim["token"], "my card ends 4242").get_json()["conversation"]["id"]
    verified = call(client, "POST", "/identify", victim["token"], _verified(inbox, "customer-1"))
    assert verified.status_code == 200 and verified.get_json()["verified"] is True
    victim_contact = verified.get_json()["contact"]["id"]
    assert victim_contact != attacker["contact"]["id"]
    assert db.session.get(Conversation, secret).contact_id == victim_contact
    # The claimer sees nothing of it, and the new messages go to the customer's contact only.
    assert _conversation_ids(client, attacker["token"]) == set()
    assert call(client, "GET", f"/conversations/{secret}/messages", attacker["token"]).status_code == 404
    later = send(client, victim["token"], "and my address is…").get_json()["conversation"]["id"]
    assert db.session.get(Conversation, later).contact_id == victim_contact
    assert db.session.get(Contact, attacker["contact"]["id"]).identifier is None


def test_claimed_email_is_no_merge_target_and_the_verified_user_gets_it(client) -> None:
    inbox = make_inbox()
    attacker = start(client, inbox)
    call(client, "PATCH", "/contact", attacker["token"], {"email": "Ann@Example.com"})
    assert db.session.get(Contact, attacker["contact"]["id"]).email == "ann@example.com"
    victim = start(client, inbox)
    conv = send(client, victim["token"], "hello").get_json()["conversation"]["id"]
    resp = call(client, "POST", "/identify", victim["token"], _verified(inbox, "ann-1", email="ann@example.com"))
    assert resp.status_code == 200
    body = resp.get_json()["contact"]
    assert body["id"] != attacker["contact"]["id"] and body["email"] == "ann@example.com"
    db.session.expire_all()
    squatter = db.session.get(Contact, attacker["contact"]["id"])
    assert squatter.email is None and squatter.custom_attributes["unverified_email"] == "ann@example.com"
    assert _conversation_ids(client, attacker["token"]) == set()
    assert _conversation_ids(client, victim["token"]) == {conv}
    # An unverified visitor cannot take the verified address back.
    again = call(client, "PATCH", "/contact", attacker["token"], {"email": "ann@example.com"})
    assert again.get_json()["email"] is None


def test_verified_first_then_unverified_claim_gets_nothing(client) -> None:
    inbox = make_inbox()
    victim = start(client, inbox)
    call(client, "POST", "/identify", victim["token"], _verified(inbox, "customer-2", email="bo@example.com"))
    conv = send(client, victim["token"], "history").get_json()["conversation"]["id"]
    attacker = start(client, inbox)
    for body in ({"identifier": "customer-2"}, {"identifier": "customer-2", "email": "bo@example.com"}):
        resp = call(client, "POST", "/identify", attacker["token"], body)
        assert resp.status_code == 200 and resp.get_json()["attached"] is False
        assert resp.get_json()["contact"]["id"] == attacker["contact"]["id"]
    assert _conversation_ids(client, attacker["token"]) == set()
    assert call(client, "GET", f"/conversations/{conv}", attacker["token"]).status_code == 404
    owner = db.session.scalar(sa.select(Contact).where(Contact.identifier == "customer-2"))
    assert owner.id == db.session.get(Conversation, conv).contact_id and owner.email == "bo@example.com"


def test_two_browsers_of_the_verified_user_share_history_a_claimer_in_between_does_not(client) -> None:
    inbox = make_inbox()
    laptop = start(client, inbox)
    call(client, "POST", "/identify", laptop["token"], _verified(inbox, "customer-3"))
    first = send(client, laptop["token"], "from the laptop").get_json()["conversation"]["id"]
    attacker = start(client, inbox)
    call(client, "POST", "/identify", attacker["token"], {"identifier": "customer-3"})
    phone = start(client, inbox)
    merged = call(client, "POST", "/identify", phone["token"], _verified(inbox, "customer-3"))
    assert merged.get_json()["contact"]["id"] == laptop["contact"]["id"]
    assert _conversation_ids(client, phone["token"]) == {first}
    assert _conversation_ids(client, attacker["token"]) == set()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)
                             .where(Contact.identifier == "customer-3")) == 1
