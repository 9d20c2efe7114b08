"""Panel search: word forms in the inbox's language, relevance then recency, who sees what, hostile queries."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from flask import g

from messenger.extensions import db
from messenger.models import Contact
from messenger.models import Message
from messenger.services import messages as msg_service
from tests.factories import make_inbox
from tests.factories import make_user
from tests.factories import make_visitor
from tests.helpers import Api


@pytest.fixture
def world(auth, app):  # type: ignore[no-untyped-def]
    english, russian, unset, hidden = (make_inbox(locale="en"), make_inbox(locale="ru"), make_inbox(),
                                       make_inbox(locale="en"))
    agent = make_user(inboxes=[english, russian, unset])
    admin = make_user(role="admin")
    signed_agent = auth(agent)
    g.pop("csrf_token", None)   # test requests share one app context: the admin's client gets its own token
    return {"en": english, "ru": russian, "unset": unset, "hidden": hidden,
            "agent": signed_agent, "admin": Api(app.test_client(), admin)}


def _say(inbox, text: str, visitor=None) -> Message:  # type: ignore[no-untyped-def]
    visitor = visitor or make_visitor(inbox)[0]
    return msg_service.send_visitor_message(visitor, None, text, str(uuid.uuid4())).message


def _found(api, q: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The found messages' snippets (the words around the match), best first."""
    resp = api.get("/api/v1/search", q=q)
    assert resp.status_code == 200, resp.get_json()
    return ["".join(part for part, _ in m["snippet"]) for m in resp.get_json()["messages"]]


WHERE_EN = "Where is my order? It was placed on Monday"
WHERE_RU = "Где мой заказ? Оформил в понедельник"
PAYMENTS = "Мои платежи не проходят, payments keep failing"


def test_messages_keep_their_inbox_and_its_language(world):
    """The insert trigger copies the conversation's inbox and that inbox's locale onto each message."""
    msg = _say(world["ru"], "Привет")
    row = db.session.execute(sa.select(Message.inbox_id, Message.locale).where(Message.id == msg.id)).one()
    assert tuple(row) == (world["ru"].id, "ru")
    stems = db.session.scalar(sa.select(sa.cast(Message.search, sa.Text)).where(Message.id == _say(
        world["en"], "Orders shipped").id))
    assert stems == "'order':1 'ship':2"


def test_messages_follow_a_conversation_that_moves_to_another_inbox(world):
    """Who may see a message is decided by its inbox_id: it follows the conversation's."""
    msg = _say(world["en"], "moving wallaby")
    assert len(world["agent"].get("/api/v1/search", q="wallaby").get_json()["messages"]) == 1
    db.session.execute(sa.text("UPDATE conversations SET inbox_id = :to WHERE id = :id"),
                       {"to": world["hidden"].id, "id": msg.conversation_id})
    db.session.commit()
    assert db.session.scalar(sa.select(Message.inbox_id).where(Message.id == msg.id)) == world["hidden"].id
    assert world["agent"].get("/api/v1/search", q="wallaby").get_json()["messages"] == []


def test_english_and_russian_word_forms_match(world):
    api = world["agent"]
    _say(world["en"], WHERE_EN)
    _say(world["ru"], WHERE_RU)
    _say(world["unset"], PAYMENTS)
    assert _found(api, "ordering") == _found(api, "orders") == [WHERE_EN]
    assert _found(api, "заказы") == _found(api, "заказа понедельника") == [WHERE_RU]
    # An inbox without a locale stems both languages.
    assert _found(api, "платежами") == _found(api, "payment failed") == [PAYMENTS]
    # The highlight marks the word as written in the message.
    hit = api.get("/api/v1/search", q="заказы").get_json()["messages"][0]
    assert ["заказ", True] in hit["snippet"]


def test_the_last_word_may_be_unfinished(world):
    api = world["agent"]
    _say(world["en"], WHERE_EN)
    _say(world["ru"], WHERE_RU)
    assert _found(api, "placed mon") == _found(api, "ord") == [WHERE_EN]
    assert _found(api, "мой зак") == [WHERE_RU]
    assert _found(api, "pla monday") == []   # earlier words are whole words


