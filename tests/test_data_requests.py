"""Data requests: export a contact as JSON, erase a contact (nothing of their text or files remains), retention."""
from __future__ import annotations

import io
import uuid
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from rq import SimpleWorker

from messenger.extensions import db
from messenger.jobs import get_queue
from messenger.models import Attachment
from messenger.models import AuditLog
from messenger.models import Contact
from messenger.models import Conversation
from messenger.models import CsatResponse
from messenger.models import Message
from messenger.services import conversations as conv_service
from messenger.services import data_requests
from messenger.services import messages as msg_service
from messenger.services import webhooks
from messenger.services import widget as widget_service
from tests.admin_helpers import post_form
from tests.admin_helpers import signed_in
from tests.admin_helpers import text
from tests.factories import make_inbox
from tests.factories import make_user
from tests.factories import make_visitor
from tests.test_attachments import png_bytes

MARK = "Zebraquartz"  # appears only in the contact's own data


def _contact_with_history(client, inbox, operator):  # type: ignore[no-untyped-def]
    """A visitor who filled the offline form, chatted, uploaded a file, rated; returns (visitor, conversation)."""
    visitor, token = make_visitor(inbox)
    conv, _ = widget_service.submit_offline(visitor, {"email": f"{MARK.lower()}@example.org", "name": f"Ada {MARK}",
                                                      "message": f"My order {MARK}-1 is late"})
    upload = client.post(f"/widget/api/v1/conversations/{conv.id}/attachments",
                         data={"file": (io.BytesIO(png_bytes()), f"{MARK}-receipt.png")},
                         content_type="multipart/form-data",
                         headers={"X-Visitor-Token": token, "Origin": "http://127.0.0.1"})
    assert upload.status_code == 201, upload.get_data(as_text=True)
    key = upload.get_json()["id"]
    msg_service.send_visitor_message(visitor, conv.id, f"Here is the receipt {MARK}", str(uuid.uuid4()),
                                     attachment_keys=[key])
    msg_service.send_operator_message(operator, conv.id, f"Thanks {MARK}, refund sent", str(uuid.uuid4()))
    msg_service.send_operator_message(operator, conv.id, f"note about {MARK}", str(uuid.uuid4()), private=True)
    conv_service.change_status(operator, conv.id, "resolved")
    widget_service.submit_csat(visitor, inbox, conv.id, 5, f"great {MARK}")
    return visitor, conv, key


def test_export_has_profile_sessions_conversations_messages_and_attachments(app, client) -> None:
    inbox, other = make_inbox(), make_inbox()
    agent = make_user(role="agent", inboxes=[inbox])
    visitor, conv, key = _contact_with_history(client, inbox, make_user(role="admin"))
    api, _ = signed_in(app, role="agent", inboxes=[inbox])
    resp = api.get(f"/api/v1/contacts/{visitor.contact_id}/export")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    data = resp.get_json()
    assert data["profile"]["email"] == f"{MARK.lower()}@example.org" and data["profile"]["name"] == f"Ada {MARK}"
    assert data["sessions"][0]["user_agent"] == "pytest" and data["sessions"][0]["ip"] == "127.0.0.1"
    (exported,) = data["conversations"]
    assert exported["id"] == conv.id and exported["custom_attributes"]["reply_to"] == f"{MARK.lower()}@example.org"
    assert [m["content"] for m in exported["messages"]] == [
        f"My order {MARK}-1 is late", f"Here is the receipt {MARK}", f"Thanks {MARK}, refund sent"]
    assert "note about" not in str(data)  # internal notes are not the contact's data
    assert [a["filename"] for a in exported["attachments"]] == [f"{MARK}-receipt.png"]
    assert exported["attachments"][0]["id"] == key and exported["csat"]["rating"] == 5
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "contact.exported"))
    assert entry.target_id == str(visitor.contact_id)
    outsider, _ = signed_in(app, role="agent", inboxes=[other])
    assert outsider.get(f"/api/v1/contacts/{visitor.contact_id}/export").status_code == 404
    assert agent is not None


