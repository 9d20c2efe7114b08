"""The served OpenAPI document holds against a live gunicorn server (Schemathesis).

Every operation of ``/api/openapi.json`` is called with a few generated examples, as a
signed-in operator (session cookie + CSRF, then an API token) and as a widget visitor
(token + Origin); no answer may be a 5xx, and every answer must match the document.
"""
from __future__ import annotations

import re
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck
from hypothesis import Phase
from hypothesis import given
from hypothesis import settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from messenger.services import api_tokens
from tests.factories import PASSWORD
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user

SITE = "http://site.test"
SKIP = ("/stream", "/events", "/reset")


def _operator_session(base: str, email: str) -> tuple[requests.Session, str]:
    session = requests.Session()
    page = session.get(base + "/login").text
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert csrf
    session.post(base + "/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf.group(1)})
    panel = session.get(base + "/app").text
    token = re.search(r'name="csrf-token" content="([^"]+)"', panel)
    assert token, panel[:300]
    return session, token.group(1)


@pytest.mark.committing
@pytest.mark.slow
def test_the_openapi_document_holds_against_a_live_server(app, live_server):  # type: ignore[no-untyped-def]
    inbox = make_inbox(origins=[SITE])
    user = make_user(role="admin", inboxes=[inbox])
    make_conversation(inbox)
    _, bearer = api_tokens.create_token(user, "contract test")
    base = live_server.url
    cookie_session, csrf = _operator_session(base, user.email)
    visitor = requests.post(base + "/widget/api/v1/session", json={"inbox": inbox.website_token},
                            headers={"Origin": SITE}).json()["token"]
    schema = schemathesis.openapi.from_url(base + "/api/openapi.json")
    principals = {"widget": [{"X-Visitor-Token": visitor, "Origin": SITE}],
                  "operator": [{"X-CSRFToken": csrf}, {"Authorization": "Bearer " + bearer}]}
    failures: list[Any] = []
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.endswith(SKIP):
            continue
        kind = "widget" if operation.path.startswith("/widget/") else "operator"
        for headers in principals[kind]:
            session = cookie_session if "X-CSRFToken" in headers else requests.Session()
            calls += _exercise(operation, base, session, headers, failures)
    assert failures == []
    assert calls > 100  # every operation was exercised, as each principal


def _exercise(operation: Any, base: str, session: requests.Session, headers: dict[str, str],
              failures: list[Any]) -> int:
    """A few generated examples of one operation; failures are collected, the number of calls returned."""
    calls = 0

    @settings(max_examples=3, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        nonlocal calls
        calls += 1
        try:
            case.call_and_validate(base_url=base, session=session, headers=headers,
                                   checks=[not_a_server_error, response_schema_conformance])
        except Exception as exc:  # noqa: BLE001 - collected, reported together
            failures.append((operation.method.upper(), operation.path, sorted(headers), str(exc)[:300]))

    check()
    return calls
