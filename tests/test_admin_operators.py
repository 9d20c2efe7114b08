"""Operators in the admin area: invitation end to end, edits, deactivation, the last admin rule."""
from __future__ import annotations

import re
import threading
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
import sqlalchemy as sa

from messenger.errors import Conflict
from messenger.extensions import db
from messenger.models import AccountLink
from messenger.models import InboxMember
from messenger.models import TeamMember
from messenger.models import User
from messenger.services import operators as operator_service
from tests.admin_helpers import client_for
from tests.admin_helpers import post_form
from tests.admin_helpers import signed_in
from tests.admin_helpers import text
from tests.assignment_helpers import conv
from tests.assignment_helpers import work
from tests.factories import PASSWORD
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user
from tests.helpers import login
from tests.test_admin_catalog import error_next_to


def _invite(client, **fields):  # type: ignore[no-untyped-def]
    data = {"name": "Nina", "email": "nina@example.com", "role": "agent", "capacity": "4", **fields}
    return post_form(client, "/admin/operators/invite", data)


def _link_from(html: str) -> str:
    match = re.search(r'<div class="secret" id="account-link">(http[^<]+)</div>', html)
    assert match, "no link shown"
    return match.group(1)


def _set_password(app, path: str, password: str = "a new password"):  # type: ignore[no-untyped-def]
    browser = client_for(app)
    page = browser.get(path)
    if page.status_code != 200:
        return page
    return post_form(browser, path, {"password": password, "confirm": password})


def test_invitation_end_to_end(app) -> None:
    client, admin = signed_in(app)
    inbox = make_inbox()
    resp = _invite(client, inboxes=[str(inbox.id)])
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    url = _link_from(text(resp))
    path = url[url.index("/account/"):]
    nina = db.session.scalar(sa.select(User).where(User.email == "nina@example.com"))
    assert (nina.role, nina.capacity, nina.active) == ("agent", 4, True)
    assert db.session.get(InboxMember, (inbox.id, nina.id)) is not None
    assert "Invited" in text(client.get("/admin/operators"))
    # Not signed in with any password before the link is used.
    assert login(client_for(app), "nina@example.com", "!no-password").status_code != 302

    done = _set_password(app, path)
    assert done.status_code == 200 and "Your password is set" in text(done)
    assert login(client_for(app), "nina@example.com", "a new password").status_code == 302
    # The link works once.
    again = client_for(app).get(path)
    assert again.status_code == 410 and "already used or has expired" in text(again)
    assert _set_password(app, path, "another password").status_code == 410
    actions = set(db.session.scalars(sa.select(sa.text("action")).select_from(sa.table("audit_log"))))
    assert {"user.invite", "user.invite_link", "user.password_set"} <= actions


