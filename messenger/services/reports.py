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
- **messages per day**: visitor and operator messages (notes, activity lines and deleted
  messages excluded) sent in the range, by local day.
- **CSAT**: ratings given in the range (operator filter = the operator who was rated).
- **busiest hours**: conversations opened, by local weekday (Monday first) and hour.

First response reads two columns of the conversation kept by ``services/messages.py``:
``first_visitor_message_at`` (set by the first visitor message) and ``first_response_at``
(the first operator reply after it); ``recompute_first_response`` derives both from the
messages (migration 0011 filled existing conversations with the same SQL).

Opened, resolved and messages per local day and the busiest hours read ``report_counts``
(migration 0014), a rollup per UTC hour × inbox × assignee × team that triggers keep exact
in the transaction that writes a message or a conversation; ``rebuild_report_counts``
recounts it (``flask messenger report-counts``); pre-summed levels (migration 0016) let a report
with no filter or one filter read one row per hour. Like every figure here, a message counts for
its conversation's *current* inbox, assignee and team: a transferred conversation takes its
messages along. Response and resolution percentiles are exact, so they read each
conversation in range, from covering indexes. Speed is measured by ``bench/reports.py`` on
the 100,000-conversation / 1,000,000-message bench dataset.
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

from messenger.db import transaction
from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.i18n import N_
from messenger.models import REPORT_COUNT_COLUMNS
from messenger.models import REPORT_COUNT_KINDS
from messenger.models import REPORT_LEVEL_KEYS

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


def _times(report: Report, flt: ReportFilter, params: dict[str, Any]) -> None:
    """First response and resolution times: exact percentiles, so one pass over the conversations
    in range each, read from covering indexes (``date_part`` keeps the arithmetic in float8)."""
    where = _conv_where(flt)
    first = _rows(f"""
        SELECT count(*), count(c.first_response_at), count(c.first_visitor_message_at) - count(c.first_response_at),
               percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (
                   ORDER BY date_part('epoch', c.first_response_at - c.first_visitor_message_at))
        FROM conversations c WHERE c.created_at >= :start AND c.created_at < :end{where}""", params)[0]
    report.opened, report.answered, report.unanswered = int(first[0]), int(first[1]), int(first[2])
    report.first_response_median_s, report.first_response_p90_s = _pair(first[3])
    resolution = _rows(f"""
        SELECT count(*),
               percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY date_part('epoch', c.resolved_at - c.created_at))
        FROM conversations c WHERE c.resolved_at >= :start AND c.resolved_at < :end{where}""", params)[0]
    report.resolved = int(resolution[0])
    report.resolution_median_s, report.resolution_p90_s = _pair(resolution[1])


def _pair(values: list[float | None] | None) -> tuple[float | None, float | None]:
    return (None, None) if values is None else (_num(values[0]), _num(values[1]))


