"""Hostile values on every field of every JSON route are a 4xx, never a 5xx or a partial write (issue 14 item 8).

The classes (docs/security.md): Unicode digits such as ``²`` or ``٣`` in ids and cursors
(``str.isdigit`` accepts them), NUL bytes in text fields and query parameters, JSON nested
tens of thousands deep, integers past the column's range, and ``NaN``/``Infinity``.
Routes come from the URL map and the body fields from the OpenAPI document's operations,
so a new endpoint or field is covered the day it lands.
"""
from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from messenger.extensions import db
from messenger.extensions import limiter
from messenger.openapi import api_operations
from messenger.openapi import request_fields
from tests.helpers import api_principals

SITE = "http://site.test"
SKIP = ("/stream", "/events", "/reset")
# Tables a refused request must leave alone (sessions, audit lines and the event log may move).
WATCHED = ("inboxes", "users", "teams", "team_members", "inbox_members", "contacts", "conversations", "messages",
           "attachments", "labels", "conversation_labels", "canned_responses", "account_links", "webhooks",
           "api_tokens", "csat_responses", "ip_blocks")
EXTRA_FIELDS = ("content", "client_id", "version", "labels", "custom_attributes", "identifier", "email", "name",
                "status", "priority", "user_id", "team_id", "ids", "rating", "comment")
QUERY_NAMES = ("before_id", "before", "after", "limit", "cursor", "q", "prefix", "inbox", "tab", "status", "label",
               "page", "sort")
DEEP = "[" * 50_000 + "]" * 50_000

HOSTILE_SCALARS: list[Any] = [
    "²", "١٢", "12²", "\x00", "a\x00b", 2**31, 2**63, -(2**63) - 1, 10**40, -1, math.inf, -math.inf, math.nan,
    1e308, "9" * 40, "", "\ud800",
]
ONE_PER_CLASS: list[Any] = ["²", "a\x00b", "\ud800", 2**63, 10**40, math.nan, math.inf, [2**40], {"k": math.nan}]
QUERY_VALUES = ["²", "%00", "9" * 25, str(2**63), "-1"]


def _fields(app: Any, method: str, path: str) -> list[str]:
    body, _ = request_fields(app, method, path)
    return sorted(set(body) | set(EXTRA_FIELDS))


def _query_names(app: Any, method: str, path: str) -> list[str]:
    _, query = request_fields(app, method, path)
    return sorted(set(query) | set(QUERY_NAMES))


