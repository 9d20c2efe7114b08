"""The OpenAPI document stays true to the routes."""
from __future__ import annotations

from messenger.openapi import OPERATIONS
from messenger.openapi import api_operations


def test_every_api_route_is_documented_and_nothing_else(app):
    routes = {(method, path) for method, path, _ in api_operations(app)}
    assert routes - set(OPERATIONS) == set(), "routes without an OpenAPI summary"
    assert set(OPERATIONS) - routes == set(), "documented operations that no longer exist"


def test_openapi_json_is_served_with_every_path(client, app):
    resp = client.get("/api/openapi.json")
    assert resp.status_code == 200
    spec = resp.get_json()
    assert spec["openapi"].startswith("3.")
    ops = {(m.upper(), p) for p, item in spec["paths"].items() for m in item}
    assert ops == {(method, path) for method, path, _ in api_operations(app)}
    send = spec["paths"]["/widget/api/v1/messages"]["post"]
    assert "client_id" in send["requestBody"]["content"]["application/json"]["schema"]["properties"]
