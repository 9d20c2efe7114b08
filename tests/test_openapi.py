"""The OpenAPI document stays true to the routes, and is generated from the typed contracts."""
from __future__ import annotations

import pytest

from messenger.contract.core import contract_of
from messenger.openapi import api_operations
from messenger.openapi import documented


def test_every_api_route_is_documented_and_nothing_else(app):
    routes = {(method, path) for method, path, _ in api_operations(app)}
    assert routes - documented(app) == set(), "routes without an @operation contract"


def test_openapi_json_is_served_with_every_path(client, app):
    resp = client.get("/api/openapi.json")
    assert resp.status_code == 200
    spec = resp.get_json()
    assert spec["openapi"].startswith("3.")
    ops = {(m.upper(), p) for p, item in spec["paths"].items() for m in item}
    assert ops == {(method, path) for method, path, _ in api_operations(app)}
    send = spec["paths"]["/widget/api/v1/messages"]["post"]
    ref = send["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert "client_id" in spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]


def test_converted_operations_carry_typed_request_and_response_schemas(client):
    spec = client.get("/api/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    reply = spec["paths"]["/api/v1/conversations/{conversation_id}/messages"]["post"]
    body = reply["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/SendMessage"}
    assert body["example"]["client_id"]
    send = schemas["SendMessage"]
    assert send["properties"]["content"]["maxLength"] == 10_000
    assert "client_id" in send["required"]
    created = reply["responses"]["201"]["content"]["application/json"]["schema"]
    assert created == {"$ref": "#/components/schemas/SentMessage"}
    assert schemas["Message"]["additionalProperties"] is False
    priority = schemas["SetPriority"]["properties"]["priority"]
    assert (priority["type"], priority["minimum"], priority["maximum"]) == ("integer", 0, 4)
    listing = spec["paths"]["/api/v1/conversations"]["get"]
    tab = next(p for p in listing["parameters"] if p["name"] == "tab")
    assert tab["in"] == "query" and tab["schema"]["enum"] == ["waiting", "mine", "unassigned", "all"]
    # every $ref points at a schema the document holds
    import json
    import re
    refs = set(re.findall(r'"#/components/schemas/(\w+)"', json.dumps(spec)))
    assert refs <= set(schemas)
    # one class name per model: pydantic would qualify clashing names with their module path
    assert [name for name in schemas if "__" in name] == []


def test_every_widget_operation_is_typed_with_its_limits(client, app):
    """The visitor side is converted whole: models carry the limits, answers hide operator-only fields."""
    spec = client.get("/api/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    widget = [(m, p) for m, p, endpoint in api_operations(app) if p.startswith("/widget/")]
    assert widget and all(contract_of(app.view_functions[e]) for m, p, e in api_operations(app)
                          if p.startswith("/widget/"))
    for method, path in widget:
        answers = spec["paths"][path][method.lower()]["responses"]
        assert any(code.startswith("2") for code in answers), (method, path)
    send = schemas["VisitorSendMessage"]["properties"]
    assert send["content"]["maxLength"] == 10_000 and send["attachments"]["maxItems"] == 15
    assert send["conversation_id"]["anyOf"][0]["maximum"] == 2**31 - 1
    pages = schemas["StartSession"]["properties"]["pages"]["anyOf"][0]
    assert pages["maxItems"] == 20 and pages["items"]["properties"]["s"]["anyOf"][0]["maximum"] == 7 * 86400
    assert schemas["Rate"]["properties"]["rating"]["minimum"] == 1
    assert schemas["SignedUrlsRequest"]["properties"]["ids"]["maxItems"] == 50
    attributes = schemas["VisitorContactUpdate"]["properties"]["custom_attributes"]["anyOf"][0]
    assert attributes["maxProperties"] == 30
    messages = {p["name"] for p in spec["paths"]["/widget/api/v1/conversations/{conversation_id}/messages"]["get"]
                ["parameters"] if p["in"] == "query"}
    assert messages == {"before", "after", "limit"}
    conversation = schemas["VisitorConversation"]
    assert conversation["additionalProperties"] is False
    assert not {"priority", "custom_attributes", "version", "unread_count", "team_id"} & set(
        conversation["properties"])
    file = spec["paths"]["/widget/api/v1/attachments/{key}"]["get"]["responses"]["200"]
    assert file["content"] == {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}


def test_api_docs_page_lists_every_operation_with_its_fields_and_limits(client, app):
    resp = client.get("/api/docs")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    page = resp.get_data(as_text=True)
    for method, path, _ in api_operations(app):
        assert f">{method}</span> <code>{path}</code>" in page
    assert 'id="schema-SendMessage"' in page and "at most 10000 characters" in page
    assert "<script" not in page  # readable without script, under the default CSP
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]


@pytest.mark.committing
@pytest.mark.browser
def test_api_docs_page_in_chromium(live_server, browser, artifacts) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None)
    try:
        page.goto(live_server.url + "/api/docs")
        page.click("nav.toc a[href='#operator_send_message']")
        section = page.locator("#operator_send_message")
        assert "Reply or private note" in section.inner_text()
        assert section.locator("pre.example").first.is_visible()
        # the stylesheet applied (served by us under the CSP): the method badge is coloured
        color = page.eval_on_selector("#operator_send_message .method", "e => getComputedStyle(e).backgroundColor")
        assert color == "rgb(46, 125, 50)"
        page.screenshot(path=str(artifacts / "api-docs.png"))
        page.locator("#schema-Directory").screenshot(path=str(artifacts / "api-docs-schema.png"))
        assert refused == []
    finally:
        context.close()


def test_every_typed_body_and_answer_has_an_example_that_fits_its_model(app, client):
    """The examples the document shows (and Schemathesis sends) are valid by the models they illustrate."""
    import json as jsonlib

    spec = client.get("/api/openapi.json").get_json()
    checked = 0
    for method, path, endpoint in api_operations(app):
        contract = contract_of(app.view_functions[endpoint])
        if contract is None:
            continue
        operation = spec["paths"][path][method.lower()]
        if contract.body is not None:
            example = operation["requestBody"]["content"]["application/json"]["example"]
            contract.body.model_validate_json(jsonlib.dumps(example))
            checked += 1
        for status, model in contract.responses.items():
            if model is None:
                continue
            example = operation["responses"][str(status)]["content"]["application/json"].get("example")
            assert example is not None, (method, path, status, model.__name__)
            model.model_validate(example)
            checked += 1
    assert checked >= 40
