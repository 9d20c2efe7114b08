"""Reports: volumes, response and resolution times, messages per day, CSAT, busiest hours.

Every figure is computed for one date range in one time zone (days start at local
midnight) and optionally one inbox, operator (the conversation's assignee) and team.
Definitions (the reports page prints the same text):

- **opened**: conversations created in the range; **resolved**: conversations whose
  ``resolved_at`` is in the range (a reopened one counts again when resolved again).
- **first response time**, for conversations opened in the range: the first operator
  reply (an ``outgoing`` message) minus the first visitor message (``incoming``) before
  it. Notes and activity lines are not messages to the visitor and never count;
  conversations without a reply are left out (and counted as "not answered").
- **resolution time**, for conversations resolved in the range: ``resolved_at`` minus
  the conversation's creation.
- **messages per day**: visitor and operator messages (notes and activity excluded) sent
  in the range, by local day.
- **CSAT**: ratings given in the range (operator filter = the operator who was rated).
- **busiest hours**: conversations opened, by local weekday (Monday first) and hour.

First response reads two columns of the conversation kept by ``services/messages.py``:
``first_visitor_message_at`` (set by the first visitor message) and ``first_response_at``
(the first operator reply after it); ``recompute_first_response`` derives both from the
messages (migration 0011 filled existing conversations with the same SQL). Speed is
measured by ``bench/reports.py`` on the 100,000-conversation bench dataset.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

import sqlalchemy as sa

from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.i18n import N_

MAX_DAYS = 366
LATEST_COMMENTS = 10


@dataclass(frozen=True)
class ReportFilter:
    """One report's scope: local days ``since``..``until`` (both included) in ``tz``."""

    since: date
    until: date
    tz: str = "UTC"
    inbox_id: int | None = None
    user_id: int | None = None
    team_id: int | None = None

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def bounds(self) -> tuple[datetime, datetime]:
        """[start, end) as aware datetimes: local midnight of ``since`` to local midnight after ``until``."""
        zone = self.zone()
        return (datetime.combine(self.since, time.min, tzinfo=zone),
                datetime.combine(self.until + timedelta(days=1), time.min, tzinfo=zone))

    def days(self) -> list[date]:
        return [self.since + timedelta(days=n) for n in range((self.until - self.since).days + 1)]


def make_filter(since: date | None, until: date | None, tz: str | None, *, today: date | None = None,
                inbox_id: int | None = None, user_id: int | None = None,
                team_id: int | None = None) -> ReportFilter:
    """Check a requested scope: a known IANA zone, since ≤ until, at most a year; default the last 30 days."""
    tz = (tz or "UTC").strip()
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(N_("Unknown time zone."), field="tz") from exc
    if today is None:
        today = datetime.now(zone).date()
    until = until or today
    since = since or until - timedelta(days=29)
    if since > until:
        raise ValidationError(N_("The start date is after the end date."), field="since")
    if (until - since).days + 1 > MAX_DAYS:
        raise ValidationError(N_("At most 366 days in one report."), field="since")
    return ReportFilter(since, until, tz, inbox_id, user_id, team_id)


@dataclass
class Report:
    scope: ReportFilter
    opened: int = 0
    resolved: int = 0
    answered: int = 0
    unanswered: int = 0
    first_response_median_s: float | None = None
    first_response_p90_s: float | None = None
    resolution_median_s: float | None = None
    resolution_p90_s: float | None = None
    # per local day: (day, opened, resolved, visitor messages, operator messages)
    daily: list[tuple[date, int, int, int, int]] = field(default_factory=list)
    csat_count: int = 0
    csat_average: float | None = None
    csat_distribution: dict[int, int] = field(default_factory=dict)
    csat_comments: list[dict[str, Any]] = field(default_factory=list)
    heatmap: list[list[int]] = field(default_factory=list)  # [weekday 0=Mon][hour]


def _conv_where(flt: ReportFilter, alias: str = "c") -> str:
    """The conversation filters as SQL (fixed fragments; values are bound parameters)."""
    parts = []
    if flt.inbox_id is not None:
        parts.append(f"{alias}.inbox_id = :inbox_id")
    if flt.user_id is not None:
        parts.append(f"{alias}.assignee_id = :user_id")
    if flt.team_id is not None:
        parts.append(f"{alias}.team_id = :team_id")
    return "".join(" AND " + p for p in parts)


