"""``flask messenger …`` commands."""
from __future__ import annotations

import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import Inbox
from messenger.models import InboxMember
from messenger.models import User
from messenger.services.users import authenticate


def test_create_admin_prints_a_password_that_works(app):
    result = app.test_cli_runner().invoke(args=["messenger", "create-admin", "--email", "Chief@Example.com"])
    assert result.exit_code == 0, result.output
    email, password = result.output.strip().split(": ", 1)[1].split(" / ")
    assert email == "chief@example.com"
    user = authenticate(email, password)
    assert user is not None and user.role == "admin"


def test_create_admin_refuses_a_taken_email(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["messenger", "create-admin", "--email", "dup@example.com"])
    again = runner.invoke(args=["messenger", "create-admin", "--email", "dup@example.com"])
    assert again.exit_code == 1 and "An operator with this email exists." in again.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.email == "dup@example.com")) == 1


def test_seed_demo_is_idempotent_and_allows_the_base_url(app, monkeypatch):
    monkeypatch.setenv("ADMIN_EMAIL", "demo@example.com")
    monkeypatch.setenv("ADMIN_PASSWORD", "demo-password-1")
    runner = app.test_cli_runner()
    first = runner.invoke(args=["messenger", "seed-demo", "--base-url", "http://127.0.0.1:9000"])
    second = runner.invoke(args=["messenger", "seed-demo", "--base-url", "http://127.0.0.1:9000"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "demo@example.com / demo-password-1" in first.output
    inboxes = db.session.scalars(sa.select(Inbox)).all()
    assert len(inboxes) == 1 and inboxes[0].allowed_origins == ["http://127.0.0.1:9000"]
    admin = authenticate("demo@example.com", "demo-password-1")
    assert admin is not None and db.session.get(InboxMember, (inboxes[0].id, admin.id)) is not None


def test_seed_demo_changes_the_admin_password_only_when_it_differs(app, monkeypatch):
    """A restart of ``make run`` with ADMIN_PASSWORD set keeps operators signed in; a new value takes effect."""
    monkeypatch.setenv("ADMIN_EMAIL", "same@example.com")
    monkeypatch.setenv("ADMIN_PASSWORD", "demo-password-1")
    runner = app.test_cli_runner()
    runner.invoke(args=["messenger", "seed-demo"])
    version = db.session.scalar(sa.select(User.session_version).where(User.email == "same@example.com"))
    runner.invoke(args=["messenger", "seed-demo"])
    db.session.expire_all()
    assert db.session.scalar(sa.select(User.session_version).where(User.email == "same@example.com")) == version
    monkeypatch.setenv("ADMIN_PASSWORD", "demo-password-2")
    result = runner.invoke(args=["messenger", "seed-demo"])
    assert "same@example.com / demo-password-2" in result.output
    db.session.expire_all()
    assert db.session.scalar(sa.select(User.session_version).where(User.email == "same@example.com")) == version + 1
    assert authenticate("same@example.com", "demo-password-2") is not None
    assert authenticate("same@example.com", "demo-password-1") is None
