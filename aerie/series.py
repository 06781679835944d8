"""Time-series reads, shared by the web app and the app servers.

A counter point is the sum of the counts in its interval (0 where none); a
value point is the mean of the values in its interval (None where none).
Reads use the coarsest rollup whose resolution divides the interval.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table, and_, case, func, or_, select

from aerie.schema import COUNTER, DAY, HOUR, ROLLUPS, stat_hours, stat_minutes, stats
from aerie.stats import STAT_COLUMNS, Stat, live_stats, stat_from_row
from aerie.timeframes import Timeframe


@dataclass(frozen=True)
class Point:
    time: int  # unix seconds at the start of the interval
    value: float | None
    rcount: int  # raw points received in the interval


@dataclass(frozen=True)
class Series:
    stat: Stat
    timeframe: Timeframe
    points: list[Point]
    end: int  # where the last interval ends (a local day may be 23 or 25 hours long)


def first_data_time(conn: Connection, stat: Stat) -> int | None:
    """When the stat's oldest point still kept by the minute is (the start of its minute;
    None: none). Minutes are kept for weeks: enough to judge a young stat's first view."""
    return conn.execute(
        select(func.min(stat_minutes.c.bucket)).where(stat_minutes.c.stat_id == stat.id)
    ).scalar_one_or_none()


def stats_by_latest_value(
    conn: Connection, user_id: int, hours: tuple[int, int], offset: int, limit: int,
    search: str = "", tag: str = "",
) -> list[Stat]:
    """The user's live stats (as ``stats.stats_of_user`` filters them) by the value of their
    last hour with data among ``hours`` (first, end), largest first, those with none last,
    then by name: one query reading one hour row a stat, so a list of thousands sorts whole.
    The value is what ``read_series`` gives that hour (a counter's sum, else the mean)."""
    first, end = hours
    last_hour = (
        select(stat_hours.c.stat_id, func.max(stat_hours.c.bucket).label("bucket"))
        .where(stat_hours.c.stat_id.in_(live_stats(user_id, search, tag)),
               stat_hours.c.bucket >= first, stat_hours.c.bucket < end, stat_hours.c.n > 0)
        .group_by(stat_hours.c.stat_id).subquery()
    )
    hour = stat_hours.alias("last_hour")
    latest = case((stats.c.kind == COUNTER, hour.c.sum), else_=hour.c.sum / hour.c.n)
    query = (
        live_stats(user_id, search, tag).with_only_columns(*STAT_COLUMNS)
        .outerjoin(last_hour, last_hour.c.stat_id == stats.c.id)
        .outerjoin(hour, and_(hour.c.stat_id == last_hour.c.stat_id,
                              hour.c.bucket == last_hour.c.bucket))
        .order_by(latest.is_(None), latest.desc(), stats.c.name, stats.c.id)
        .offset(offset).limit(limit)
    )
    return [stat_from_row(row) for row in conn.execute(query)]


def rollup_for(interval: int) -> tuple[int, Table]:
    """The coarsest (resolution, table) whose resolution divides ``interval``."""
    for resolution, table in reversed(ROLLUPS):
        if interval % resolution == 0:
            return resolution, table
    return ROLLUPS[0]


def frame_bounds(
    timeframe: Timeframe, start: int | None, now: int, timezone: str = "UTC"
) -> tuple[int, int]:
    """``(first, end)`` of the frame in unix seconds, aligned to the interval grid.

    Intervals that divide a day align to multiples of themselves; longer ones
    to UTC days; any other (5h, 90m) to the resolution of the rollup it reads,
    so that no rollup row straddles two intervals. Whole-day intervals in a zone
    other than UTC start at local midnights. Without ``start`` the last interval
    is the one holding ``now``.
    """
    if _in_local_days(timeframe, timezone):
        bounds = local_day_bounds(timeframe, start, now, timezone)
        return bounds[0], bounds[-1]
    interval = timeframe.interval
    if DAY % interval == 0:
        align = interval
    elif interval % DAY == 0:
        align = DAY
    else:
        align = rollup_for(interval)[0]
    span = timeframe.points * interval
    if start is None:
        end = now - now % align + align
        return end - span, end
    first = start - start % align
    return first, first + span


def previous_start(
    timeframe: Timeframe, start: int | None, now: int, timezone: str = "UTC"
) -> int:
    """The start of the period just before the frame: same timeframe, ending where it begins.

    Local days step back by calendar days, so a 25-hour day in the frame does not
    shift the previous period's start to 23:00 the day before.
    """
    first, end = frame_bounds(timeframe, start, now, timezone)
    if not _in_local_days(timeframe, timezone):
        return first - (end - first)
    zone = ZoneInfo(timezone)
    days = timeframe.interval // DAY * timeframe.points
    day = datetime.fromtimestamp(first, zone).date() - timedelta(days=days)
    return int(datetime.combine(day, dtime(0), zone).timestamp())