def _params(flt: ReportFilter) -> dict[str, Any]:
    start, end = flt.bounds()
    return {"start": start, "end": end, "tz": flt.tz, "inbox_id": flt.inbox_id, "user_id": flt.user_id,
            "team_id": flt.team_id}


def _rows(sql: str, params: dict[str, Any]) -> list[Any]:
    return list(db.session.execute(sa.text(sql), params).all())


def _volumes_and_times(report: Report, flt: ReportFilter, params: dict[str, Any]) -> None:
    where = _conv_where(flt)
    first = _rows(f"""
        SELECT count(*), count(c.first_response_at),
               count(c.first_visitor_message_at) - count(c.first_response_at),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM c.first_response_at
                                                                        - c.first_visitor_message_at)),
               percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM c.first_response_at
                                                                        - c.first_visitor_message_at))
        FROM conversations c WHERE c.created_at >= :start AND c.created_at < :end{where}""", params)[0]
    report.opened, report.answered, report.unanswered = int(first[0]), int(first[1]), int(first[2])
    report.first_response_median_s, report.first_response_p90_s = _num(first[3]), _num(first[4])
    resolution = _rows(f"""
        SELECT count(*),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM c.resolved_at - c.created_at)),
               percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM c.resolved_at - c.created_at))
        FROM conversations c WHERE c.resolved_at >= :start AND c.resolved_at < :end{where}""", params)[0]
    report.resolved = int(resolution[0])
    report.resolution_median_s, report.resolution_p90_s = _num(resolution[1]), _num(resolution[2])


