"""Labels, teams and shared canned responses in the admin area: forms, validation, audit."""
from __future__ import annotations

import re

import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import AuditLog
from messenger.models import CannedResponse
from messenger.models import ConversationLabel
from messenger.models import Label
from messenger.models import Team
from messenger.models import TeamMember
from tests.admin_helpers import post_form
from tests.admin_helpers import signed_in
from tests.admin_helpers import text
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user


def _count(model) -> int:  # type: ignore[no-untyped-def]
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def error_next_to(html: str, field: str) -> str:
    """The error message rendered right under ``field`` (empty when none)."""
    match = re.search(rf'<span class="field-error" id="{field}-error">([^<]*)</span>', html)
    return match.group(1) if match else ""


def test_admin_creates_renames_and_deletes_a_label(app) -> None:
    client, admin = signed_in(app)
    resp = post_form(client, "/admin/labels", {"name": "  VIP  customer ", "color": "#FF0000"})
    assert resp.status_code == 302
    label = db.session.scalar(sa.select(Label).where(Label.name == "VIP customer"))
    assert label is not None and label.color == "#ff0000"
    assert "VIP customer" in text(client.get("/admin/labels"))
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "label.create"))
    assert entry.actor_user_id == admin.id and entry.ip == "127.0.0.1" and entry.target_id == str(label.id)

    assert post_form(client, f"/admin/labels/{label.id}", {"name": "Gold", "color": "#00aa00"}).status_code == 302
    db.session.refresh(label)
    assert (label.name, label.color) == ("Gold", "#00aa00")

    inbox = make_inbox()
    conv = make_conversation(inbox)
    db.session.add(ConversationLabel(conversation_id=conv.id, label_id=label.id))
    db.session.commit()
    assert post_form(client, f"/admin/labels/{label.id}/delete", {}, page="/admin/labels").status_code == 302
    assert _count(Label) == 0 and _count(ConversationLabel) == 0


def test_label_errors_are_shown_next_to_the_field_and_nothing_is_saved(app) -> None:
    client, _ = signed_in(app)
    post_form(client, "/admin/labels", {"name": "Billing", "color": "#123456"})
    before = _count(Label)
    resp = post_form(client, "/admin/labels", {"name": "billing", "color": "#654321"})
    assert resp.status_code == 422
    assert error_next_to(text(resp), "name") == "This name is already taken."
    resp = post_form(client, "/admin/labels", {"name": "Refunds", "color": "red"})
    assert resp.status_code == 422 and "#1f6feb" in error_next_to(text(resp), "color")
    resp = post_form(client, "/admin/labels", {"name": "", "color": "#123456"})
    assert resp.status_code == 422 and error_next_to(text(resp), "name")
    assert _count(Label) == before


def test_russian_admin_sees_service_errors_in_russian(app) -> None:
    client, _ = signed_in(app)
    client.set_cookie("lang", "ru")
    post_form(client, "/admin/labels", {"name": "Billing", "color": "#123456"})
    resp = post_form(client, "/admin/labels", {"name": "Billing", "color": "#123456"})
    assert error_next_to(text(resp), "name") == "Такое название уже есть."


def test_team_with_members_and_its_validation(app) -> None:
    client, _ = signed_in(app)
    ann, bob = make_user(name="Ann"), make_user(name="Bob")
    resp = post_form(client, "/admin/teams", {"name": "Sales", "members": [str(ann.id), str(bob.id)]})
    assert resp.status_code == 302
    team = db.session.scalar(sa.select(Team).where(Team.name == "Sales"))
    members = set(db.session.scalars(sa.select(TeamMember.user_id).where(TeamMember.team_id == team.id)))
    assert members == {ann.id, bob.id}
    html = text(client.get("/admin/teams"))
    assert "Ann" in html and "Bob" in html

    resp = post_form(client, f"/admin/teams/{team.id}", {"name": "Sales EU", "members": [str(bob.id)]})
    assert resp.status_code == 302
    assert set(db.session.scalars(sa.select(TeamMember.user_id).where(TeamMember.team_id == team.id))) == {bob.id}

    resp = post_form(client, "/admin/teams", {"name": "sales eu"})
    assert resp.status_code == 422 and error_next_to(text(resp), "name") == "This name is already taken."
    resp = post_form(client, "/admin/teams", {"name": "Ghosts", "members": ["999999"]})
    assert resp.status_code == 422 and error_next_to(text(resp), "members") == "Unknown operator."
    assert _count(Team) == 1


