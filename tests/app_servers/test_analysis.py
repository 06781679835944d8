"""The analysis server on SQLite and MariaDB: summaries and overviews of known points.

The clock is fixed at ``NOW``, in the last hour of the frame ``4h1h`` =
[T0, T0 + 4h); the previous period is [T0 - 4h, T0). Expected figures are
worked out by hand in each test.
"""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from aerie.errors import BadRequest, NotFound
from aerie.numbers import percent_change
from aerie.secret_key import load_rpc_secret
from aerie.settings import Settings
from aerie.stats import Stat
from aerie.timeframes import LATEST_START
from app_servers.analysis import AnalysisServer, create_app
from rpc import RpcClient
from tests.conftest import Account, make_stat, put_points
from tests.servers import serve

pytestmark = pytest.mark.anyio

HOUR = 3600
T0 = 1_700_006_400  # 2023-11-15 00:00 UTC: a day boundary, so every grid starts here
NOW = T0 + 4 * HOUR - 60


@pytest.fixture
def server(engine: Engine) -> AnalysisServer:
    return AnalysisServer(engine, clock=lambda: NOW)


@pytest.fixture
def signups(engine: Engine, owner: Account) -> Stat:
    """Counts per hour: previous period 3, 0, 1, 0; current 5, 0, 4, 1."""
    stat = make_stat(engine, owner, "signups", "counter")
    put_points(engine, stat, [
        (T0 - 4 * HOUR + 60, 3), (T0 - 2 * HOUR, 1),
        (T0 + 60, 2), (T0 + 1800, 3), (T0 + 2 * HOUR + 5, 4), (T0 + 3 * HOUR + 59, 1),
    ])
    return stat


@pytest.fixture
def load_time(engine: Engine, owner: Account) -> Stat:
    """Hourly means: previous period -, 20, -, -; current 15, -, 30, -."""
    stat = make_stat(engine, owner, "load time", "value")
    put_points(engine, stat, [
        (T0 - 3 * HOUR + 600, 20),
        (T0 + 60, 10), (T0 + 120, 20), (T0 + 2 * HOUR + 1200, 30),
    ])
    return stat


# -- summarize ------------------------------------------------------------------------------


async def test_counter_summary_counts_empty_hours_as_zero(
    server: AnalysisServer, owner: Account, signups: Stat
) -> None:
    summary = (await server.summarize(owner.user.id, signups.public_id, "4h1h")).model_dump()

    # Hours 5, 0, 4, 1: mean 2.5, squared deviations 6.25 + 6.25 + 2.25 + 2.25 = 17.
    assert summary["current"] == {
        "latest": 1.0, "latest_time": T0 + 3 * HOUR, "min": 0.0, "max": 5.0, "mean": 2.5,
        "stddev": pytest.approx(math.sqrt(17 / 4)), "total": 10.0, "points_with_data": 3,
        "received": 4, "first": T0, "end": T0 + 4 * HOUR,
    }
    # Hours 3, 0, 1, 0: mean 1, squared deviations 4 + 1 + 0 + 1 = 6.
    assert summary["previous"] == {
        "latest": 1.0, "latest_time": T0 - 2 * HOUR, "min": 0.0, "max": 3.0, "mean": 1.0,
        "stddev": pytest.approx(math.sqrt(6 / 4)), "total": 4.0, "points_with_data": 2,
        "received": 2, "first": T0 - 4 * HOUR, "end": T0,
    }
    assert summary["change"] == {"mean": 150.0, "total": 150.0}


async def test_value_summary_skips_hours_without_values(
    server: AnalysisServer, owner: Account, load_time: Stat
) -> None:
    summary = (await server.summarize(owner.user.id, load_time.public_id, "4h1h")).model_dump()

    # Hour means 15 (of 10 and 20) and 30; the two empty hours are not zeros.
    assert summary["current"] == {
        "latest": 30.0, "latest_time": T0 + 2 * HOUR, "min": 15.0, "max": 30.0, "mean": 22.5,
        "stddev": 7.5, "total": None, "points_with_data": 2, "received": 3,
        "first": T0, "end": T0 + 4 * HOUR,
    }
    assert summary["previous"] == {
        "latest": 20.0, "latest_time": T0 - 3 * HOUR, "min": 20.0, "max": 20.0, "mean": 20.0,
        "stddev": 0.0, "total": None, "points_with_data": 1, "received": 1,
        "first": T0 - 4 * HOUR, "end": T0,
    }
    assert summary["change"] == {"mean": 12.5, "total": None}


