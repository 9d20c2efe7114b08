"""Foundation: migrations, database constraints, the event log and its NOTIFY wake-ups."""
from __future__ import annotations

import threading
import time
import traceback
import uuid

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from messenger.config import libpq_url
from messenger.extensions import db
from messenger.models import Event
from messenger.models import Message
from messenger.models import User
from messenger.realtime.log import events_after
from messenger.realtime.log import head_position
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user


def test_migrations_upgrade_and_downgrade_cleanly(servers, app):
    """Can the schema go from empty to head, back to empty, and up again?"""
    from flask_migrate import downgrade
    from flask_migrate import upgrade

    from messenger import create_app
    from messenger.config import normalise_database_url
    from messenger.devservers import ensure_database

    url = ensure_database(str(servers["database_url"]), f"mig_{uuid.uuid4().hex[:8]}")
    # Same Redis as the suite's app: extensions such as the rate limiter are process-wide objects.
    other = create_app({**app.config, "SQLALCHEMY_DATABASE_URI": normalise_database_url(url)})
    with other.app_context():
        upgrade()
        tables = set(sa.inspect(db.engine).get_table_names())
        assert {"conversations", "messages", "events", "inboxes", "users", "attachments"} <= tables
        downgrade(revision="base")
        assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert "events" in set(sa.inspect(db.engine).get_table_names())
        db.engine.dispose()


def test_duplicate_client_id_in_a_conversation_is_rejected_by_the_database():
    inbox = make_inbox()
    conv = make_conversation(inbox)
    client_id = uuid.uuid4()
    db.session.add(Message(conversation_id=conv.id, type="incoming", content="hi", client_id=client_id))
    db.session.flush()
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            db.session.add(Message(conversation_id=conv.id, type="incoming", content="hi again", client_id=client_id))
            db.session.flush()


def test_display_ids_are_unique_and_increase_per_inbox():
    first, second = make_inbox(), make_inbox()
    a = [make_conversation(first).display_id for _ in range(3)]
    b = [make_conversation(second).display_id for _ in range(2)]
    assert a == [1, 2, 3]
    assert b == [1, 2]


def test_an_operator_who_wrote_messages_cannot_be_deleted_only_deactivated():
    from messenger.services.users import deactivate_user

    inbox = make_inbox()
    user = make_user(inboxes=[inbox])
    conv = make_conversation(inbox)
    db.session.add(Message(conversation_id=conv.id, type="outgoing", sender_user_id=user.id, content="hello"))
    db.session.flush()
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            db.session.execute(sa.delete(User).where(User.id == user.id))
    deactivate_user(None, user.id)
    assert db.session.get(User, user.id).active is False


def test_check_constraints_refuse_unknown_status_and_bad_priority():
    inbox = make_inbox()
    conv = make_conversation(inbox)
    for column, value in (("status", "archived"), ("priority", 9)):
        with pytest.raises(IntegrityError):
            with db.session.begin_nested():
                db.session.execute(sa.text(f"UPDATE conversations SET {column} = :v WHERE id = :id"),
                                   {"v": value, "id": conv.id})


@pytest.mark.committing
def test_a_message_produces_one_event_and_a_wakeup_only_after_commit(app):
    inbox = make_inbox()
    conv = make_conversation(inbox)
    start = head_position()
    listener = psycopg.connect(libpq_url(app.config["SQLALCHEMY_DATABASE_URI"]), autocommit=True)
    listener.execute("LISTEN messenger")
    try:
        with db.engine.connect() as writer:
            tx = writer.begin()
            writer.execute(sa.insert(Message).values(conversation_id=conv.id, type="incoming", content="hello"))
            # Not committed yet: no event row visible, no wake-up delivered.
            assert [n for n in listener.notifies(timeout=0.3)] == []
            assert events_after(start) == []
            tx.commit()
        woke = list(listener.notifies(timeout=5, stop_after=1))
        assert len(woke) == 1 and woke[0].channel == "messenger"
    finally:
        listener.close()
    created = [e for e in events_after(start) if e.kind == "message.created"]
    assert len(created) == 1
    event = created[0]
    assert (event.inbox_id, event.conversation_id, event.contact_id) == (inbox.id, conv.id, conv.contact_id)
    assert event.private is False and event.payload["content"] == "hello"


@pytest.mark.committing
def test_private_notes_are_flagged_private_in_the_log():
    inbox = make_inbox()
    user = make_user(inboxes=[inbox])
    conv = make_conversation(inbox)
    start = head_position()
    db.session.add(Message(conversation_id=conv.id, type="note", sender_user_id=user.id, content="internal"))
    db.session.commit()
    (event,) = [e for e in events_after(start) if e.kind == "message.created"]
    assert event.private is True and event.user_id == user.id


@pytest.mark.committing
def test_out_of_order_commits_are_never_skipped_by_a_reader():
    """T1 writes first but commits last: a reader that read in between still gets T1's event."""
    inbox = make_inbox()
    conv = make_conversation(inbox)
    start = head_position()
    t1 = db.engine.connect()
    t2 = db.engine.connect()
    try:
        tx1 = t1.begin()
        t1.execute(sa.insert(Message).values(conversation_id=conv.id, type="incoming", content="first written"))
        tx2 = t2.begin()
        t2.execute(sa.insert(Message).values(conversation_id=conv.id, type="incoming", content="second written"))
        tx2.commit()
        seen = events_after(start)
        assert [e.payload["content"] for e in seen if e.kind == "message.created"] == ["second written"]
        tx1.commit()
        later = events_after(seen[-1].id)
        assert [e.payload["content"] for e in later if e.kind == "message.created"] == ["first written"]
    finally:
        t1.close()
        t2.close()


@pytest.mark.committing
def test_a_polling_reader_misses_nothing_under_concurrent_writers(app):
    inbox = make_inbox()
    conv = make_conversation(inbox)
    start = head_position()
    conv_id = conv.id
    writers, per_writer = 8, 25
    done = threading.Event()
    seen: list[int] = []
    engine = db.engine
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            with app.app_context(), engine.connect() as conn:
                for i in range(per_writer):
                    with conn.begin():
                        conn.execute(sa.insert(Message).values(conversation_id=conv_id, type="incoming",
                                                               content=f"w{n}-{i}"))
                        conn.execute(sa.text("SELECT pg_sleep(random() * 0.004)"))
        except BaseException as exc:  # surfaced by the assertion below
            traceback.print_exc()
            errors.append(exc)

    def read() -> None:
        position = start
        while True:
            finished = done.is_set()
            with app.app_context(), engine.connect() as conn:
                batch = events_after(position, conn=conn)
            for event in batch:
                assert event.id > position
                position = event.id
                seen.append(event.id)
            if finished and not batch:
                return
            time.sleep(0.002)

    reader = threading.Thread(target=read)
    reader.start()
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    reader.join(30)
    assert errors == []
    everything = db.session.scalars(sa.select(Event.id).where(Event.id > start).order_by(Event.id)).all()
    assert len(everything) == writers * per_writer
    assert seen == list(everything)
