"""Reports against a seeded week with known answers: volumes, first response, resolution,
CSAT, heat-map cells, CSV content, date range and time-zone boundaries, agents refused."""
from __future__ import annotations

import csv
import io
import re
from datetime import date
from datetime import datetime
from datetime import timezone
from typing import Any

import pytest

from messenger import svg
from messenger.extensions import db
from messenger.models import CsatResponse
from messenger.models import Message
from messenger.services import reports
from tests.admin_helpers import chromium_admin
from tests.admin_helpers import signed_in
from tests.admin_helpers import text
from tests.factories import PASSWORD
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user
from tests.helpers import login

WEEK = {"since": "2026-03-02", "until": "2026-03-08"}  # Monday to Sunday


def at(day: int, hh: int, mm: int, ss: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hh, mm, ss, tzinfo=timezone.utc)


def _conv(inbox: Any, created: datetime, *, assignee: Any = None, team: Any = None,
          resolved: datetime | None = None, messages: list[tuple[str, datetime]] = ()) -> Any:
    fields: dict[str, Any] = {"created_at": created, "assignee_id": assignee.id if assignee else None,
                              "team_id": team.id if team else None}
    if resolved is not None:
        fields.update(status="resolved", resolved_at=resolved)
    conv = make_conversation(inbox, **fields)
    for kind, when in messages:
        user = assignee.id if kind in ("outgoing", "note") else None
        db.session.add(Message(conversation_id=conv.id, type=kind, content=f"{kind} text", created_at=when,
                               sender_user_id=user, sender_contact_id=conv.contact_id if kind == "incoming" else None))
    db.session.flush()
    reports.recompute_first_response([conv.id])  # messages written by hand, at chosen times
    db.session.commit()
    return conv