def _num(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


# The hourly rollup (migration 0014), summed per UTC hour over the keys in scope; Python places
# each quarter of an hour on the local day and hour it starts in (zones at +5:30 or +5:45 split
# an hour exactly), which costs far less than converting in SQL.
PER_HOUR = """
    SELECT rc.hour, """ + ", ".join(f"sum(rc.{col})::int" for col in REPORT_COUNT_COLUMNS) + """
    FROM (SELECT * FROM report_counts UNION ALL SELECT * FROM report_count_deltas) rc
    WHERE rc.hour >= date_trunc('hour', CAST(:start AS timestamptz), 'UTC') AND rc.hour < :end{where}
    GROUP BY rc.hour"""
_QUARTERS = tuple(timedelta(minutes=m) for m in (0, 15, 30, 45))


def _level_where(flt: ReportFilter) -> str:
    """The pre-summed level that answers these filters (one row per hour), else the full keys."""
    used = tuple(col for col, value in (("inbox_id", flt.inbox_id), ("assignee_id", flt.user_id),
                                        ("team_id", flt.team_id)) if value is not None)
    level = next((n for n, keys in REPORT_LEVEL_KEYS.items() if keys == used), 0)
    return f" AND rc.level = {level}" + _conv_where(flt, "rc")
_KIND_AT = {kind: n for n, kind in enumerate(REPORT_COUNT_KINDS)}  # kind's block of four columns


def _per_day_and_hour(report: Report, flt: ReportFilter, params: dict[str, Any]) -> None:
    """The per-day table (opened, resolved, visitor, operator messages) and the heat map (opened),
    from the hourly counts: one statement, no message rows."""
    zone, (start, end) = flt.zone(), flt.bounds()
    days: dict[date, list[int]] = {d: [0, 0, 0, 0] for d in flt.days()}
    report.heatmap = [[0] * 24 for _ in range(7)]
    order = [_KIND_AT[k] for k in ("opened", "resolved", "incoming", "outgoing")]  # the table's columns
    for hour, *counts in _rows(PER_HOUR.format(where=_level_where(flt)), params):
        for q, offset in enumerate(_QUARTERS):
            values = [counts[kind * 4 + q] for kind in order]
            if not any(values):
                continue
            at = hour + offset
            if not start <= at < end:
                continue
            local = at.astimezone(zone)
            row = days[local.date()]
            for n, value in enumerate(values):
                row[n] += value
            report.heatmap[local.weekday()][local.hour] += values[0]
    report.daily = [(d, *values) for d, values in sorted(days.items())]  # type: ignore[misc]


def _csat(report: Report, flt: ReportFilter, params: dict[str, Any]) -> None:
    where = _conv_where(flt).replace("c.assignee_id", "r.assignee_id")
    # The conversation is joined only when an inbox or team filter needs it.
    join = "FROM csat_responses r"
    if flt.inbox_id is not None or flt.team_id is not None:
        join += " JOIN conversations c ON c.id = r.conversation_id"
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
        FROM csat_responses r JOIN conversations c ON c.id = r.conversation_id
        JOIN inboxes i ON i.id = c.inbox_id LEFT JOIN users u ON u.id = r.assignee_id
        {scope} AND r.comment <> '' ORDER BY r.created_at DESC, r.id DESC LIMIT {LATEST_COMMENTS}""", params)
    report.csat_comments = [
        {"at": at.astimezone(flt.zone()), "rating": int(rating), "comment": comment, "conversation_id": cid,
         "display_id": display_id, "inbox": inbox, "operator": operator}
        for at, rating, comment, cid, display_id, inbox, operator in comments]


_DRIFT = """
    WITH stored AS (SELECT hour, inbox_id, assignee_id, team_id, """ + ", ".join(
    f"sum({c})::int" for c in REPORT_COUNT_COLUMNS) + """, level
                    FROM (SELECT * FROM report_counts UNION ALL SELECT * FROM report_count_deltas) t
                    GROUP BY 1, 2, 3, 4, level
                    HAVING """ + " OR ".join(f"sum({c}) <> 0" for c in REPORT_COUNT_COLUMNS) + """)
    SELECT count(DISTINCT (d.level, d.hour, d.inbox_id, d.assignee_id, d.team_id)) FROM (
        (SELECT * FROM stored EXCEPT ALL SELECT * FROM report_counts_recount)
        UNION ALL
        (SELECT * FROM report_counts_recount EXCEPT ALL SELECT * FROM stored)) d"""


def report_count_drift() -> int:
    """Keys (hour, inbox, assignee, team) whose counts differ from a recount (0 when exact)."""
    return int(db.session.scalar(sa.text(_DRIFT)) or 0)


def rebuild_report_counts() -> int:
    """Recount ``report_counts`` from messages and conversations (after writes with triggers off);
    returns its rows. Runs in the caller's transaction and holds the deltas table exclusively
    until it commits: message and conversation writes wait instead of being counted twice or missed."""
    return int(db.session.scalar(sa.text("SELECT messenger_report_counts_rebuild()")) or 0)


def compact_report_counts() -> int:
    """Fold the triggers' deltas into ``report_counts`` (keys written; 0 when another worker holds the lock)."""
    with transaction():
        return int(db.session.scalar(sa.text("SELECT messenger_report_counts_compact()")) or 0)


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
    _times(report, flt, params)
    _per_day_and_hour(report, flt, params)
    _csat(report, flt, params)
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