def test_expired_unknown_and_replaced_links_are_refused(app) -> None:
    client, _ = signed_in(app)
    path = _link_from(text(_invite(client)))
    path = path[path.index("/account/"):]
    db.session.execute(sa.update(AccountLink).values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    db.session.commit()
    assert client_for(app).get(path).status_code == 410
    assert client_for(app).get("/account/" + "x" * 43).status_code == 404

    nina = db.session.scalar(sa.select(User).where(User.email == "nina@example.com"))
    first = post_form(client, f"/admin/operators/{nina.id}/password-link", {}, page=f"/admin/operators/{nina.id}")
    second = post_form(client, f"/admin/operators/{nina.id}/password-link", {}, page=f"/admin/operators/{nina.id}")
    old, new = (_link_from(text(r)) for r in (first, second))
    assert client_for(app).get(old[old.index("/account/"):]).status_code == 410
    assert _set_password(app, new[new.index("/account/"):]).status_code == 200


def test_password_form_errors_are_next_to_the_field(app) -> None:
    client, _ = signed_in(app)
    url = _link_from(text(_invite(client)))
    path = url[url.index("/account/"):]
    browser = client_for(app)
    browser.get(path)
    short = post_form(browser, path, {"password": "short", "confirm": "short"})
    assert short.status_code == 422 and "at least 8" in text(short)
    differ = post_form(browser, path, {"password": "long enough 1", "confirm": "long enough 2"})
    assert differ.status_code == 422 and "differ" in text(differ)
    assert browser.get(path).status_code == 200  # still unused


def test_reset_password_link_for_an_active_operator(app) -> None:
    client, _ = signed_in(app)
    agent = make_user()
    resp = post_form(client, f"/admin/operators/{agent.id}/password-link", {}, page=f"/admin/operators/{agent.id}")
    assert "Password reset link" in text(resp)
    url = _link_from(text(resp))
    assert _set_password(app, url[url.index("/account/"):], "brand new secret").status_code == 200
    assert login(client_for(app), agent.email, PASSWORD).status_code != 302
    assert login(client_for(app), agent.email, "brand new secret").status_code == 302


def test_invite_validation_shows_errors_and_saves_nothing(app) -> None:
    client, _ = signed_in(app)
    existing = make_user(email="taken@example.com")
    before = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    resp = _invite(client, email="TAKEN@example.com")
    assert resp.status_code == 422 and error_next_to(text(resp), "email") == "An operator with this email exists."
    resp = _invite(client, capacity="-1")
    assert resp.status_code == 422 and error_next_to(text(resp), "capacity")
    resp = _invite(client, email="not-an-email")
    assert resp.status_code == 422 and error_next_to(text(resp), "email")
    resp = _invite(client, inboxes=["999999"])
    assert resp.status_code == 422 and error_next_to(text(resp), "inboxes")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == before
    assert existing.active


def test_admin_edits_role_capacity_and_memberships(app) -> None:
    client, _ = signed_in(app)
    from messenger.models import Team

    team = Team(name="Support")
    db.session.add(team)
    db.session.commit()
    inbox = make_inbox()
    agent = make_user(capacity=5)
    resp = post_form(client, f"/admin/operators/{agent.id}", {
        "name": "Renamed", "role": "admin", "capacity": "7", "inboxes": [str(inbox.id)], "teams": [str(team.id)]})
    assert resp.status_code == 302
    db.session.refresh(agent)
    assert (agent.name, agent.role, agent.capacity) == ("Renamed", "admin", 7)
    assert db.session.get(TeamMember, (team.id, agent.id)) and db.session.get(InboxMember, (inbox.id, agent.id))
    resp = post_form(client, f"/admin/operators/{agent.id}", {"name": "Renamed", "role": "agent", "capacity": "-3"})
    assert resp.status_code == 422 and error_next_to(text(resp), "capacity")
    db.session.refresh(agent)
    assert agent.role == "admin" and agent.capacity == 7


def test_the_last_admin_cannot_demote_or_deactivate_themselves(app) -> None:
    client, admin = signed_in(app)
    db.session.execute(sa.update(User).where(User.id != admin.id).values(role="agent"))
    db.session.commit()
    resp = post_form(client, f"/admin/operators/{admin.id}", {"name": admin.name, "role": "agent", "capacity": "5"})
    assert resp.status_code == 422 and "last active admin" in error_next_to(text(resp), "role")
    resp = post_form(client, f"/admin/operators/{admin.id}/active", {}, page=f"/admin/operators/{admin.id}")
    assert "last active admin" in text(client.get(resp.headers["Location"]))
    db.session.refresh(admin)
    assert admin.role == "admin" and admin.active


@pytest.mark.committing
def test_deactivation_requeues_open_conversations_and_reactivation_restores_sign_in(app) -> None:
    client, _ = signed_in(app)
    inbox = make_inbox(auto_assignment=True)
    agent = make_user(inboxes=[inbox])
    waiting = make_conversation(inbox).id
    work(app)
    assert conv(waiting).assignee_id == agent.id
    resp = post_form(client, f"/admin/operators/{agent.id}/active", {}, page=f"/admin/operators/{agent.id}")
    assert resp.status_code == 302
    work(app)
    assert conv(waiting).assignee_id is None
    db.session.expire_all()
    assert not db.session.get(User, agent.id).active
    assert login(client_for(app), agent.email, PASSWORD).status_code != 302
    post_form(client, f"/admin/operators/{agent.id}/active", {}, page=f"/admin/operators/{agent.id}")
    assert login(client_for(app), agent.email, PASSWORD).status_code == 302


def _demote_at_once(app, first: int, second: int) -> list[str]:  # type: ignore[no-untyped-def]
    """Two threads, each its own session: ``first`` demotes ``second`` while ``second`` demotes ``first``."""
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def demote(actor: int, target: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                operator_service.update_operator(actor, target, name="x", role="agent", capacity=5,
                                                 inbox_ids=[], team_ids=[])
                outcomes.append("demoted")
            except Conflict:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=demote, args=(first, second)),
               threading.Thread(target=demote, args=(second, first))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return outcomes


@pytest.mark.committing
def test_two_admins_demoting_each_other_at_once_leave_one_admin(app) -> None:
    for _round in range(5):
        db.session.execute(sa.update(User).values(role="agent"))
        db.session.commit()
        first, second = make_user(role="admin"), make_user(role="admin")
        assert sorted(_demote_at_once(app, first.id, second.id)) == ["demoted", "refused"]
        admins = db.session.scalar(sa.select(sa.func.count()).select_from(User).where(
            User.role == "admin", User.active.is_(True)))
        assert admins == 1