@pytest.fixture
def week(app) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Six conversations around the week of 2 March 2026 (US daylight time starts on Sunday 8 March)."""
    from messenger.models import Team

    a, b = make_inbox(name="Alpha"), make_inbox(name="Beta")
    ann, bob = make_user(name="Ann"), make_user(name="Bob")
    team = Team(name="Tier 1")
    db.session.add(team)
    db.session.commit()
    # c0: Monday 03:00 UTC (Sunday evening in New York), never answered.
    _conv(b, at(2, 3, 0), messages=[("incoming", at(2, 3, 0))])
    # c1: answered in 60 s (the note and the activity line before the reply do not count), resolved in 1 h.
    c1 = _conv(a, at(2, 9, 10), assignee=ann, team=team, resolved=at(2, 10, 10), messages=[
        ("incoming", at(2, 9, 10)), ("note", at(2, 9, 10, 30)), ("activity", at(2, 9, 10, 40)),
        ("outgoing", at(2, 9, 11))])
    # c2: two visitor messages, reply 5 min after the first; resolved a day later.
    c2 = _conv(a, at(3, 14, 0), assignee=bob, resolved=at(4, 14, 0), messages=[
        ("incoming", at(3, 14, 0)), ("incoming", at(3, 14, 1)), ("outgoing", at(3, 14, 5))])
    # c3: the operator writes first (proactive); the response counts from the visitor's first message: 120 s.
    _conv(b, at(3, 14, 29), assignee=ann, messages=[
        ("outgoing", at(3, 14, 29)), ("incoming", at(3, 14, 30)), ("outgoing", at(3, 14, 32))])
    # c4: Sunday 23:30 UTC, not answered.
    _conv(b, at(8, 23, 30), messages=[("incoming", at(8, 23, 30))])
    # c5: Monday 00:30 UTC = Sunday 20:30 in New York; answered in 10 min.
    _conv(a, at(9, 0, 30), assignee=bob, messages=[("incoming", at(9, 0, 30)), ("outgoing", at(9, 0, 40))])
    db.session.add_all([
        CsatResponse(conversation_id=c1.id, assignee_id=ann.id, rating=5, comment="Great help",
                     created_at=at(2, 10, 15)),
        CsatResponse(conversation_id=c2.id, assignee_id=bob.id, rating=2, comment="Slow",
                     created_at=at(4, 15, 0))])
    db.session.commit()
    return {"a": a, "b": b, "ann": ann, "bob": bob, "team": team}


def _report(**kw: Any) -> reports.Report:
    return reports.build(reports.make_filter(date(2026, 3, 2), date(2026, 3, 8), kw.pop("tz", "UTC"), **kw))


def test_known_answers_for_the_week_in_utc(week) -> None:  # type: ignore[no-untyped-def]
    r = _report()
    assert (r.opened, r.answered, r.unanswered, r.resolved) == (5, 3, 2, 2)
    assert r.first_response_median_s == 120.0  # of 60, 120, 300
    assert r.first_response_p90_s == 264.0  # 120 + 0.8 × 180
    assert r.resolution_median_s == 45000.0  # of 3600 and 86400
    assert r.resolution_p90_s == 78120.0
    assert (r.csat_count, r.csat_average) == (2, 3.5)
    assert r.csat_distribution == {1: 0, 2: 1, 3: 0, 4: 0, 5: 1}
    assert [c["comment"] for c in r.csat_comments] == ["Slow", "Great help"]
    days = {d.isoformat(): rest for d, *rest in r.daily}
    assert len(days) == 7
    assert days["2026-03-02"] == [2, 1, 2, 1]  # notes and activity lines are not messages
    assert days["2026-03-03"] == [2, 0, 3, 3]
    assert days["2026-03-04"] == [0, 1, 0, 0]
    assert days["2026-03-08"] == [1, 0, 1, 0]
    cells = {(d, h): n for d, row in enumerate(r.heatmap) for h, n in enumerate(row) if n}
    assert cells == {(0, 3): 1, (0, 9): 1, (1, 14): 2, (6, 23): 1}


def test_filters_by_inbox_operator_and_team(week) -> None:  # type: ignore[no-untyped-def]
    alpha = _report(inbox_id=week["a"].id)
    assert (alpha.opened, alpha.first_response_median_s, alpha.resolved) == (2, 180.0, 2)
    ann = _report(user_id=week["ann"].id)
    assert (ann.opened, ann.first_response_median_s) == (2, 90.0)
    assert (ann.csat_count, ann.csat_average, [c["operator"] for c in ann.csat_comments]) == (1, 5.0, ["Ann"])
    team = _report(team_id=week["team"].id)
    assert (team.opened, team.resolved, team.first_response_median_s) == (1, 1, 60.0)


def test_days_start_at_local_midnight_across_daylight_saving(week) -> None:  # type: ignore[no-untyped-def]
    ny = _report(tz="America/New_York")
    # c0 (Sunday 1 March 22:00 local) is out; c5 (Sunday 8 March 20:30 local, after the clock change) is in.
    assert (ny.opened, ny.answered) == (5, 4)
    assert ny.first_response_median_s == 210.0  # of 60, 120, 300, 600
    cells = {(d, h): n for d, row in enumerate(ny.heatmap) for h, n in enumerate(row) if n}
    assert cells == {(0, 4): 1, (1, 9): 2, (6, 19): 1, (6, 20): 1}
    days = {d.isoformat(): rest for d, *rest in ny.daily}
    assert days["2026-03-08"][:1] == [2]
    start, end = ny.scope.bounds()
    assert (start.utcoffset().total_seconds(), end.utcoffset().total_seconds()) == (-5 * 3600, -4 * 3600)


def test_messages_keep_the_first_response_columns_as_the_definition_says(app) -> None:  # type: ignore[no-untyped-def]
    import uuid

    from messenger.models import Conversation
    from messenger.services import messages as msg_service
    from tests.factories import make_visitor

    inbox = make_inbox()
    ann = make_user(name="Ann", inboxes=[inbox])
    visitor, _token = make_visitor(inbox)
    conv_id = msg_service.send_visitor_message(visitor, None, "Hello?", str(uuid.uuid4())).message.conversation_id
    msg_service.send_visitor_message(visitor, conv_id, "Anyone?", str(uuid.uuid4()))
    conv = db.session.get(Conversation, conv_id)
    first_in = conv.first_visitor_message_at
    assert first_in is not None and conv.first_response_at is None
    msg_service.send_operator_message(ann, conv_id, "Internal: checking", str(uuid.uuid4()), private=True)
    assert db.session.get(Conversation, conv_id).first_response_at is None  # a note is no response
    msg_service.send_operator_message(ann, conv_id, "Hi, how can I help?", str(uuid.uuid4()))
    msg_service.send_operator_message(ann, conv_id, "Still there?", str(uuid.uuid4()))
    conv = db.session.get(Conversation, conv_id)
    live = (conv.first_visitor_message_at, conv.first_response_at)
    assert live[0] == first_in and live[1] is not None and live[1] >= first_in
    reports.recompute_first_response([conv_id])  # the same definition, from the messages
    db.session.refresh(conv)
    assert (conv.first_visitor_message_at, conv.first_response_at) == live


def test_bad_scopes_are_refused_naming_the_field(app) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(reports.ValidationError) as bad_zone:
        reports.make_filter(None, None, "Mars/Olympus")
    assert bad_zone.value.details["field"] == "tz"
    with pytest.raises(reports.ValidationError) as reversed_range:
        reports.make_filter(date(2026, 3, 9), date(2026, 3, 2), "UTC")
    assert reversed_range.value.details["field"] == "since"
    with pytest.raises(reports.ValidationError):
        reports.make_filter(date(2024, 1, 1), date(2026, 1, 1), "UTC")
    default = reports.make_filter(None, None, None, today=date(2026, 3, 31))
    assert (default.since, default.until, default.tz) == (date(2026, 3, 2), date(2026, 3, 31), "UTC")


def test_page_shows_figures_definitions_and_charts(app, week) -> None:  # type: ignore[no-untyped-def]
    client, _admin = signed_in(app)
    response = client.get("/admin/reports", query_string=WEEK)
    html = text(response)
    assert response.status_code == 200
    assert re.search(r'data-figure="opened">5<', html)
    assert re.search(r'data-figure="frt-median">2\.0 min<', html)
    assert re.search(r'data-figure="csat-average">3\.50<', html)
    assert "the first operator reply minus the first visitor message" in html
    assert "Private notes and activity lines are excluded" in html
    assert 'data-row="1" data-col="14" data-value="2"' in html  # Tuesday 14:00, two conversations
    assert html.count("<svg") >= 4 and "Great help" in html
    alpha = text(client.get("/admin/reports", query_string={**WEEK, "inbox": str(week["a"].id)}))
    assert re.search(r'data-figure="opened">2<', alpha)


def test_page_refuses_bad_input_next_to_the_field(app) -> None:  # type: ignore[no-untyped-def]
    client, _admin = signed_in(app)
    bad_zone = client.get("/admin/reports", query_string={"tz": "Mars/Olympus"})
    assert bad_zone.status_code == 422 and 'id="tz-error"' in text(bad_zone)
    reversed_range = client.get("/admin/reports", query_string={"since": "2026-03-09", "until": "2026-03-01"})
    assert reversed_range.status_code == 422 and 'id="since-error"' in text(reversed_range)
    unknown_inbox = client.get("/admin/reports", query_string={"inbox": "99999"})
    assert unknown_inbox.status_code == 422 and 'id="inbox-error"' in text(unknown_inbox)
    bad_date = client.get("/admin/reports", query_string={"since": "yesterday"})
    assert bad_date.status_code == 422 and 'id="since-error"' in text(bad_date)
    assert client.get("/admin/reports.csv").status_code == 404
    assert client.get("/admin/reports/passwords.csv").status_code == 404
    assert client.get("/admin/reports/daily.csv", query_string={"tz": "Nowhere/At_all"}).status_code == 422


def _csv(client: Any, table: str, **args: str) -> list[list[str]]:
    response = client.get(f"/admin/reports/{table}.csv", query_string={**WEEK, **args})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(text(response))))


def test_every_table_downloads_as_csv_with_the_page_numbers(app, week) -> None:  # type: ignore[no-untyped-def]
    client, _admin = signed_in(app)
    summary = dict(_csv(client, "summary")[1:])
    assert summary["opened"] == "5" and summary["first_response_median_s"] == "120.0"
    assert summary["resolution_p90_s"] == "78120.0" and summary["csat_average"] == "3.50"
    daily = _csv(client, "daily")
    assert daily[0] == ["day", "opened", "resolved", "visitor_messages", "operator_messages"]
    assert ["2026-03-02", "2", "1", "2", "1"] in daily and len(daily) == 8
    assert _csv(client, "csat")[1:] == [["1", "0"], ["2", "1"], ["3", "0"], ["4", "0"], ["5", "1"]]
    comments = _csv(client, "comments")
    assert [row[5] for row in comments[1:]] == ["Slow", "Great help"]
    heat = _csv(client, "heatmap", tz="America/New_York")
    assert heat[0][:3] == ["weekday", "00", "01"] and heat[7][0] == "Sun"
    assert heat[7][1 + 19] == "1" and heat[7][1 + 20] == "1"
    assert _csv(client, "summary", operator=str(week["ann"].id))[1] == ["opened", "2"]


def test_csv_defuses_spreadsheet_formulas() -> None:
    body = reports.to_csv([["comment"], ['=HYPERLINK("http://evil")'], ["@SUM(A1)"], ["fine"], [-3]])
    assert body.splitlines() == ["comment", "\"'=HYPERLINK(\"\"http://evil\"\")\"", "'@SUM(A1)", "fine", "-3"]


def test_agents_get_403_on_the_page_and_the_downloads(app) -> None:  # type: ignore[no-untyped-def]
    from tests.admin_helpers import client_for

    agent = make_user(role="agent")
    client = client_for(app)
    assert login(client, agent.email, PASSWORD).status_code == 302
    assert client.get("/admin/reports").status_code == 403
    assert client.get("/admin/reports/summary.csv").status_code == 403


def test_svg_helper_escapes_text_and_scales_bars() -> None:
    chart = str(svg.bar_chart(["<b>", "x"], [("s&p", [2, 4])], title="T<script>"))
    assert "<script>" not in chart and "&lt;script&gt;" in chart and "&lt;b&gt;" in chart and "s&amp;p" in chart
    heights = [float(h) for h in re.findall(r'<rect class="bar[^"]*"[^>]*height="([0-9.]+)"', chart)]
    assert heights[1] == pytest.approx(2 * heights[0]) and heights[1] > 0
    grid = str(svg.heatmap([[0, 1], [4, 2]], ["Mon", "Tue"], ["00", "01"], title="H"))
    assert 'data-row="1" data-col="0" data-value="4"' in grid
    assert re.search(r'data-value="4"[^>]*fill-opacity="1.00"', grid)
    assert re.search(r'data-value="0"[^>]*fill-opacity="0.00"', grid)


@pytest.mark.committing
@pytest.mark.browser
def test_reports_page_in_chromium_en_and_ru(live_server, browser, artifacts, week) -> None:  # type: ignore[no-untyped-def]
    admin = make_user(role="admin", name="Olga Owner")
    context, page, errors = chromium_admin(browser, live_server.url, admin.email)
    try:
        page.click("a[href='/admin/reports']")
        page.fill("#since", "2026-03-02")
        page.fill("#until", "2026-03-08")
        page.click("form.filters button[type=submit]")
        page.wait_for_selector("[data-figure=opened]")
        assert page.inner_text("[data-figure=opened]") == "5"
        assert page.locator("svg.chart").count() == 4
        page.screenshot(path=str(artifacts / "admin-reports-en.png"), full_page=True)
        with page.expect_download() as download:
            page.click("#daily a.csv")
        assert "2026-03-02,2,1,2,1" in open(download.value.path(), encoding="utf-8").read()
        page.click(".abar-lang button[value=ru]")
        page.wait_for_selector(".abar-lang button.active[value=ru]")
        assert "Время первого ответа" in page.content() and page.inner_text("[data-figure=opened]") == "5"
        page.screenshot(path=str(artifacts / "admin-reports-ru.png"), full_page=True)
    finally:
        context.close()
    assert errors == []