def _in_local_days(timeframe: Timeframe, timezone: str) -> bool:
    return timeframe.interval % DAY == 0 and timezone != "UTC"


def local_day_bounds(
    timeframe: Timeframe, start: int | None, now: int, timezone: str
) -> list[int]:
    """The ``points + 1`` boundaries of a whole-day-interval frame at local midnights.

    Local days are 23 or 25 hours long across daylight-saving changes, so the
    boundaries are computed from calendar dates, not by adding seconds. Without
    ``start`` the last interval ends at the midnight after the day holding ``now``.
    """
    zone = ZoneInfo(timezone)
    days = timeframe.interval // DAY
    if start is None:
        last = datetime.fromtimestamp(now, zone).date() + timedelta(days=1)
        first = last - timedelta(days=days * timeframe.points)
    else:
        first = datetime.fromtimestamp(start, zone).date()
    dates = [first + timedelta(days=days * i) for i in range(timeframe.points + 1)]
    return [int(datetime.combine(d, dtime(0), zone).timestamp()) for d in dates]


def read_series(
    conn: Connection, stat: Stat, timeframe: Timeframe, now: int, start: int | None = None,
    timezone: str = "UTC",
) -> Series:
    """The stat's points over the frame; whole-day intervals follow ``timezone``'s days.

    Local days are read from the hour rollup, except the hours a local midnight cuts
    (India, Nepal, Newfoundland: midnight is not on a UTC hour), which are read from
    their minutes while the minutes are kept, so each day holds exactly its own data.
    """
    if _in_local_days(timeframe, timezone):
        bounds = local_day_bounds(timeframe, start, now, timezone)
        table = stat_hours
    else:
        first, end = frame_bounds(timeframe, start, now)
        bounds = list(range(first, end + 1, timeframe.interval))
        table = rollup_for(timeframe.interval)[1]
    rows: list[Row] = [tuple(row) for row in conn.execute(
        select(table.c.bucket, table.c.n, table.c.sum)
        .where(table.c.stat_id == stat.id, table.c.bucket >= bounds[0], table.c.bucket < bounds[-1])
    )]
    if table is stat_hours:
        rows = _cut_hours(conn, stat, rows, {b - b % HOUR for b in bounds if b % HOUR})
    count = len(bounds) - 1
    n = [0] * count
    total = [0.0] * count
    for bucket, rows_n, rows_sum in rows:
        i = bisect_right(bounds, bucket) - 1
        if 0 <= i < count:
            n[i] += rows_n
            total[i] += rows_sum
    points = []
    for i in range(count):
        if stat.counter:
            value: float | None = total[i]
        else:
            value = total[i] / n[i] if n[i] else None
        points.append(Point(bounds[i], value, n[i]))
    return Series(stat, timeframe, points, bounds[-1])


Row = tuple[int, int, float]  # bucket, n, sum


def _cut_hours(conn: Connection, stat: Stat, rows: list[Row], cut: set[int]) -> list[Row]:
    """``rows`` with each hour in ``cut`` replaced by its minute rows, when its minutes
    are all still kept (their counts add up to the hour's; else the hour stays whole).

    The hour before the first bound is read too: its later minutes belong to the frame.
    """
    if not cut:
        return rows
    minutes: dict[int, list[Row]] = {}
    for hours in _chunks(sorted(cut), 200):
        query = select(stat_minutes.c.bucket, stat_minutes.c.n, stat_minutes.c.sum).where(
            stat_minutes.c.stat_id == stat.id,
            or_(*(stat_minutes.c.bucket.between(h, h + HOUR - 1) for h in hours)),
        )
        for bucket, n, total in conn.execute(query):
            minutes.setdefault(bucket - bucket % HOUR, []).append((bucket, n, total))
    hour_n = {bucket: n for bucket, n, _ in rows}
    # An hour starting before the frame is not among ``rows``: take its minutes as they are.
    whole = {h for h in cut if h in hour_n and sum(m[1] for m in minutes.get(h, [])) == hour_n[h]}
    whole |= {h for h in cut if h not in hour_n}
    kept = [row for row in rows if row[0] not in whole]
    return kept + [m for h in whole for m in minutes.get(h, [])]


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i:i + size] for i in range(0, len(items), size)]
