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