def test_shared_canned_responses_with_unique_shortcuts(app) -> None:
    client, _ = signed_in(app)
    resp = post_form(client, "/admin/canned-responses", {"short_code": "/Hello", "content": "Hi! How can I help?"})
    assert resp.status_code == 302
    item = db.session.scalar(sa.select(CannedResponse))
    assert (item.short_code, item.owner_user_id) == ("hello", None)

    resp = post_form(client, "/admin/canned-responses", {"short_code": "hello", "content": "Other"})
    assert resp.status_code == 422 and error_next_to(text(resp), "short_code") == "This shortcut is already taken."
    resp = post_form(client, "/admin/canned-responses", {"short_code": "two words", "content": "x"})
    assert resp.status_code == 422 and "letters" in error_next_to(text(resp), "short_code")
    resp = post_form(client, "/admin/canned-responses", {"short_code": "long", "content": "x" * 5001})
    assert resp.status_code == 422 and error_next_to(text(resp), "content")
    assert _count(CannedResponse) == 1

    assert post_form(client, f"/admin/canned-responses/{item.id}",
                     {"short_code": "hi", "content": "Hello there"}).status_code == 302
    db.session.refresh(item)
    assert (item.short_code, item.content) == ("hi", "Hello there")
    assert post_form(client, f"/admin/canned-responses/{item.id}/delete", {},
                     page="/admin/canned-responses").status_code == 302
    assert _count(CannedResponse) == 0


def test_pages_escape_names(app) -> None:
    client, _ = signed_in(app)
    post_form(client, "/admin/labels", {"name": '"><img src=x onerror=alert(1)>', "color": "#123456"})
    html = text(client.get("/admin/labels"))
    assert "<img src=x" not in html and "&lt;img src=x" in html


def test_unknown_ids_are_404(app) -> None:
    client, _ = signed_in(app)
    for url in ("/admin/labels/999999", "/admin/teams/999999", "/admin/canned-responses/999999"):
        assert client.get(url).status_code == 404


def test_operators_keep_their_own_canned_responses_from_the_panel(app) -> None:
    admin, _ = signed_in(app)
    post_form(admin, "/admin/canned-responses", {"short_code": "hello", "content": "Shared hello"})
    ann, ann_user = signed_in(app, role="agent")
    bob, _ = signed_in(app, role="agent")
    assert 'href="/app/canned-responses"' in text(ann.get("/app"))
    # Ann's own code may shadow a shared one; her own codes are unique among hers.
    assert post_form(ann, "/app/canned-responses", {"short_code": "hello", "content": "Ann's hello"}).status_code == 302
    assert post_form(ann, "/app/canned-responses", {"short_code": "bye", "content": "Bye!"}).status_code == 302
    dup = post_form(ann, "/app/canned-responses", {"short_code": "bye", "content": "Again"})
    assert dup.status_code == 422 and error_next_to(text(dup), "short_code") == "This shortcut is already taken."
    mine = db.session.scalars(sa.select(CannedResponse).where(CannedResponse.owner_user_id == ann_user.id)).all()
    assert sorted(c.short_code for c in mine) == ["bye", "hello"]

    items = ann.get("/api/v1/canned-responses").get_json()["items"]
    assert [(i["short_code"], i["personal"]) for i in items] == [("bye", True), ("hello", True), ("hello", False)]
    assert [i["content"] for i in bob.get("/api/v1/canned-responses").get_json()["items"]] == ["Shared hello"]

    own = next(c for c in mine if c.short_code == "bye")
    assert bob.get(f"/app/canned-responses/{own.id}").status_code == 404
    assert post_form(bob, f"/app/canned-responses/{own.id}/delete", {}, page="/app/canned-responses").status_code == 404
    shared = db.session.scalar(sa.select(CannedResponse).where(CannedResponse.owner_user_id.is_(None)))
    assert ann.get(f"/app/canned-responses/{shared.id}").status_code == 404  # shared ones are the admins'
    renamed = post_form(ann, f"/app/canned-responses/{own.id}", {"short_code": "ciao", "content": "Ciao"})
    assert renamed.status_code == 302
    assert post_form(ann, f"/app/canned-responses/{own.id}/delete", {}, page="/app/canned-responses").status_code == 302
    assert db.session.get(CannedResponse, own.id) is None
