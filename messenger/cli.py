"""``flask --app wsgi messenger …``: create-admin, seed-demo, prune-events, report-counts, seed-bench."""
from __future__ import annotations

import os
import secrets

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from messenger.config import run_settings
from messenger.extensions import db

cli = AppGroup("messenger", help="Messenger administration commands.")


@cli.command("create-admin")
@click.option("--email", required=True)
@click.option("--name", default="Admin")
@click.option("--password", default=None, help="Random and printed when omitted.")
def create_admin(email: str, name: str, password: str | None) -> None:
    """Create an admin operator."""
    from messenger.errors import DomainError
    from messenger.services.users import create_user

    password = password or secrets.token_urlsafe(12)
    try:
        user = create_user(None, name=name, email=email, password=password, role="admin")
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"admin created: {user.email} / {password}")


def seed_demo_data(base_url: str, admin_email: str, admin_password: str | None) -> tuple[str, str | None]:
    """Create the demo admin and inbox when missing. Returns (email, password or None if it existed)."""
    from messenger.models import Inbox
    from messenger.models import User
    from messenger.services.inboxes import add_member
    from messenger.services.inboxes import create_inbox
    from messenger.services.users import create_user
    from messenger.services.users import ensure_password

    admin_email = admin_email.strip().lower()
    user = db.session.scalar(sa.select(User).where(User.email == admin_email))
    shown: str | None = None
    if user is None:
        shown = admin_password or secrets.token_urlsafe(12)
        user = create_user(None, name="Demo Admin", email=admin_email, password=shown, role="admin")
    elif admin_password:
        ensure_password(None, user.id, admin_password)  # unchanged: open sessions stay signed in
        shown = admin_password
    inbox = db.session.scalar(sa.select(Inbox).order_by(Inbox.id).limit(1))
    if inbox is None:
        inbox = create_inbox(None, name="Demo website", allowed_origins=[base_url.rstrip("/")],
                             greeting="Hi! Ask us anything — we usually reply in a few minutes.")
    elif base_url.rstrip("/") not in inbox.allowed_origins:
        from messenger.db import transaction

        with transaction():
            inbox.allowed_origins = [*inbox.allowed_origins, base_url.rstrip("/")]
    add_member(None, inbox.id, user.id)
    return user.email, shown


@cli.command("seed-demo")
@click.option("--base-url", default=lambda: run_settings(os.environ).base_url)
def seed_demo(base_url: str) -> None:
    """Seed a demo admin (ADMIN_EMAIL/ADMIN_PASSWORD) and a demo inbox allowed on BASE_URL."""
    settings = run_settings(os.environ)  # a CLI entry point: it reads the environment itself
    email, password = seed_demo_data(base_url, settings.admin_email, settings.admin_password)
    if password:
        click.echo(f"login: {email} / {password}")
    else:
        click.echo(f"login: {email} (password unchanged)")


@cli.command("prune-events")
@click.option("--keep-hours", default=72, show_default=True)
def prune_events(keep_hours: int) -> None:
    """Delete event-log rows older than the retention window (streams behind it get resync)."""
    from messenger.realtime.log import prune_events as prune

    click.echo(f"deleted {prune(keep_hours)} events")


@cli.command("report-counts")
@click.option("--rebuild", is_flag=True, help="Recount the table (message and conversation writes wait meanwhile).")
def report_counts(rebuild: bool) -> None:
    """Check the reports' hourly counts against a recount from the messages and conversations; --rebuild fixes them."""
    from messenger.db import transaction
    from messenger.services import reports

    if rebuild:
        with transaction():
            rows = reports.rebuild_report_counts()
        click.echo(f"rebuilt report_counts: {rows} rows")
        return
    drift = reports.report_count_drift()
    click.echo(f"report_counts: {drift} rows differ from a recount" if drift else "report_counts: exact")
    if drift:
        raise SystemExit(1)


@cli.command("seed-bench")
@click.option("--conversations", default=100_000, show_default=True)
@click.option("--messages", default=1_000_000, show_default=True, help="Total messages (spread evenly).")
@click.option("--inboxes", default=4, show_default=True)
@click.option("--operators", default=20, show_default=True)
@click.option("--password", default="bench-password", show_default=True, help="Password of the bench operators.")
def seed_bench(conversations: int, messages: int, inboxes: int, operators: int, password: str) -> None:
    """Bulk-seed conversations and messages for benchmarks (no events are emitted)."""
    from messenger.seeding import seed

    if conversations < 1 or messages < 0:
        raise click.BadParameter("conversations must be positive and messages not negative")
    result = seed(conversations, messages // conversations, inboxes=inboxes, operators=operators, password=password)
    click.echo(f"seeded {result.conversations} conversations and {result.messages} messages "
               f"in {result.seconds:.1f}s (operators bench-op1..{operators}@example.com / {password})")
