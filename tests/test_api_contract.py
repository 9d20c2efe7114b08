"""The served OpenAPI document holds against a live gunicorn server (Schemathesis).

Every operation of ``/api/openapi.json`` is called with a few generated examples, as a
signed-in operator (session cookie + CSRF, then an API token) and as a widget visitor
(token + Origin); no answer may be a 5xx, and every answer's status and body must match
the document.
Each operation runs twice: with generated path ids (mostly 404s: the error shape is
checked) and with the ids of records that exist (so 2xx answers are checked against the
response models too); the second run sends the operation's documented example first.
"""
from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck
from hypothesis import Phase
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.checks import status_code_conformance

from messenger.extensions import limiter
from messenger.services import api_tokens
from tests.factories import PASSWORD
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user

SITE = "http://site.test"
SKIP = ("/stream", "/events", "/reset")
answered: set[tuple[str, str]] = set()  # operations that gave a 2xx in this run
statuses: dict[tuple[str, str], set[int]] = {}  # every status each operation answered, for the failure message
W = "/widget/api/v1"
# Kept in every case: a filled honeypot (a bot) would block the visitor for the rest of the run.
KEEP: dict[str, dict[str, Any]] = {"widget": {"hp": ""}, "operator": {}}
# Visitor operations that must be answered 2xx (the others need a resolved conversation, SMTP or a file).
VISITOR_ANSWERS = [("GET", f"{W}/config"), ("POST", f"{W}/session"), ("POST", f"{W}/page"), ("GET", f"{W}/contact"),
                   ("PATCH", f"{W}/contact"), ("POST", f"{W}/identify"), ("GET", f"{W}/conversations"),
                   ("POST", f"{W}/conversations"), ("GET", f"{W}/conversations/{{conversation_id}}"),
                   ("GET", f"{W}/conversations/{{conversation_id}}/messages"), ("POST", f"{W}/messages"),
                   ("POST", f"{W}/conversations/{{conversation_id}}/read"),
                   ("POST", f"{W}/conversations/{{conversation_id}}/typing"), ("POST", f"{W}/attachment-urls"),
                   ("POST", f"{W}/stream-ticket")]


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
    conv = make_conversation(inbox)
    _, bearer = api_tokens.create_token(user, "contract test")
    base = live_server.url
    cookie_session, csrf = _operator_session(base, user.email)
    visitor = requests.post(base + "/widget/api/v1/session", json={"inbox": inbox.website_token},
                            headers={"Origin": SITE}).json()["token"]
    real_ids = {"operator": _operator_ids(base, cookie_session, csrf, conv),
                "widget": _widget_ids(base, visitor, inbox.website_token)}
    schema = schemathesis.openapi.from_url(base + "/api/openapi.json")
    principals = {"widget": [{"X-Visitor-Token": visitor, "Origin": SITE}],
                  "operator": [{"X-CSRFToken": csrf}, {"Authorization": "Bearer " + bearer}]}
    failures: list[Any] = []
    answered.clear()
    statuses.clear()
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.endswith(SKIP):
            continue
        kind = "widget" if operation.path.startswith("/widget/") else "operator"
        for headers in principals[kind]:
            session = cookie_session if "X-CSRFToken" in headers else requests.Session()
            for ids in (KEEP[kind], real_ids[kind]):
                # The server's limits live in the shared Redis: a run this fast would meet the per-visitor
                # limit (WIDGET_RATE_LIMIT) and check 429s instead of answers.
                limiter.reset()
                calls += _exercise(operation, base, session, headers, failures, ids)
    assert failures == []
    assert calls > 200  # every operation was exercised, as each principal, with generated and real ids
    # Real ids reach real answers, so the response models were checked on success bodies too.
    for must in (("GET", "/api/v1/conversations/{conversation_id}"), ("GET", "/api/v1/directory"),
                 ("GET", "/api/v1/conversations/{conversation_id}/messages"), ("GET", "/api/v1/conversations"),
                 ("GET", "/api/v1/contacts/{contact_id}")):
        assert must in answered, sorted(answered)
    assert {op: statuses.get(op) for op in set(VISITOR_ANSWERS) - answered} == {}
    assert len(answered) >= 20, sorted(answered)


def _operator_ids(base: str, session: requests.Session, csrf: str, conv: Any) -> dict[str, Any]:
    """Ids the operator may use: the conversation, its contact, a reply of mine (editable for 15 minutes)."""
    sent = session.post(f"{base}/api/v1/conversations/{conv.id}/messages", headers={"X-CSRFToken": csrf},
                        json={"content": "Hello from the contract test", "client_id": str(uuid.uuid4())})
    assert sent.status_code == 201, sent.text
    return {"conversation_id": conv.id, "contact_id": conv.contact_id, "message_id": sent.json()["message"]["id"]}


def _widget_ids(base: str, visitor: str, inbox_token: str) -> dict[str, Any]:
    """The visitor's own conversation and inbox token."""
    headers = {"X-Visitor-Token": visitor, "Origin": SITE}
    started = requests.post(base + "/widget/api/v1/conversations", headers=headers, json={})
    assert started.status_code in (200, 201), started.text
    data = started.json()
    return {**KEEP["widget"], "conversation_id": data.get("conversation", data)["id"], "inbox": inbox_token}


def _pinned(case: Any, ids: dict[str, Any]) -> Any:
    """The case with the principal's own ids in place of generated ones (path, query and body)."""
    for name, value in ids.items():
        if name in (case.path_parameters or {}):
            case.path_parameters = {**case.path_parameters, name: value}
        if isinstance(case.query, dict) and name in case.query:
            case.query[name] = value
        if isinstance(case.body, dict) and name in case.body:
            case.body[name] = value
    return case


def _exercise(operation: Any, base: str, session: requests.Session, headers: dict[str, str],
              failures: list[Any], ids: dict[str, Any]) -> int:
    """A few generated examples of one operation (path ids replaced by ``ids``); failures are collected, the
    number of calls returned."""
    calls = 0

    def check(case: Any) -> None:
        nonlocal calls
        calls += 1
        try:
            response = case.call_and_validate(base_url=base, session=session, headers=headers,
                                              checks=[not_a_server_error, status_code_conformance,
                                                      response_schema_conformance])
            statuses.setdefault((operation.method.upper(), operation.path), set()).add(response.status_code)
            if response.status_code < 300:
                answered.add((operation.method.upper(), operation.path))
        except Exception as exc:  # noqa: BLE001 - collected, reported together
            failures.append((operation.method.upper(), operation.path, sorted(headers), sorted(ids),
                             str(exc)[:600]))

    documented = operation.get_strategies_from_examples() if ids is not KEEP["widget"] and ids else []
    runs = [(st.one_of(documented), 1)] if documented else []
    for strategy, count in [*runs, (operation.as_strategy(), 3)]:
        settings(max_examples=count, deadline=None, database=None, derandomize=True,
                 phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))(
            given(case=strategy.map(lambda case: _pinned(case, ids)))(check))()
    return calls
