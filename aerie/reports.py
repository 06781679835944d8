"""Daily reports: yesterday in the user's own days, against the day before and a week before.

A local day runs from one local midnight to the next, so it is 23 or 25 hours
long across a daylight-saving change, and in zones such as India or Nepal it
starts on a half or three-quarter hour. Sums are therefore read from the
minute rollups (kept 30 days by default, enough for a week back), which are
exact for any zone. A report is due once its hour has come in the user's zone,
and ``report_sent_for`` records the local date reported so a day is sent once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, delete, func, insert, select, update

from aerie.errors import BadRequest
from aerie.numbers import percent_change
from aerie.schema import report_stats, stat_minutes, users
from aerie.stats import Stat, live_stats_by_ids

MAX_REPORT_STATS = 20


@dataclass(frozen=True)
class DayFigure:
    """One stat's figure for a local day: a counter's total or a value stat's mean."""

    stat: Stat
    day: date
    value: float | None
    day_before: float | None
    week_before: float | None

    @property
    def change_day(self) -> float | None:
        return percent_change(self.value, self.day_before)

    @property
    def change_week(self) -> float | None:
        return percent_change(self.value, self.week_before)


@dataclass(frozen=True)
class ReportSettings:
    hour: int | None  # local hour the report arrives; None: no report
    stats: list[Stat]


def local_midnight(day: date, timezone: str) -> int:
    """Unix seconds of the local midnight starting ``day`` (zoneinfo folds a DST gap forward)."""
    return int(datetime.combine(day, dtime(0), ZoneInfo(timezone)).timestamp())


def day_value(conn: Connection, stat: Stat, day: date, timezone: str) -> float | None:
    """The stat over one local day, from minute rollups: exact in every zone."""
    first = local_midnight(day, timezone)
    end = local_midnight(day + timedelta(days=1), timezone)
    n, total = conn.execute(
        select(func.coalesce(func.sum(stat_minutes.c.n), 0),
               func.coalesce(func.sum(stat_minutes.c.sum), 0.0))
        .where(stat_minutes.c.stat_id == stat.id, stat_minutes.c.bucket >= first,
               stat_minutes.c.bucket < end)
    ).one()
    if stat.counter:
        return float(total)
    return float(total) / int(n) if n else None


def day_figure(conn: Connection, stat: Stat, day: date, timezone: str) -> DayFigure:
    return DayFigure(stat, day, day_value(conn, stat, day, timezone),
                     day_value(conn, stat, day - timedelta(days=1), timezone),
                     day_value(conn, stat, day - timedelta(days=7), timezone))


def due_day(hour: int | None, sent_for: str | None, timezone: str, now: int) -> date | None:
    """The local day to report (yesterday) if the report's hour has come today and today's
    report has not been sent; None otherwise."""
    if hour is None:
        return None
    local = datetime.fromtimestamp(now, ZoneInfo(timezone))
    if local.hour < hour or sent_for == local.date().isoformat():
        return None
    return local.date() - timedelta(days=1)


def report_settings(conn: Connection, user_id: int) -> ReportSettings:
    hour = conn.execute(select(users.c.report_hour).where(users.c.id == user_id)).scalar()
    chosen = conn.execute(select(report_stats.c.stat_id)
                          .where(report_stats.c.user_id == user_id)).scalars()
    return ReportSettings(hour, live_stats_by_ids(conn, user_id, chosen))


def save_report_settings(conn: Connection, user_id: int, hour: int | None,
                         stat_ids: list[int]) -> None:
    """The report's hour and stats; the caller checked the stats are the user's."""
    if hour is not None and not 0 <= hour <= 23:
        raise BadRequest(f"the report hour is 0 to 23, not {hour}")
    if len(stat_ids) > MAX_REPORT_STATS:
        raise BadRequest(f"a report holds up to {MAX_REPORT_STATS} stats; you chose {len(stat_ids)}")
    conn.execute(update(users).where(users.c.id == user_id).values(report_hour=hour))
    conn.execute(delete(report_stats).where(report_stats.c.user_id == user_id))
    if stat_ids:
        conn.execute(insert(report_stats), [{"user_id": user_id, "stat_id": s} for s in stat_ids])


def users_with_reports(conn: Connection) -> list[tuple[int, int, str | None, str]]:
    """``(user_id, hour, sent_for, timezone)`` of every user with a report hour and a
    confirmed address: an unconfirmed one gets no report, so its figures are not drawn."""
    rows = conn.execute(select(users.c.id, users.c.report_hour, users.c.report_sent_for,
                               users.c.timezone)
                        .where(users.c.report_hour.is_not(None),
                               users.c.email_verified_at.is_not(None)))
    return [tuple(r) for r in rows]


def mark_report_sent(conn: Connection, user_id: int, today: date) -> None:
    conn.execute(update(users).where(users.c.id == user_id)
                 .values(report_sent_for=today.isoformat()))