def _url(path: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    return path


def _fingerprint() -> str:
    parts = [f"(SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM {name} t)" for name in WATCHED]
    return str(db.session.execute(sa.text("SELECT " + " || ".join(parts))).scalar())


class Probe:
    """Sends requests as a signed-in admin and a widget visitor at once; records 5xx and partial writes."""

    def __init__(self, client: Any, ids: dict[str, str], headers: dict[str, str]) -> None:
        self.client, self.ids, self.headers = client, ids, headers
        self.failures: list[tuple[Any, ...]] = []
        self.refused = self.sent = 0
        self.state: str | None = None

    def send(self, method: str, url: str, body: str | None) -> None:
        if self.state is None:
            self.state = _fingerprint()
        resp = self.client.open(url, method=method, data=body, headers=self.headers)
        db.session.rollback()
        self.sent += 1
        if resp.status_code < 400:
            self.state = None  # a success may write: take a new fingerprint before the next request
            return
        if resp.status_code >= 500:
            self.failures.append((method, url[:120], (body or "")[:80], resp.status_code))
            self.state = None
            return
        self.refused += 1
        assert resp.is_json and "error" in resp.get_json(), (method, url, resp.status_code)
        after = _fingerprint()
        if after != self.state:
            self.failures.append((method, url[:120], (body or "")[:80], resp.status_code, "partial write"))
            self.state = after


@pytest.fixture()
def probe(app, client):  # type: ignore[no-untyped-def]
    conv, headers = api_principals(client, SITE)
    ids = {"conversation_id": str(conv.id), "contact_id": str(conv.contact_id), "message_id": "1",
           "key": "no-such-key"}
    limiter.enabled = False  # every request must reach its view, not a 429
    try:
        yield Probe(client, ids, headers)
    finally:
        limiter.enabled = True


def _routes(app: Any) -> list[tuple[str, str]]:
    return [(m, p) for m, p, _ in api_operations(app) if not p.endswith(SKIP)]


@pytest.mark.committing
def test_each_hostile_class_on_every_route_is_a_422_naming_the_field(app, probe):
    """One deterministic pass per class: NUL, Unicode digits, out-of-range integers, NaN/Infinity, deep nesting."""
    for method, path in _routes(app):
        url = _url(path, probe.ids)
        if method == "GET":
            for name in _query_names(app, method, path):
                for value in ("²", "a%00", str(2**63)):
                    probe.send(method, f"{url}?{name}={value}", None)
            continue
        for field in request_fields(app, method, path)[0] or ("content", "custom_attributes"):
            for value in ONE_PER_CLASS:
                probe.send(method, url, json.dumps({field: value}))
        probe.send(method, url, DEEP)
        probe.send(method, url, '{"content": ' + DEEP + "}")
    for name in ("conversation_id", "contact_id", "message_id"):  # ids in the path
        for value in ("²", "٣", str(2**31), str(2**63), "9" * 30):
            for method, path in _routes(app):
                if "{" + name + "}" in path:
                    probe.send(method, _url(path, {**probe.ids, name: value}), "{}" if method != "GET" else None)
    assert probe.failures == []
    assert probe.refused > 1000


def test_the_refusal_names_the_field(app, probe):
    """The 422 says which field was at fault, for each class."""
    conv = probe.ids["conversation_id"]
    cases = [
        ("POST", f"/api/v1/conversations/{conv}/messages", {"content": "hi\x00"}, "content"),
        ("POST", f"/widget/api/v1/conversations/{conv}/messages", {"content": "a\x00"}, "content"),
        ("PATCH", "/widget/api/v1/contact", {"custom_attributes": {"plan": math.inf}}, "custom_attributes"),
        ("PATCH", "/widget/api/v1/contact", {"custom_attributes": {"plan": math.nan}}, "custom_attributes"),
        ("PUT", f"/api/v1/conversations/{conv}/labels", {"labels": [2**63]}, "labels"),
    ]
    for method, url, body, field in cases:
        resp = probe.client.open(url, method=method, data=json.dumps(body), headers=probe.headers)
        assert resp.status_code == 422, (url, resp.status_code, resp.get_data(as_text=True))
        assert resp.get_json()["field"] == field, (url, resp.get_json())
    for query, field in (("before_id=²", "before_id"), ("before_id=" + str(2**63), "before_id"),
                         ("before_id=1%00", "before_id")):
        resp = probe.client.get(f"/api/v1/conversations/{conv}/messages?{query}", headers=probe.headers)
        assert resp.status_code == 422 and resp.get_json()["field"] == field, (query, resp.get_json())
    resp = probe.client.open(f"/api/v1/conversations/{conv}/messages", method="POST", data=DEEP,
                             headers=probe.headers)
    assert resp.status_code == 422 and resp.get_json()["field"] == "body"


JSON_VALUES = st.recursive(
    st.sampled_from(HOSTILE_SCALARS) | st.text(max_size=20) | st.integers() | st.floats() | st.booleans()
    | st.none(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@pytest.mark.committing
def test_generated_hostile_values_never_reach_a_500_or_a_partial_write(app, probe):
    routes = _routes(app)

    @settings(max_examples=250, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(route=st.sampled_from(routes), data=st.data())
    def check(route: tuple[str, str], data: st.DataObject) -> None:
        method, path = route
        ids = {name: data.draw(st.sampled_from([value, "²", "٣", str(2**31), str(2**63)]), name)
               for name, value in probe.ids.items()}
        url = _url(path, ids)
        if method == "GET":
            name = data.draw(st.sampled_from(_query_names(app, method, path)))
            value = data.draw(st.sampled_from(QUERY_VALUES) | st.text(max_size=10).map(quote))
            probe.send(method, f"{url}?{name}={value}", None)
            return
        fields = data.draw(st.lists(st.sampled_from(_fields(app, method, path)), min_size=1, max_size=3, unique=True))
        body = {field: data.draw(JSON_VALUES, field) for field in fields}
        probe.send(method, url, json.dumps(body))

    check()
    assert probe.failures == []
