"""Who may open the admin area: every /admin/ page and action is admins-only (walked from the URL map)."""
from __future__ import annotations

import re

import pytest

from tests.admin_helpers import page_token
from tests.admin_helpers import signed_in
from tests.admin_helpers import text


def _admin_rules(app):  # type: ignore[no-untyped-def]
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("admin.")]
    assert len(rules) >= 2
    return rules


def _url(rule) -> str:  # type: ignore[no-untyped-def]
    # Any value will do: the admins-only check runs before a view loads anything.
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: "1" if "int" in m.group(0) else "x", rule.rule)


def test_agent_gets_403_on_every_admin_page_and_action(app) -> None:
    client, _ = signed_in(app, role="agent")
    token = page_token(client, "/app")
    checked = 0
    for rule in _admin_rules(app):
        url = _url(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method == "GET":
                resp = client.get(url)
            else:
                resp = client.open(url, method=method, data={"csrf_token": token})
            assert resp.status_code == 403, (method, url, resp.status_code)
            checked += 1
    assert checked >= 2


def test_signed_out_visitor_is_sent_to_sign_in(app, client) -> None:
    for rule in _admin_rules(app):
        if "GET" in rule.methods:
            resp = client.get(_url(rule))
            assert resp.status_code == 302 and "/login" in resp.headers["Location"], rule.rule


def test_admin_opens_every_admin_page_without_arguments(app) -> None:
    client, _ = signed_in(app)
    for rule in _admin_rules(app):
        if "GET" in rule.methods and not rule.arguments:
            resp = client.get(rule.rule)
            assert resp.status_code == 200, (rule.rule, resp.status_code)


def test_home_lists_pages_with_counts_and_never_links_a_missing_page(app) -> None:
    client, _ = signed_in(app)
    html = text(client.get("/admin/"))
    assert 'class="tile"' in html
    for href in set(re.findall(r'href="(/admin/[^"#?]*)"', html)):
        assert client.get(href).status_code == 200, href


def test_panel_header_links_the_admin_area_for_admins_only(app) -> None:
    admin, _ = signed_in(app)
    agent, _ = signed_in(app, role="agent")
    assert 'href="/admin/"' in text(admin.get("/app"))
    assert 'href="/admin/"' not in text(agent.get("/app"))


@pytest.mark.parametrize("lang,word", [("ru", "Обзор"), ("en", "Overview")])
def test_language_switch_is_remembered(app, lang: str, word: str) -> None:
    client, _ = signed_in(app)
    token = page_token(client, "/admin/")
    resp = client.post("/admin/language", data={"lang": lang, "next": "/admin/", "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/")
    assert word in text(client.get("/admin/"))


def test_language_follows_the_browser_until_chosen(app) -> None:
    client, _ = signed_in(app)
    assert "Обзор" in text(client.get("/admin/", headers={"Accept-Language": "ru-RU,ru;q=0.9"}))
    assert "Overview" in text(client.get("/admin/", headers={"Accept-Language": "de,en;q=0.5"}))
