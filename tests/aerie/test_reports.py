"""Daily report figures are the user's local days, checked against sums worked out by hand."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine

from aerie import accounts
from aerie.reports import day_figure, day_value, due_day, save_report_settings, users_with_reports
from tests.conftest import Account, make_stat, put_points


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def every_half_hour(first: str, last: str) -> list[tuple[int, float]]:
    """A point worth 1 at :00 and :30 of every UTC hour from ``first`` to ``last``."""
    return [(t, 1.0) for t in range(utc(first), utc(last) + 1, 1800)]


def test_a_23_hour_spring_day_and_a_25_hour_autumn_day_in_new_york(
    engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "beats", "counter")
    put_points(engine, stat, every_half_hour("2026-03-06T00:00", "2026-03-10T23:30"))
    put_points(engine, stat, every_half_hour("2026-10-30T00:00", "2026-11-03T23:30"))
    zone = "America/New_York"
    with engine.connect() as conn:
        # 8 March 2026: midnight EST (05:00Z) to midnight EDT (04:00Z next day) is 23 hours.
        assert day_value(conn, stat, date(2026, 3, 8), zone) == 46
        assert day_value(conn, stat, date(2026, 3, 7), zone) == 48
        # 1 November 2026: midnight EDT (04:00Z) to midnight EST (05:00Z next day): 25 hours.
        assert day_value(conn, stat, date(2026, 11, 1), zone) == 50
        figure = day_figure(conn, stat, date(2026, 3, 8), zone)
    assert (figure.value, figure.day_before) == (46, 48)
    assert figure.change_day == pytest.approx(-100 * 2 / 48)
    assert figure.week_before is not None and figure.week_before == 0  # no data on 1 March
    assert figure.change_week is None  # nothing to compare with


@pytest.mark.parametrize(("zone", "midnight_utc"), [
    ("Asia/Kolkata", "2026-06-09T18:30"),  # UTC+5:30
    ("Asia/Kathmandu", "2026-06-09T18:15"),  # UTC+5:45
    ("America/St_Johns", "2026-06-10T02:30"),  # UTC-2:30 in summer
])
def test_zones_a_half_or_three_quarter_hour_off_utc_get_their_exact_day(
    engine: Engine, owner: Account, zone: str, midnight_utc: str
) -> None:
    stat = make_stat(engine, owner, f"orders {zone}", "counter")
    start = utc(midnight_utc)
    # One order a minute either side of local midnight, and 5 in the day's last minute.
    put_points(engine, stat, [(start - 60, 100.0), (start, 1.0), (start + 86400 - 60, 5.0),
                              (start + 86400, 1000.0)])
    with engine.connect() as conn:
        assert day_value(conn, stat, date(2026, 6, 10), zone) == 6


def test_a_value_stat_reports_its_mean_and_nothing_for_an_empty_day(
    engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "temperature", "value")
    put_points(engine, stat, [(utc("2026-06-10T01:00"), 10.0), (utc("2026-06-10T13:00"), 20.0),
                              (utc("2026-06-10T23:59"), 30.0)])
    with engine.connect() as conn:
        assert day_value(conn, stat, date(2026, 6, 10), "UTC") == 20
        assert day_value(conn, stat, date(2026, 6, 11), "UTC") is None


def test_a_report_is_due_once_its_local_hour_has_come() -> None:
    now = utc("2026-06-10T03:10")  # 08:40 in Kolkata
    assert due_day(9, None, "Asia/Kolkata", now) is None  # not yet 9 there
    assert due_day(8, None, "Asia/Kolkata", now) == date(2026, 6, 9)
    assert due_day(8, "2026-06-10", "Asia/Kolkata", now) is None  # already sent today
    assert due_day(None, None, "UTC", now) is None  # no report chosen


def test_only_owners_with_a_confirmed_address_are_due_a_report(engine: Engine) -> None:
    """An unconfirmed address gets no report, so the scheduler draws nothing for it."""
    now = int(time.time())
    with engine.begin() as conn:
        sure = accounts.create_user(conn, f"sure-{time.time_ns()}@example.com", None, now)
        unsure = accounts.create_user(conn, f"unsure-{time.time_ns()}@example.com", None, now,
                                      verified=False)
        for user in (sure, unsure):
            save_report_settings(conn, user.id, 7, [])
        due = {row[0] for row in users_with_reports(conn)}

    assert sure.id in due and unsure.id not in due