async def test_start_places_the_frame_and_an_empty_previous_period_gives_no_change(
    server: AnalysisServer, owner: Account, signups: Stat
) -> None:
    summary = (await server.summarize(owner.user.id, signups.public_id, "4h1h",
                                      T0 - 4 * HOUR + 1)).model_dump()

    assert (summary["current"]["first"], summary["current"]["end"]) == (T0 - 4 * HOUR, T0)
    assert summary["current"]["total"] == 4.0
    assert summary["previous"]["received"] == 0 and summary["previous"]["total"] is None
    assert summary["change"] == {"mean": None, "total": None}


async def test_default_timeframe_is_a_week_ending_with_the_current_hour(
    server: AnalysisServer, owner: Account, signups: Stat
) -> None:
    current = (await server.summarize(owner.user.id, signups.public_id)).model_dump()["current"]

    assert (current["first"], current["end"]) == (T0 + 4 * HOUR - 7 * 24 * HOUR, T0 + 4 * HOUR)
    assert current["received"] == 6 and current["total"] == 14.0


async def test_a_stat_without_data_summarizes_to_nones(
    server: AnalysisServer, engine: Engine, owner: Account
) -> None:
    quiet = make_stat(engine, owner, "quiet", "counter")

    summary = (await server.summarize(owner.user.id, quiet.public_id, "4h1h")).model_dump()

    assert summary["current"] == {
        "latest": None, "latest_time": None, "min": None, "max": None, "mean": None,
        "stddev": None, "total": None, "points_with_data": 0, "received": 0,
        "first": T0, "end": T0 + 4 * HOUR,
    }
    assert summary["change"] == {"mean": None, "total": None}


async def test_another_users_stat_is_not_found_like_a_missing_one(
    server: AnalysisServer, outsider: Account, signups: Stat
) -> None:
    with pytest.raises(NotFound) as theirs:
        await server.summarize(outsider.user.id, signups.public_id)
    with pytest.raises(NotFound) as missing:
        await server.summarize(outsider.user.id, "nosuchstat")

    assert theirs.value.message == f"no stat with id {signups.public_id!r}"
    assert missing.value.message == "no stat with id 'nosuchstat'"


async def test_a_bad_timeframe_is_a_bad_request(
    server: AnalysisServer, owner: Account, signups: Stat
) -> None:
    with pytest.raises(BadRequest, match="not understood"):
        await server.summarize(owner.user.id, signups.public_id, "1 week")


@pytest.mark.parametrize("start", [-1, LATEST_START + 1])
async def test_a_start_outside_the_calendar_is_a_bad_request(
    server: AnalysisServer, owner: Account, signups: Stat, start: int
) -> None:
    with pytest.raises(BadRequest, match="start must be a time in unix seconds"):
        await server.summarize(owner.user.id, signups.public_id, "1d", start)


@pytest.mark.parametrize(
    ("current", "previous", "change"),
    [(15.0, 10.0, 50.0), (5.0, 10.0, -50.0), (-5.0, -10.0, 50.0), (3.0, 0.0, None),
     (3.0, None, None), (None, 3.0, None)],
)
def test_percent_change_is_relative_to_the_size_of_the_previous_figure(
    current: float | None, previous: float | None, change: float | None
) -> None:
    assert percent_change(current, previous) == change


# -- overview -------------------------------------------------------------------------------


