"""Helpers for admin-page tests: signed-in clients and form posts with the page's CSRF token."""
from __future__ import annotations

from typing import Any

from flask import g
from flask.testing import FlaskClient

from tests.factories import PASSWORD
from tests.factories import make_user
from tests.helpers import csrf_token_from
from tests.helpers import login


class FreshClient(FlaskClient):
    """A test client whose every request starts without another request's cached ``g`` values.

    Test requests share the fixture's app context, so ``g`` would keep the previous
    request's CSRF token (another session's) and language choice.
    """

    def open(self, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def,override]
        g.pop("csrf_token", None)
        g.pop("_flask_babel", None)
        return super().open(*args, **kwargs)


def client_for(app):  # type: ignore[no-untyped-def]
    return FreshClient(app, app.response_class, use_cookies=True)


def signed_in(app, role: str = "admin", **kw: Any):  # type: ignore[no-untyped-def]
    """A fresh test client signed in as a new operator of ``role``; returns (client, user)."""
    user = make_user(role=role, **kw)
    client = client_for(app)
    assert login(client, user.email, PASSWORD).status_code == 302
    return client, user


def page_token(client, url: str) -> str:  # type: ignore[no-untyped-def]
    """The CSRF token a page hands this client's session."""
    return csrf_token_from(client.get(url).get_data(as_text=True))


def post_form(client, url: str, data: dict[str, Any], *, page: str | None = None):  # type: ignore[no-untyped-def]
    """POST ``data`` to ``url`` with the CSRF token of ``page`` (default: ``url`` itself)."""
    return client.post(url, data={**data, "csrf_token": page_token(client, page or url)})


def text(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def chromium_admin(browser, server_url: str, email: str, *, width: int = 1280, height: int = 900):  # type: ignore[no-untyped-def]
    """A Chromium context signed in on ``/admin/``; returns (context, page, errors).

    ``errors`` collects page errors and console errors (a CSP refusal shows up there), the
    favicon's 404 aside.
    """
    context = browser.new_context(viewport={"width": width, "height": height})
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(f"{msg.text} {msg.location.get('url', '')}")
            if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico") else None)
    page.goto(server_url + "/login?next=/admin/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server_url + "/admin/")
    return context, page, errors
