"""Helpers the tests import (fixtures live in ``conftest.py``, which tests never import).

- ``login`` / ``csrf_token_from``: sign in through the real form, read a page's CSRF token.
- ``Api``: a signed-in test client that sends the panel's CSRF header (the ``auth`` fixture
  builds one: ``api = auth(user)``).
- ``LiveServer``: a real gunicorn + gevent process serving ``wsgi:app``; ``free_port``.
- ``env_setting``: a setting as ``config.py`` reads it from the environment.
- ``in_threads``: run a function in N threads started together, each with its own session.
"""
from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from flask import g
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from messenger.config import load_settings
from messenger.extensions import db
from messenger.processes import stop_tree
from tests.factories import PASSWORD
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user

ROOT = Path(__file__).resolve().parent.parent


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html) or re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert match, "no CSRF token in page"
    return match.group(1)


def login(client, email: str, password: str):  # type: ignore[no-untyped-def]
    """Sign in through the real form (CSRF included); returns the response."""
    page = client.get("/login")
    token = csrf_token_from(page.get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """A real gunicorn -k gevent process serving ``wsgi:app``."""

    def __init__(self, env: dict[str, str], workers: int = 1, widget_host: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(env, BASE_URL=self.url)
        if widget_host:  # the widget on its own origin (another name for this machine), e.g. "localhost"
            self.widget_url = f"http://{widget_host}:{self.port}"
            env["WIDGET_BASE_URL"] = self.widget_url
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "-k", "gevent", "-w", str(workers), "-b",
             f"127.0.0.1:{self.port}", "--worker-connections", "6000", "--timeout", "60", "--graceful-timeout", "3",
             "--log-level", "warning", "wsgi:app"],
            cwd=ROOT, env=env, start_new_session=True)
        self.wait_ready()

    def wait_ready(self, timeout: float = 30) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as resp:
                    if resp.status in (200, 503):
                        return
            except Exception:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not become ready")

    def stop(self) -> None:
        stop_tree(self.process, grace=10)


def env_setting(name: str, value: str) -> Any:
    """What ``messenger/config.py`` makes of ``NAME=value`` in the environment (tests put it in ``app.config``)."""
    return load_settings({"SECRET_KEY": "unused", name: value}, ROOT / "instance")[name]


def sign_in(client: FlaskClient, user: Any, password: str = PASSWORD) -> str:
    """Log in and return the panel's CSRF token.

    Test requests share the fixture's app context, so ``g`` caches the pre-login token; it is
    dropped so the panel page issues one bound to the new session.
    """
    login(client, user.email, password)
    g.pop("csrf_token", None)
    return csrf_token_from(client.get("/app").get_data(as_text=True))


class Api:
    """A signed-in test client that sends the panel's CSRF header on state changes."""

    def __init__(self, client: FlaskClient, user: Any) -> None:
        self.client = client
        self.user = user
        self.token = sign_in(client, user)

    def get(self, path: str, **params: Any) -> TestResponse:
        return self.client.get(path, query_string=params)

    def send(self, method: str, path: str, body: object = None, *, csrf: bool = True) -> TestResponse:
        headers = {"X-CSRFToken": self.token} if csrf else {}
        return self.client.open(path, method=method, json=body, headers=headers)



def sign_in_browser(page: Any, base_url: str, email: str, password: str = PASSWORD) -> None:
    """Sign in through the real login form in Chromium (lands on the panel)."""
    page.goto(base_url + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector("#panel[data-ready='1']", timeout=15000)


def api_principals(client: FlaskClient, site: str) -> tuple[Any, dict[str, str]]:
    """A conversation, and headers acting as a signed-in admin (CSRF) and its visitor (token, Origin) at once."""
    inbox = make_inbox(origins=[site])
    user = make_user(role="admin", inboxes=[inbox])
    conv = make_conversation(inbox)
    token = client.post("/widget/api/v1/session", json={"inbox": inbox.website_token},
                        headers={"Origin": site}).get_json()["token"]
    login(client, user.email, PASSWORD)
    csrf = csrf_token_from(client.get("/app").get_data(as_text=True))
    return conv, {"X-CSRFToken": csrf, "X-Visitor-Token": token, "Origin": site, "Content-Type": "application/json"}


def in_threads(app: Flask, count: int, fn: Callable[[int], object]) -> list[object]:
    """Run ``fn(i)`` in ``count`` threads started together, each with its own app context and session."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(i: int) -> None:
        with app.app_context():
            try:
                barrier.wait(30)
                results[i] = fn(i)
            except Exception as exc:  # collected and asserted by the caller
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results