async def test_overview_gives_the_last_day_hourly_and_the_latest_value(
    server: AnalysisServer, owner: Account, signups: Stat, load_time: Stat
) -> None:
    answer = await server.overview(owner.user.id, [load_time.public_id, signups.public_id])

    # The 24 hours end with the one holding NOW: T0 is the 21st (index 20).
    counts = [0.0] * 24
    counts[16], counts[18], counts[20], counts[22], counts[23] = 3, 1, 5, 4, 1
    means: list[float | None] = [None] * 24
    means[17], means[20], means[22] = 20, 15, 30
    assert list(answer) == [load_time.public_id, signups.public_id]
    assert answer[signups.public_id].model_dump() == {"spark": counts, "latest": 1.0}
    assert answer[load_time.public_id].model_dump() == {"spark": means, "latest": 30.0}


async def test_overview_leaves_out_other_users_and_unknown_ids(
    server: AnalysisServer, engine: Engine, owner: Account, outsider: Account, signups: Stat
) -> None:
    theirs = make_stat(engine, outsider, "theirs", "counter")
    quiet = make_stat(engine, owner, "quiet", "value")

    answer = await server.overview(
        owner.user.id, [theirs.public_id, "nosuchstat", quiet.public_id, signups.public_id]
    )

    assert list(answer) == [quiet.public_id, signups.public_id]
    assert answer[quiet.public_id].model_dump() == {"spark": [None] * 24, "latest": None}


async def test_overview_refuses_more_than_500_ids(server: AnalysisServer, owner: Account) -> None:
    assert await server.overview(owner.user.id, [f"id{i}" for i in range(500)]) == {}
    with pytest.raises(BadRequest, match="at most 500"):
        await server.overview(owner.user.id, [f"id{i}" for i in range(501)])


# -- served over JSON-RPC -------------------------------------------------------------------


async def test_create_app_serves_both_methods_with_domain_errors_intact(
    settings: Settings, owner: Account, outsider: Account, signups: Stat
) -> None:
    with serve(create_app(settings)) as replica:
        async with RpcClient("analysis", [replica.url], secret=load_rpc_secret(settings)) as client:
            summary = await client.call("summarize", user_id=owner.user.id,
                                        stat_id=signups.public_id, timeframe="1d1h",
                                        start=T0 - 4 * HOUR)
            overview = await client.call("overview", user_id=outsider.user.id,
                                         stat_ids=[signups.public_id])
            with pytest.raises(NotFound, match="no stat with id"):
                await client.call("summarize", user_id=outsider.user.id,
                                  stat_id=signups.public_id)

    assert summary["current"]["received"] == 6 and summary["current"]["total"] == 14.0
    assert overview == {}


async def test_whole_day_summaries_follow_the_viewers_local_days(
    engine: Engine, owner: Account
) -> None:
    # One count an hour through New York's local days October 26 to November 1, 2026;
    # November 1 has 25 hours. The clock stands on the morning of November 1.
    zone = ZoneInfo("America/New_York")
    start = int(datetime(2026, 10, 26, tzinfo=zone).timestamp())
    end = int(datetime(2026, 11, 2, tzinfo=zone).timestamp())
    hourly = make_stat(engine, owner, "hourly", "counter")
    put_points(engine, hourly, [(t, 1) for t in range(start, end, HOUR)])
    morning = int(datetime(2026, 11, 1, 9, tzinfo=zone).timestamp())
    server = AnalysisServer(engine, clock=lambda: morning)

    summary = (await server.summarize(owner.user.id, hourly.public_id, "3d1d",
                                      timezone=zone.key)).model_dump()
    utc = await server.summarize(owner.user.id, hourly.public_id, "3d1d")

    assert summary["current"]["first"] == int(datetime(2026, 10, 30, tzinfo=zone).timestamp())
    assert summary["current"]["total"] == 24 + 24 + 25  # October 30, 31 and November 1
    assert summary["current"]["max"] == 25
    assert summary["previous"]["total"] == 3 * 24  # October 27 to 29
    assert utc.current.first % 86400 == 0  # without a zone, UTC days


async def test_an_unknown_time_zone_is_a_bad_request(
    server: AnalysisServer, owner: Account, signups: Stat
) -> None:
    with pytest.raises(BadRequest, match="IANA name"):
        await server.summarize(owner.user.id, signups.public_id, "1d", timezone="Mars/Base")