def _num(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


def _daily(report: Report, flt: ReportFilter, params: dict[str, Any]) -> None:
    where = _conv_where(flt)
    days: dict[date, list[int]] = {d: [0, 0, 0, 0] for d in flt.days()}
    opened = _rows(f"""SELECT (c.created_at AT TIME ZONE :tz)::date, count(*) FROM conversations c
                      WHERE c.created_at >= :start AND c.created_at < :end{where} GROUP BY 1""", params)
    resolved = _rows(f"""SELECT (c.resolved_at AT TIME ZONE :tz)::date, count(*) FROM conversations c
                        WHERE c.resolved_at >= :start AND c.resolved_at < :end{where} GROUP BY 1""", params)
    # Without a conversation filter the messages are counted alone (no join to conversations).
    join = " JOIN conversations c ON c.id = m.conversation_id" if where else ""
    messages = _rows(f"""
        SELECT (m.created_at AT TIME ZONE :tz)::date,
               count(*) FILTER (WHERE m.type = 'incoming'), count(*) FILTER (WHERE m.type = 'outgoing')
        FROM messages m{join}
        WHERE m.created_at >= :start AND m.created_at < :end AND m.type IN ('incoming', 'outgoing'){where}
        GROUP BY 1""", params)
    for day, n in opened:
        days[day][0] = int(n)
    for day, n in resolved:
        days[day][1] = int(n)
    for day, incoming, outgoing in messages:
        days[day][2], days[day][3] = int(incoming), int(outgoing)
    report.daily = [(d, *values) for d, values in sorted(days.items())]  # type: ignore[misc]


def _csat(report: Report, flt: ReportFilter, params: dict[str, Any]) -> None:
    where = _conv_where(flt).replace("c.assignee_id", "r.assignee_id")
    join = "FROM csat_responses r JOIN conversations c ON c.id = r.conversation_id"
    scope = f"WHERE r.created_at >= :start AND r.created_at < :end{where}"
    dist = _rows(f"SELECT r.rating, count(*) {join} {scope} GROUP BY 1", params)
    report.csat_distribution = {n: 0 for n in range(1, 6)}
    for rating, n in dist:
        report.csat_distribution[int(rating)] = int(n)
    report.csat_count = sum(report.csat_distribution.values())
    if report.csat_count:
        total = sum(r * n for r, n in report.csat_distribution.items())
        report.csat_average = round(total / report.csat_count, 2)
    comments = _rows(f"""
        SELECT r.created_at, r.rating, r.comment, c.id, c.display_id, i.name, u.name
        {join} JOIN inboxes i ON i.id = c.inbox_id LEFT JOIN users u ON u.id = r.assignee_id
        {scope} AND r.comment <> '' ORDER BY r.created_at DESC, r.id DESC LIMIT {LATEST_COMMENTS}""", params)
    report.csat_comments = [
        {"at": at.astimezone(flt.zone()), "rating": int(rating), "comment": comment, "conversation_id": cid,
         "display_id": display_id, "inbox": inbox, "operator": operator}
        for at, rating, comment, cid, display_id, inbox, operator in comments]


def _heatmap(report: Report, flt: ReportFilter, params: dict[str, Any]) -> None:
    cells = _rows(f"""
        SELECT extract(isodow FROM c.created_at AT TIME ZONE :tz)::int,
               extract(hour FROM c.created_at AT TIME ZONE :tz)::int, count(*)
        FROM conversations c WHERE c.created_at >= :start AND c.created_at < :end{_conv_where(flt)}
        GROUP BY 1, 2""", params)
    report.heatmap = [[0] * 24 for _ in range(7)]
    for isodow, hour, n in cells:
        report.heatmap[isodow - 1][hour] = int(n)


RECOMPUTE = """
UPDATE conversations c SET first_visitor_message_at = f.first_in, first_response_at = f.first_out
FROM (SELECT c2.id, fi.at AS first_in,
             (SELECT min(m.created_at) FROM messages m
              WHERE m.conversation_id = c2.id AND m.type = 'outgoing' AND m.created_at >= fi.at) AS first_out
      FROM conversations c2
      CROSS JOIN LATERAL (SELECT min(m.created_at) AS at FROM messages m
                          WHERE m.conversation_id = c2.id AND m.type = 'incoming') fi
      WHERE c2.id = ANY(CAST(:ids AS int[]))) f
WHERE c.id = f.id"""


def recompute_first_response(conversation_ids: list[int]) -> None:
    """Derive the first-response columns of these conversations from their messages (for imported data)."""
    db.session.execute(sa.text(RECOMPUTE), {"ids": conversation_ids})


def build(flt: ReportFilter) -> Report:
    """Every figure of the reports page for ``flt``."""
    report = Report(flt)
    params = _params(flt)
    _volumes_and_times(report, flt, params)
    _daily(report, flt, params)
    _csat(report, flt, params)
    _heatmap(report, flt, params)
    return report


# ---- CSV ------------------------------------------------------------------------------

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TABLES = ("summary", "daily", "csat", "comments", "heatmap")


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def table_rows(report: Report, table: str) -> list[list[Any]]:
    """One table of the report as rows, header first (what the CSV download holds)."""
    if table == "summary":
        return [["figure", "value"],
                ["opened", report.opened], ["resolved", report.resolved],
                ["answered", report.answered], ["not_answered", report.unanswered],
                ["first_response_median_s", _seconds(report.first_response_median_s)],
                ["first_response_p90_s", _seconds(report.first_response_p90_s)],
                ["resolution_median_s", _seconds(report.resolution_median_s)],
                ["resolution_p90_s", _seconds(report.resolution_p90_s)],
                ["csat_count", report.csat_count],
                ["csat_average", "" if report.csat_average is None else f"{report.csat_average:.2f}"]]
    if table == "daily":
        return [["day", "opened", "resolved", "visitor_messages", "operator_messages"]] + [
            [d.isoformat(), *rest] for d, *rest in report.daily]
    if table == "csat":
        return [["rating", "count"]] + [[r, n] for r, n in sorted(report.csat_distribution.items())]
    if table == "comments":
        return [["at", "rating", "inbox", "conversation", "operator", "comment"]] + [
            [c["at"].isoformat(), c["rating"], c["inbox"], c["display_id"], c["operator"] or "", c["comment"]]
            for c in report.csat_comments]
    if table == "heatmap":
        return [["weekday"] + [f"{h:02d}" for h in range(24)]] + [
            [WEEKDAYS[d]] + report.heatmap[d] for d in range(7)]
    raise ValidationError("Unknown table.", field="table")


def _cell(value: Any) -> Any:
    """Defuse spreadsheet formulas in user text (=, +, -, @ at the start)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()