@pytest.mark.committing
def test_after_erasure_nothing_of_the_contact_remains_in_the_database_or_upload_dir(app, client) -> None:
    inbox = make_inbox()
    admin = make_user(role="admin")
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    webhooks.create_webhook(admin, url="http://127.0.0.1:9/hook", events=list(webhooks.EVENTS), include_private=True)
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    visitor, conv, key = _contact_with_history(client, inbox, admin)
    conv_id = conv.id
    webhooks.pump_all()  # deliveries now hold copies of the contact's text
    uploads = Path(app.config["UPLOAD_DIR"])
    assert any(MARK.encode() in _dump(db.engine, t) for t in ("webhook_deliveries", "events", "messages"))
    stored = db.session.scalar(sa.select(Attachment).where(Attachment.key == key))
    names = {stored.key, stored.thumb_key}
    files = [p for p in uploads.rglob("*") if p.is_file() and p.name in names]
    assert files, "the upload is on disk before erasure"
    messages_before = db.session.scalar(sa.select(sa.func.count()).select_from(Message)
                                        .where(Message.conversation_id == conv_id))

    agent_api, _ = signed_in(app, role="agent", inboxes=[inbox])
    token = agent_api.get("/app").get_data(as_text=True).split('name="csrf-token" content="')[1].split('"')[0]
    assert agent_api.post(f"/api/v1/contacts/{visitor.contact_id}/erase",
                          headers={"X-CSRFToken": token}).status_code == 403
    admin_api, _ = signed_in(app, role="admin")
    token = admin_api.get("/app").get_data(as_text=True).split('name="csrf-token" content="')[1].split('"')[0]
    resp = admin_api.post(f"/api/v1/contacts/{visitor.contact_id}/erase", headers={"X-CSRFToken": token})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["erased"]["attachments"] == 1 and resp.get_json()["erased"]["messages"] >= 4

    db.session.remove()
    leftovers = {t: MARK for t in _tables(db.engine) if MARK.lower().encode() in _dump(db.engine, t).lower()}
    assert leftovers == {}, f"the contact's text survives in {sorted(leftovers)}"
    assert not [p for p in uploads.rglob("*") if p.is_file() and (p.name in names or MARK.encode() in p.read_bytes())]
    # Statistics stay: the conversation, its message count and the rating.
    conv_after = db.session.get(Conversation, conv_id)
    assert conv_after.status == "resolved" and conv_after.first_reply_at is not None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)
                             .where(Message.conversation_id == conv_id)) == messages_before
    assert db.session.scalar(sa.select(CsatResponse.rating).where(CsatResponse.conversation_id == conv_id)) == 5
    contact = db.session.get(Contact, visitor.contact_id)
    assert contact.erased_at is not None and contact.email is None
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "contact.erased"))
    assert entry.data["attachments"] == 1


def _tables(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        query = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        return list(conn.execute(sa.text(query)).scalars())


def _dump(engine: sa.Engine, table: str) -> bytes:
    with engine.connect() as conn:
        return (conn.execute(sa.text(f'SELECT coalesce(string_agg(t::text, \' \'), \'\') FROM "{table}" t'))
                .scalar() or "").encode()


def test_retention_erases_conversations_resolved_long_ago(app, client) -> None:
    inbox = make_inbox()
    admin = make_user(role="admin")
    old_visitor, old_conv, _ = _contact_with_history(client, inbox, admin)
    recent_visitor, recent_conv, _ = _contact_with_history(client, inbox, admin)
    db.session.execute(sa.update(Conversation).where(Conversation.id == old_conv.id)
                       .values(resolved_at=datetime.now(timezone.utc) - timedelta(days=40)))
    db.session.commit()
    assert data_requests.apply_retention() == 0  # off by default
    app.config["RETENTION_DAYS"] = 30
    try:
        assert data_requests.sweep() == 1
        SimpleWorker([get_queue("default")], connection=app.extensions["redis"]).work(burst=True)
        contents = dict(db.session.execute(sa.select(Message.conversation_id, sa.func.string_agg(Message.content, "|"))
                                           .group_by(Message.conversation_id)).all())
        assert MARK not in contents[old_conv.id] and MARK in contents[recent_conv.id]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)
                                 .where(Attachment.conversation_id == old_conv.id)) == 0
        assert data_requests.apply_retention() == 0  # done once
        assert db.session.get(Contact, old_visitor.contact_id).email is not None  # profiles stay
    finally:
        app.config["RETENTION_DAYS"] = 0
    assert recent_visitor is not None


def test_admin_page_finds_exports_and_erases(app, client) -> None:
    inbox = make_inbox()
    visitor, conv, _ = _contact_with_history(client, inbox, make_user(role="admin"))
    admin, _ = signed_in(app)
    page = text(admin.get(f"/admin/data-requests?q={MARK.lower()}@example.org"))
    assert f"Ada {MARK}" in page and f"/admin/data-requests/{visitor.contact_id}/export" in page
    export = admin.get(f"/admin/data-requests/{visitor.contact_id}/export")
    assert export.status_code == 200 and export.get_json()["profile"]["id"] == visitor.contact_id
    resp = post_form(admin, f"/admin/data-requests/{visitor.contact_id}/erase", {},
                     page=f"/admin/data-requests?q={visitor.contact_id}")
    assert resp.status_code == 302
    assert "erased" in text(admin.get(f"/admin/data-requests?q={visitor.contact_id}"))
    assert MARK not in " ".join(db.session.scalars(sa.select(Message.content)
                                                   .where(Message.conversation_id == conv.id)))
    agent, _ = signed_in(app, role="agent", inboxes=[inbox])
    assert agent.get("/admin/data-requests").status_code == 403
