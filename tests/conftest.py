"""Test fixtures: real PostgreSQL and Redis (embedded unless TEST_DATABASE_URL / TEST_REDIS_URL).

- The schema comes from ``alembic upgrade head``, once per session (triggers live there).
- Default isolation: each test runs inside an outer transaction, the session joined with
  savepoints, rolled back at teardown.
- ``@pytest.mark.committing`` tests commit for real (NOTIFY, triggers at commit, servers in
  other processes) and the tables are truncated afterwards.
- ``live_server`` is a real gunicorn + gevent server on a free port, sharing the database.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import sqlalchemy.orm as so

from tests.helpers import ROOT
from tests.helpers import Api
from tests.helpers import LiveServer


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """URLs of the PostgreSQL and Redis the suite uses, plus handles to the embedded ones."""
    from messenger.devservers import ensure_database
    from messenger.devservers import start_postgres
    from messenger.devservers import start_redis

    base = tmp_path_factory.mktemp("servers")
    info: dict[str, object] = {}
    pg = redis = None
    admin_url = os.environ.get("TEST_DATABASE_URL")
    if admin_url:
        info["database_url"] = admin_url
    else:
        pg = start_postgres(base / "pg")
        info["database_url"] = ensure_database(pg.url, "messenger_test")
        info["postgres"] = pg
    if os.environ.get("TEST_REDIS_URL"):
        info["redis_url"] = os.environ["TEST_REDIS_URL"]
    else:
        redis = start_redis(base / "redis", persist=False)
        info["redis_url"] = redis.url
        info["redis"] = redis
    info["instance"] = base / "instance"
    try:
        yield info
    finally:
        if redis is not None:
            redis.stop()
        if pg is not None:
            pg.stop()


def _test_config(servers: dict[str, object]) -> dict[str, object]:
    from messenger.config import normalise_database_url

    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(str(servers["database_url"])),
        "REDIS_URL": str(servers["redis_url"]),
        "RATELIMIT_STORAGE_URI": "redis+" + str(servers["redis_url"]) if str(servers["redis_url"]).startswith(
            "unix") else str(servers["redis_url"]),
        "UPLOAD_DIR": str(Path(str(servers["instance"])) / "uploads"),
        "SERVER_NAME": None,
        # Tests open chats from one address within milliseconds; tests/security/test_spam.py turns these on.
        "SPAM_MIN_FIRST_MESSAGE_S": 0,
        "SPAM_MAX_OPEN_PER_IP": 0,
        "QUEUE_CACHE_MS": 0,  # tests read the queue right after changing it
    }


@pytest.fixture(scope="session")
def app(servers: dict[str, object]):  # type: ignore[no-untyped-def]
    """The app under test, with the schema migrated to head."""
    from flask_migrate import upgrade

    from messenger import create_app
    from messenger.config import load_settings

    defaults = load_settings({"SECRET_KEY": "unused"}, Path(str(servers["instance"])))
    application = create_app({**defaults, **_test_config(servers)})
    with application.app_context():
        upgrade()
    return application


@pytest.fixture(scope="session")
def env_for_servers(servers: dict[str, object]) -> dict[str, str]:
    """Environment for child processes (gunicorn, workers) pointing at the test servers."""
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": str(servers["database_url"]),
        "REDIS_URL": str(servers["redis_url"]),
        "SECRET_KEY": "test-secret-key-not-for-production",
        "MESSENGER_INSTANCE": str(servers["instance"]),
        "UPLOAD_DIR": str(Path(str(servers["instance"])) / "uploads"),
        "LOG_LEVEL": "WARNING",
        "SPAM_MIN_FIRST_MESSAGE_S": "0",
        "SPAM_MAX_OPEN_PER_IP": "0",
        "QUEUE_CACHE_MS": "0",
    })
    return env


TABLES = ("events", "events_pending", "events_pruned", "report_counts", "report_count_deltas", "csat_responses",
          "conversation_labels", "attachments", "messages", "conversations", "contact_sessions", "contacts",
          "canned_responses", "labels", "webhook_deliveries", "webhooks", "api_tokens", "audit_log", "account_links",
          "inbox_members", "team_members", "inboxes", "teams", "users")


def truncate_all(engine: sa.Engine) -> None:
    # No RESTART IDENTITY: a live hub remembers its log position across tests.
    # A live server may still be finishing a request (a closing stream, a presence sweep) whose
    # locks cross TRUNCATE's: PostgreSQL breaks that deadlock by aborting one side, so retry.
    for attempt in range(5):
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))
            return
        except sa.exc.OperationalError as exc:
            if "deadlock detected" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))


@pytest.fixture(autouse=True)
def _isolation(request: pytest.FixtureRequest, app) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Savepoint isolation by default; real commits + truncate for ``committing`` tests."""
    from messenger.extensions import db

    redis = app.extensions["redis"]
    redis.flushdb()
    committing = request.node.get_closest_marker("committing") is not None
    with app.app_context():
        if committing:
            try:
                yield
            finally:
                db.session.remove()
                truncate_all(db.engine)
            return
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = so.scoped_session(  # type: ignore[assignment]
            so.sessionmaker(bind=connection, join_transaction_mode="create_savepoint"),
            scopefunc=original.registry.scopefunc)
        try:
            yield
        finally:
            db.session.remove()
            db.session = original  # type: ignore[assignment]
            outer.rollback()
            connection.close()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def auth(client) -> Callable[[Any], Api]:  # type: ignore[no-untyped-def]
    """Sign a user in on ``client``: ``api = auth(user)``; ``api.send("POST", path, body)`` carries CSRF."""
    return lambda user: Api(client, user)


@pytest.fixture(scope="session")
def live_server(app, env_for_servers: dict[str, str]) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """One gunicorn+gevent server for the session (tests using it must be ``committing``)."""
    server = LiveServer(env_for_servers)
    try:
        yield server
    finally:
        server.stop()


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    """Real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright."""
    import shutil

    from playwright.sync_api import sync_playwright

    executable = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).exists():
        pytest.fail("Chromium is missing: run `make test` as root on Debian, or install the chromium package")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def artifacts() -> Path:
    """Where browser tests save screenshots (git-ignored)."""
    path = ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
