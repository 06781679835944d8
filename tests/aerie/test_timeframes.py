"""Timeframes (``1w3h``) and how a series lays its intervals on the clock."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from aerie.errors import BadRequest
from aerie.rollups import Cells, add_point, write_cells
from aerie.schema import stat_days, stat_hours, stat_minutes
from aerie.series import frame_bounds, read_series, rollup_for
from aerie.timeframes import parse_timeframe
from tests.conftest import make_account, make_stat

HOUR, DAY = 3600, 86400
T0 = 1_700_006_400  # a UTC day boundary


@pytest.mark.parametrize(
    ("text", "label", "points"),
    [
        ("1w3h", "1 week @ 3 hours", 56),
        ("1w1h", "1 week @ 1 hour", 168),
        ("1M1h", "1 month @ 1 hour", 720),
        ("4h5m", "4 hours @ 5 minutes", 48),
        ("1h2m", "1 hour @ 2 minutes", 30),
        ("30m1m", "30 minutes @ 1 minute", 30),
        ("2d1d", "2 days @ 1 day", 2),
        ("1y1w", "1 year @ 1 week", 52),
        ("1d", "1 day @ 5 minutes", 288),
        ("1w", "1 week @ 1 hour", 168),
    ],
)
def test_label_names_duration_and_interval_in_words(text: str, label: str, points: int) -> None:
    frame = parse_timeframe(text)
    assert frame.label == label
    assert frame.points == points


def test_units_are_case_sensitive_minutes_and_months() -> None:
    assert parse_timeframe("2M1d").duration == 60 * DAY
    assert parse_timeframe("2m1m").duration == 120


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "not understood"),
        ("week", "not understood"),
        ("1x", "not understood"),
        ("1w3h1m", "not understood"),
        ("w3h", "not understood"),
        ("0h1m", "zero"),
        ("1h0m", "zero"),
        ("1h2h", "interval is longer"),
        ("1y1m", "limit is 10000"),
        ("500y1y", "100 years"),
        ("99999999999999999999y99999999999999999999y", "100 years"),
    ],
)
def test_bad_timeframes_say_what_to_fix(text: str, complaint: str) -> None:
    with pytest.raises(BadRequest, match=complaint) as raised:
        parse_timeframe(text)
    assert repr(text) in raised.value.message


def test_reads_use_the_coarsest_rollup_that_divides_the_interval() -> None:
    assert rollup_for(60) == (60, stat_minutes)
    assert rollup_for(5 * 60) == (60, stat_minutes)
    assert rollup_for(90 * 60) == (60, stat_minutes)
    assert rollup_for(3 * HOUR) == (HOUR, stat_hours)
    assert rollup_for(5 * HOUR) == (HOUR, stat_hours)
    assert rollup_for(DAY) == (DAY, stat_days)
    assert rollup_for(7 * DAY) == (DAY, stat_days)


def test_a_start_snaps_back_to_its_interval() -> None:
    assert frame_bounds(parse_timeframe("1d3h"), T0 + 4 * HOUR, 0) == (
        T0 + 3 * HOUR,
        T0 + 27 * HOUR,
    )


def test_without_start_the_last_interval_holds_now() -> None:
    now = T0 + 10 * HOUR + 7
    first, end = frame_bounds(parse_timeframe("1d3h"), None, now)
    assert (first, end) == (T0 - 12 * HOUR, T0 + 12 * HOUR)
    assert end - 3 * HOUR <= now < end


def test_intervals_longer_than_a_day_align_to_utc_days() -> None:
    first, end = frame_bounds(parse_timeframe("4w1w"), T0 + 5 * HOUR, 0)
    assert (first, end) == (T0, T0 + 28 * DAY)


def test_odd_hour_intervals_align_to_the_hours_they_read() -> None:
    """5 hours does not divide a day; its grid must still start on an hour row."""
    frame = parse_timeframe("1d5h")
    assert frame_bounds(frame, T0 + 30 * 60, 0)[0] == T0
    first, end = frame_bounds(frame, None, T0 + 30 * 60 + 125)
    assert first % HOUR == 0 and end % HOUR == 0
    assert end - 5 * HOUR <= T0 + 30 * 60 + 125 < end


def test_odd_hour_intervals_count_every_point_once(engine: Engine) -> None:
    stat = make_stat(engine, make_account(engine), "signups", "counter")
    cells: Cells = {}
    for t in (T0 + 10, T0 + 4 * HOUR + 59 * 60, T0 + 5 * HOUR, T0 + 9 * HOUR + 30 * 60):
        add_point(cells, stat.id, t, 1)
    with engine.begin() as conn:
        write_cells(conn, cells)
        series = read_series(conn, stat, parse_timeframe("10h5h"), 0, start=T0 + 30 * 60)

    assert [(p.time, p.value) for p in series.points] == [(T0, 2), (T0 + 5 * HOUR, 2)]


def test_value_series_average_and_leave_gaps_empty(engine: Engine) -> None:
    stat = make_stat(engine, make_account(engine), "load time", "value")
    cells: Cells = {}
    for t, x in ((T0, 1.0), (T0 + 59, 2.0), (T0 + 2 * HOUR, 9.0)):
        add_point(cells, stat.id, t, x)
    with engine.begin() as conn:
        write_cells(conn, cells)
        series = read_series(conn, stat, parse_timeframe("3h1h"), 0, start=T0)

    assert [p.value for p in series.points] == [1.5, None, 9.0]
    assert [p.rcount for p in series.points] == [2, 0, 1]