def test_results_are_ranked_by_relevance_then_newest_first(world):
    inbox = world["en"]
    far = "Delivery was promised for the weekend by the courier service and it is now very late"
    best = _say(inbox, "My delivery is late")
    older_far = _say(inbox, far)
    newer_far = _say(inbox, far)
    resp = world["agent"].get("/api/v1/search", q="delivery late").get_json()
    # The words close together rank first although that message is the oldest; equal ranks: newest first.
    assert [m["message_id"] for m in resp["messages"]] == [best.id, newer_far.id, older_far.id]


def test_an_agent_never_sees_messages_or_contacts_of_other_inboxes(world):
    visitor, _ = make_visitor(world["hidden"])
    _say(world["hidden"], "secret quokka plan", visitor)
    contact = db.session.get(Contact, visitor.contact_id)
    contact.name = "Quokka Keeper"
    db.session.commit()
    _say(world["en"], "public quokka photo")
    agent = world["agent"].get("/api/v1/search", q="quokka").get_json()
    assert ["".join(p for p, _ in m["snippet"]) for m in agent["messages"]] == ["public quokka photo"]
    assert agent["contacts"] == []
    admin = world["admin"].get("/api/v1/search", q="quokka").get_json()
    assert len(admin["messages"]) == 2
    assert [c["id"] for c in admin["contacts"]] == [contact.id]
    # The agent is also refused the hidden conversation the admin found.
    hidden_id = next(m["conversation_id"] for m in admin["messages"]
                     if "secret" in "".join(part for part, _ in m["snippet"]))
    assert world["agent"].get(f"/api/v1/conversations/{hidden_id}").status_code == 404


def _contact_saying_hello(world, **fields):  # type: ignore[no-untyped-def]
    """A contact of the English inbox with one message, with ``fields`` set."""
    visitor, _ = make_visitor(world["en"])
    _say(world["en"], "hello", visitor)
    contact = db.session.get(Contact, visitor.contact_id)
    for name, value in fields.items():
        setattr(contact, name, value)
    db.session.commit()
    return contact


def test_a_contact_is_found_by_phone_and_email_prefix(world):
    contact = _contact_saying_hello(world, phone="+1 555 0004242", email="wombat.lover@example.org")
    for q in ("+1 555 0004242", "0004242", "wombat.lo", "wombat.lover@example.org"):
        found = world["agent"].get("/api/v1/search", q=q).get_json()["contacts"]
        assert [c["id"] for c in found] == [contact.id], q


def test_a_russian_name_is_found_with_or_without_the_dots_of_yo_and_shown_as_written(world):
    contact = _contact_saying_hello(world, name="Семён Фёдоров", email="semyon@example.org")
    for q in ("семен", "Семён", "СЕМЕН", "федоров", "Фёдор", "семен федо"):
        found = world["agent"].get("/api/v1/search", q=q).get_json()["contacts"]
        assert [c["id"] for c in found] == [contact.id], q
        # The snippet keeps the name as written, with the matched words marked.
        snippet = found[0]["snippet"]
        assert "".join(text for text, _ in snippet) == "Семён Фёдоров · semyon@example.org", q
        assert any(marked for _, marked in snippet), q
    marked = [text for text, on in world["agent"].get("/api/v1/search", q="семен").get_json()["contacts"][0]["snippet"]
              if on]
    assert marked == ["Семён"]
    assert world["agent"].get("/api/v1/search", q="семан").get_json()["contacts"] == []


@pytest.mark.parametrize("q", [
    "'&|!:*()", "x" * 201, "\x00", "a\x00b", "", "   ", "<>", "\\", "!!!", "((((((",
])
def test_hostile_queries_are_a_4xx_naming_q(world, q):
    resp = world["agent"].get("/api/v1/search", q=q)
    assert 400 <= resp.status_code < 500, (q, resp.status_code)
    assert resp.get_json()["field"] == "q"


@pytest.mark.parametrize("q", [
    "order:* & !(delivery | late)", "a'b", "it's", "o'reilly'''", "\\'x", "(((((( order", "the", "и",
    "a b c d e f g h i j k l", "x:A", "-late", '"delivery late"', "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ☃", "1 2 3",
])
def test_query_syntax_in_the_words_is_searched_as_text(world, q):
    _say(world["en"], "My delivery is late, o'reilly")
    resp = world["agent"].get("/api/v1/search", q=q)
    assert resp.status_code == 200, (q, resp.get_json())
    assert set(resp.get_json()) == {"messages", "contacts"}
