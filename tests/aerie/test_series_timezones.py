"""Whole-day points follow the viewer's local days, across daylight-saving changes."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from aerie.series import frame_bounds, previous_start, read_series
from aerie.timeframes import parse_timeframe
from tests.conftest import Account, make_stat, put_points

NEW_YORK = ZoneInfo("America/New_York")


def local(*when: int) -> int:
    return int(datetime(*when, tzinfo=NEW_YORK).timestamp())  # type: ignore[misc]


def test_days_are_local_days_of_23_and_25_hours(engine: Engine, owner: Account) -> None:
    stat = make_stat(engine, owner, "hourly", "counter")
    # One count at the start of every UTC hour from March 6 to March 10, 2026 (New York
    # springs forward on March 8: that local day has 23 hours).
    start, end = local(2026, 3, 6), local(2026, 3, 11)
    put_points(engine, stat, [(t, 1) for t in range(start, end, 3600)])

    with engine.connect() as conn:
        series = read_series(conn, stat, parse_timeframe("5d1d"), now=0, start=local(2026, 3, 6, 12),
                             timezone="America/New_York")
        utc = read_series(conn, stat, parse_timeframe("5d1d"), now=0, start=local(2026, 3, 6, 12))

    assert [p.time for p in series.points] == [local(2026, 3, d) for d in range(6, 11)]
    assert [p.value for p in series.points] == [24, 24, 23, 24, 24]
    assert [p.time % 86400 for p in utc.points] == [0] * 5  # UTC stays the default


def test_the_last_local_day_holds_now(engine: Engine, owner: Account) -> None:
    stat = make_stat(engine, owner, "fall", "counter")
    # New York falls back on November 1, 2026: a 25-hour day.
    put_points(engine, stat, [(t, 1) for t in range(local(2026, 11, 1), local(2026, 11, 2), 3600)])

    with engine.connect() as conn:
        series = read_series(conn, stat, parse_timeframe("3d1d"), now=local(2026, 11, 2, 9),
                             timezone="America/New_York")

    assert [p.time for p in series.points] == [local(2026, 10, 31), local(2026, 11, 1), local(2026, 11, 2)]
    assert [p.value for p in series.points] == [0, 25, 0]


def test_the_period_before_local_days_starts_a_whole_number_of_days_earlier() -> None:
    # Three local days ending November 2, 2026 hold New York's 25-hour November 1.
    frame = parse_timeframe("3d1d")
    now = local(2026, 11, 2, 9)

    first, end = frame_bounds(frame, None, now, "America/New_York")
    before = previous_start(frame, None, now, "America/New_York")

    assert (first, end) == (local(2026, 10, 31), local(2026, 11, 3))
    assert end - first == 3 * 86400 + 3600
    assert before == local(2026, 10, 28)  # not 23:00 on October 27


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns"])
def test_days_are_exact_where_midnight_is_not_on_a_utc_hour(
    engine: Engine, owner: Account, zone: str
) -> None:
    tz = ZoneInfo(zone)
    stat = make_stat(engine, owner, f"minutely {zone}", "counter")
    # One count a minute from 22:00 on July 1 to 02:00 on July 3, local time: 120 on the
    # first day, 1,440 on the second, 120 on the third, whatever the zone's offset.
    first = int(datetime(2026, 7, 1, 22, tzinfo=tz).timestamp())
    last = int(datetime(2026, 7, 3, 2, tzinfo=tz).timestamp())
    put_points(engine, stat, [(t, 1) for t in range(first, last, 60)])
    value = make_stat(engine, owner, f"value {zone}", "value")
    # A value of 1 before local midnight, 3 after it: each day's mean is one of the two.
    put_points(engine, value, [(t, 1 if t < first + 7200 else 3) for t in range(first, first + 14400, 60)])

    with engine.connect() as conn:
        start = int(datetime(2026, 7, 1, 12, tzinfo=tz).timestamp())
        days = read_series(conn, stat, parse_timeframe("3d1d"), now=0, start=start, timezone=zone)
        means = read_series(conn, value, parse_timeframe("2d1d"), now=0, start=start, timezone=zone)

    assert [p.value for p in days.points] == [120, 1440, 120]
    assert [p.time for p in days.points] == [
        int(datetime(2026, 7, d, tzinfo=tz).timestamp()) for d in (1, 2, 3)]
    assert [p.value for p in means.points] == [1, 3]
