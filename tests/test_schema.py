"""The migrated schema and the models agree, and the event log's payloads match the API's."""
from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from messenger.extensions import db
from messenger.models import Attachment
from messenger.models import Contact
from messenger.models import ContactSession
from messenger.models import Conversation
from messenger.models import CsatResponse
from messenger.models import Event
from messenger.models import Message
from messenger.models import User
from messenger.services import contact_profile
from messenger.services import conversations as conv_service
from messenger.services import listing
from messenger.services import message_edits
from messenger.services import messages as msg_service
from messenger.services import widget as widget_service
from messenger.services.visitors import Visitor
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user
from tests.factories import make_visitor


def test_autogenerate_finds_no_difference_between_the_models_and_the_migrated_schema(app):
    """``flask db migrate`` against head would write an empty migration."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                              "compare_server_default": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_the_schema_check_sees_a_model_the_migrations_lack(app):
    """The comparison has teeth: a column only the models have is reported."""
    extra = sa.MetaData()
    for table in db.metadata.tables.values():
        table.to_metadata(extra)
    extra.tables["contacts"].append_column(sa.Column("nickname", sa.String(40)))
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), extra)
    assert [(d[0], d[3].name) for d in diff if d[0] == "add_column"] == [("add_column", "nickname")]


# --- Event payloads ----------------------------------------------------------------------------------
# Each event carries the operator API's JSON for the same object: every key the API gives, with
# the same value (timestamps compared as instants), plus event-only keys (``changed``, …).

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)$")


def _plain(value: Any) -> Any:
    if isinstance(value, str) and ISO.match(value):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def assert_carries(payload: dict[str, Any], api: dict[str, Any], *, except_: tuple[str, ...] = ()) -> None:
    missing = sorted(set(api) - set(payload) - set(except_))
    assert not missing, f"the event lacks {missing}"
    differ = {k: (api[k], payload[k]) for k in api if k not in except_ and _plain(api[k]) != _plain(payload[k])}
    assert not differ, f"API vs event: {differ}"


def _event(kind: str, **match: Any) -> dict[str, Any]:
    db.session.expire_all()
    rows = db.session.scalars(sa.select(Event).where(Event.kind == kind).order_by(Event.id.desc()).limit(200))
    for row in rows:
        if all(row.payload.get(k) == v for k, v in match.items()):
            return dict(row.payload)
    raise AssertionError(f"no {kind} event with {match}")


def _attachment(conv_id: int, user_id: int) -> Attachment:
    att = Attachment(key=uuid.uuid4().hex, conversation_id=conv_id, uploader_user_id=user_id, filename="plan.png",
                     content_type="image/png", size=1234, status="clean", width=20, height=10, thumb_key=None)
    db.session.add(att)
    db.session.commit()
    return att


def _chat() -> tuple[User, Visitor, Conversation]:
    """An operator, a visitor and their conversation in a fresh inbox."""
    inbox = make_inbox()
    op = make_user(inboxes=[inbox])
    visitor, _ = make_visitor(inbox)
    return op, visitor, make_conversation(inbox, visitor)


@pytest.mark.committing
def test_message_events_carry_the_api_message(app):
    op, visitor, conv = _chat()
    att = _attachment(conv.id, op.id)
    sent = msg_service.send_operator_message(op, conv.id, "Here is the plan", str(uuid.uuid4()),
                                             attachment_keys=[att.key])
    msg = sent.message

    def api() -> dict[str, Any]:
        db.session.expire_all()
        row = db.session.get(Message, msg.id)
        files = msg_service.attachments_by_message([msg.id]).get(msg.id, [])
        return msg_service.message_to_dict(row, "operator", files)

    created = _event("message.created", id=msg.id)
    assert created["attachments"] and created["sender_name"] == op.name
    assert_carries(created, api())
    message_edits.edit_message(op, conv.id, msg.id, "Here is the new plan")
    assert_carries(_event("message.updated", id=msg.id, content="Here is the new plan"), api())
    message_edits.delete_message(op, conv.id, msg.id)
    deleted = _event("message.updated", id=msg.id, deleted=True)
    assert deleted["attachments"] == [] and deleted["content"] == ""
    assert_carries(deleted, api())


@pytest.mark.committing
def test_conversation_events_carry_the_api_card(app):
    inbox = make_inbox()
    op = make_user(inboxes=[inbox])
    conv = make_conversation(inbox, assignee_id=op.id)
    conv_service.change_status(op, conv.id, "resolved")
    assert_carries(_event("conversation.updated", id=conv.id, status="resolved"), _card(conv.id),
                   except_=("contact",))  # the card's contact summary: contact.* events carry the contact
    conv_service.change_status(op, conv.id, "open")
    event = _event("conversation.updated", id=conv.id, status="open")
    assert event["previous_status"] == "resolved" and event["changed"] == ["status"]
    assert event["assignee_id_before"] == op.id
    assert_carries(event, _card(conv.id), except_=("contact",))


def _card(conversation_id: int) -> dict[str, Any]:
    db.session.expire_all()
    return listing.cards([db.session.get(Conversation, conversation_id)])[0]


@pytest.mark.committing
def test_contact_and_attachment_and_rating_events_carry_the_api_objects(app):
    op, visitor, conv = _chat()

    def contact() -> dict[str, Any]:
        db.session.expire_all()
        return contact_profile.contact_to_dict(db.session.get(Contact, visitor.contact_id))

    assert_carries(_event("contact.created", id=visitor.contact_id), contact())
    contact_profile.update_contact(op, visitor.contact_id,
                                   {"name": "Ada Lovelace", "custom_attributes": {"plan": "pro"}})
    assert_carries(_event("contact.updated", id=visitor.contact_id, name="Ada Lovelace"), contact())

    session = db.session.get(ContactSession, visitor.session_id)
    api_session = contact_profile.session_to_dict(session)
    event = _event("contact.session", id=visitor.session_id)
    shared = {k: api_session[k] for k in ("id", "inbox_id", "online", "current_url", "current_title", "browser",
                                          "os", "last_seen_at")}
    assert_carries(event, shared)  # the changing fields only: the profile's rest is read from the API

    att = _attachment(conv.id, op.id)
    msg_service.send_operator_message(op, conv.id, "", str(uuid.uuid4()), attachment_keys=[att.key])
    db.session.expire_all()
    assert_carries(_event("attachment.updated", id=att.key), msg_service.attachment_to_dict(
        db.session.get(Attachment, att.id)))

    db.session.add(CsatResponse(conversation_id=conv.id, assignee_id=op.id, rating=5, comment="Quick, thanks"))
    db.session.commit()
    assert_carries(_event("csat.created", conversation_id=conv.id),
                   widget_service.csat_to_dict(widget_service.csat_for(conv.id)))


def test_the_emit_migration_goes_down_to_the_previous_functions_and_up_again(servers, app):
    """Replaceable objects: a downgrade restores each trigger function as the earlier migration left it."""
    from flask_migrate import downgrade
    from flask_migrate import upgrade

    from messenger import create_app
    from messenger.config import normalise_database_url
    from messenger.devservers import ensure_database

    url = ensure_database(str(servers["database_url"]), f"emit_{uuid.uuid4().hex[:8]}")
    other = create_app({**app.config, "SQLALCHEMY_DATABASE_URI": normalise_database_url(url)})

    def definition(name: str) -> str | None:
        with db.engine.connect() as conn:
            return conn.scalar(sa.text("SELECT string_agg(pg_get_functiondef(oid), '') FROM pg_proc "
                                       "WHERE proname = :n"), {"n": name})

    with other.app_context():
        upgrade()
        assert "messenger_emit(" in (definition("messenger_message_event") or "")
        assert "'attachments'" in (definition("messenger_message_event") or "")
        downgrade(revision="0009")
        before = definition("messenger_message_event") or ""
        assert "pg_notify" in before and "messenger_emit" not in before and "sender_name" in before
        assert definition("messenger_emit") is None
        assert "OR EXISTS" in (definition("messenger_attachment_event") or "").replace("\n", " ").replace("  ", " ")
        upgrade()
        assert "messenger_emit(" in (definition("messenger_contact_created_event") or "")
        db.engine.dispose()


def test_the_migrations_form_one_line_with_unique_revisions():
    """Two engineers adding the same number (or two heads) would break `flask db upgrade` for everyone."""
    import warnings
    from pathlib import Path

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    folder = Path(__file__).resolve().parents[1] / "migrations"
    ids = [re.search(r'^revision = ["\'](\w+)["\']', p.read_text(), re.M) for p in (folder / "versions").glob("*.py")]
    revisions = [m.group(1) for m in ids if m]
    assert len(revisions) == len(set(revisions)), sorted(r for r in revisions if revisions.count(r) > 1)
    config = Config()
    config.set_main_option("script_location", str(folder))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, heads
