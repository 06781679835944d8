"""Time-series reads, shared by the web app and the app servers.

A counter point is the sum of the counts in its interval (0 where none); a
value point is the mean of the values in its interval (None where none).
Reads use the coarsest rollup whose resolution divides the interval.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Table, select

from aerie.schema import DAY, ROLLUPS
from aerie.stats import Stat
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


def rollup_for(interval: int) -> tuple[int, Table]:
    """The coarsest (resolution, table) whose resolution divides ``interval``."""
    for resolution, table in reversed(ROLLUPS):
        if interval % resolution == 0:
            return resolution, table
    return ROLLUPS[0]


def frame_bounds(timeframe: Timeframe, start: int | None, now: int) -> tuple[int, int]:
    """``(first, end)`` of the frame in unix seconds, aligned to the interval grid.

    Intervals that divide a day align to multiples of themselves; longer ones
    to UTC days; any other (5h, 90m) to the resolution of the rollup it reads,
    so that no rollup row straddles two intervals. Without ``start`` the last
    interval is the one holding ``now``.
    """
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


def read_series(
    conn: Connection, stat: Stat, timeframe: Timeframe, now: int, start: int | None = None
) -> Series:
    first, end = frame_bounds(timeframe, start, now)
    _resolution, table = rollup_for(timeframe.interval)
    rows = conn.execute(
        select(table.c.bucket, table.c.n, table.c.sum)
        .where(table.c.stat_id == stat.id, table.c.bucket >= first, table.c.bucket < end)
    )
    count = timeframe.points
    n = [0] * count
    total = [0.0] * count
    for bucket, rows_n, rows_sum in rows:
        i = (bucket - first) // timeframe.interval
        n[i] += rows_n
        total[i] += rows_sum
    points = []
    for i in range(count):
        if stat.counter:
            value: float | None = total[i]
        else:
            value = total[i] / n[i] if n[i] else None
        points.append(Point(first + i * timeframe.interval, value, n[i]))
    return Series(stat, timeframe, points)
