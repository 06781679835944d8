"""The analysis app server: summary figures of stats, served over JSON-RPC.

Separate from the web tier so that scanning long series runs in its own
processes (``aerie up`` starts two copies and the web app's RPC client fails
over between them). Every method reads, never writes, so a call the client
retries on the other copy is harmless.

How a series is summarised depends on the stat's kind, as ``aerie.series``
reads it: a counter's interval is the sum of its counts, and an interval with
no points is a real 0, so every interval counts; a value stat's interval is
the mean of its values, and an interval with no points is a gap (None) that is
skipped.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Callable
from functools import partial
from typing import ClassVar, TypeVar

import anyio.to_thread
from sqlalchemy import Connection
from starlette.applications import Starlette

from aerie.alert_rules import Backtest, backtest
from aerie.alerts import draft
from aerie.clock import Clock, system_clock
from aerie.contracts import (
    ANALYSIS_METHODS,
    Change,
    PeriodSummary,
    Rule,
    SeriesPoint,
    StatOverview,
    Summary,
)
from aerie.db import Connects, make_engine, reading
from aerie.errors import BadRequest
from aerie.monitor import Metrics, Reporter
from aerie.numbers import percent_change
from aerie.readiness import database_check
from aerie.replicas import ReadRouting, dispose
from aerie.secret_key import load_rpc_secret
from aerie.series import (
    Point,
    Series,
    frame_bounds,
    previous_start,
    read_series,
    stats_by_latest_value,
)
from aerie.settings import Settings
from aerie.stats import owned_stat, stat_by_public_id
from aerie.timeframes import check_start, check_timezone, parse_timeframe
from rpc.server import create_rpc_app

T = TypeVar("T")

MAX_OVERVIEW_STATS = 500
BACKTEST_DAYS = 30
# The stat list's sparklines: the last 24 hours, one point an hour.
SPARK_TIMEFRAME = parse_timeframe("1d1h")


class AnalysisServer:
    """Summaries of a user's stats; each method uses one database connection, off the loop."""

    rpc_methods: ClassVar[tuple[str, ...]] = ("summarize", "overview", "rank_by_latest", "backtest")

    def __init__(self, engine: Connects, clock: Clock = system_clock) -> None:
        self.engine = engine
        self.clock = clock

    async def summarize(
        self, user_id: int, stat_id: str, timeframe: str = "1w", start: int | None = None,
        timezone: str = "UTC", with_points: bool = False,
    ) -> Summary:
        """Figures of the stat over ``timeframe`` and over the period just before it.

        The previous period is the same timeframe ending where this one starts,
        so ``change`` compares like with like. ``start`` (unix seconds) places
        the frame as ``aerie.series.frame_bounds`` does; without it the frame
        ends with the interval holding now. Whole-day intervals are ``timezone``'s
        local days. ``with_points`` sends the frame's points as well, so a page showing
        them and the figures reads the series once, here.

        Raises BadRequest for a timeframe that does not parse or a ``start``
        outside 0..``aerie.timeframes.LATEST_START``, and NotFound for a stat the user does not
        have (another user's stat included).
        """
        frame = parse_timeframe(timeframe)
        check_start(start)
        check_timezone(timezone)
        now = int(self.clock())

        def read(conn: Connection) -> tuple[Series, Series]:
            stat = owned_stat(conn, user_id, stat_id)
            current = read_series(conn, stat, frame, now, start, timezone)
            before = previous_start(frame, start, now, timezone)
            return current, read_series(conn, stat, frame, now, before, timezone)

        current, previous = await self._with_connection(read)
        now_figures, before = summarize_series(current), summarize_series(previous)
        change = Change(mean=percent_change(now_figures.mean, before.mean),
                        total=percent_change(now_figures.total, before.total))
        points = [SeriesPoint(time=p.time, value=p.value, rcount=p.rcount)
                  for p in current.points] if with_points else None
        return Summary(current=now_figures, previous=before, change=change, points=points)

    async def overview(self, user_id: int, stat_ids: list[str]) -> dict[str, StatOverview]:
        """A sparkline and the latest value of each of the user's stats among ``stat_ids``.

        Keyed by public id, in the order given. Ids the user has no stat for
        (another user's included) are absent rather than an error, so one stale
        id does not blank a whole stat list. Raises BadRequest for more than
        ``MAX_OVERVIEW_STATS`` ids.
        """
        wanted = list(dict.fromkeys(stat_ids))
        if len(wanted) > MAX_OVERVIEW_STATS:
            raise BadRequest(
                f"overview takes at most {MAX_OVERVIEW_STATS} stat ids, got {len(wanted)}"
            )
        now = int(self.clock())

        def read(conn: Connection) -> dict[str, Series]:
            found = {}
            for public_id in wanted:
                stat = stat_by_public_id(conn, user_id, public_id)
                if stat is not None:
                    found[public_id] = read_series(conn, stat, SPARK_TIMEFRAME, now)
            return found

        series = await self._with_connection(read)
        return {
            public_id: StatOverview(
                spark=[point.value for point in one.points],
                latest=_value_of(_last_with_data(one.points)),
            )
            for public_id, one in series.items()
        }

    async def rank_by_latest(
        self, user_id: int, search: str = "", tag: str = "", offset: int = 0, limit: int = 100,
    ) -> list[str]:
        """The public ids of one page of the user's live stats matching ``search`` and
        ``tag``, by the latest value the overview shows (largest first, none last, then by
        name), ranked across every match rather than one overview's worth."""
        hours = frame_bounds(SPARK_TIMEFRAME, None, int(self.clock()))
        found = await self._with_connection(partial(
            stats_by_latest_value, user_id=user_id, hours=hours, offset=offset, limit=limit,
            search=search, tag=tag))
        return [stat.public_id for stat in found]

    async def backtest(self, user_id: int, stat_id: str, rule: Rule,
                       days: int = 30) -> dict[str, object]:
        """What an alert with ``rule`` (parsed by the caller with
        ``interactor.alert_forms.parse_rule``) would have done on the stat over the last
        ``days`` days: when it would have fired and resolved. BadRequest for ``days`` out of
        range; NotFound for a stat not the user's."""
        if not 1 <= days <= BACKTEST_DAYS:
            raise BadRequest(f"a backtest covers 1 to {BACKTEST_DAYS} days, not {days}")
        now = int(self.clock())

        def run(conn: Connection) -> Backtest:
            stat = owned_stat(conn, user_id, stat_id)
            return backtest(conn, draft(rule, user_id, stat.id, now), stat, now, days)

        result = await self._with_connection(run)
        return {"days": result.days, "firings": result.firings,
                "resolutions": result.resolutions, "resolution": result.resolution}

    async def _with_connection(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` on one connection in a worker thread, so the loop keeps serving."""
        return await anyio.to_thread.run_sync(functools.partial(self._connected, work))

    def _connected(self, work: Callable[[Connection], T]) -> T:
        with reading(self.engine) as conn:
            return work(conn)




def _last_with_data(points: list[Point]) -> Point | None:
    return next((p for p in reversed(points) if p.rcount), None)


def _value_of(point: Point | None) -> float | None:
    return None if point is None else point.value


def summarize_series(series: Series) -> PeriodSummary:
    """The figures of one series (see ``PeriodSummary``)."""
    points = series.points
    first, end = points[0].time, series.end
    received = sum(p.rcount for p in points)
    latest = _last_with_data(points)
    if latest is None:
        return PeriodSummary(
            latest=None, latest_time=None, min=None, max=None, mean=None, stddev=None,
            total=None, points_with_data=0, received=0, first=first, end=end,
        )
    # read_series gives a counter's empty interval as 0 and a value stat's as None (skipped).
    values = [p.value for p in points if p.value is not None]
    return PeriodSummary(
        latest=latest.value,
        latest_time=latest.time,
        min=min(values),
        max=max(values),
        mean=_finite(statistics.fmean, values),
        stddev=_finite(statistics.pstdev, values),
        total=_finite(math.fsum, values) if series.stat.counter else None,
        points_with_data=sum(1 for p in points if p.rcount),
        received=received,
        first=first,
        end=end,
    )


def _finite(figure: Callable[[list[float]], float], values: list[float]) -> float | None:
    """``figure(values)``, or None when it is no finite number: totals stored before
    overflowing sums were refused may be infinite, or too large to add up."""
    if not all(math.isfinite(v) for v in values):
        return None
    try:
        result = figure(values)
    except OverflowError:
        return None
    return result if math.isfinite(result) else None


def create_app(settings: Settings) -> Starlette:
    """The analysis server as an ASGI app; its engine is disposed when it stops."""
    engine = make_engine(settings)
    reads = ReadRouting.from_settings(settings, engine)  # replicas, if any, else the primary
    reporter = Reporter(Metrics("analysis"), settings, engine)
    return create_rpc_app(AnalysisServer(reads), name="analysis",
                          secret=load_rpc_secret(settings),
                          on_shutdown=partial(dispose, reads, engine), reporter=reporter,
                          ready_checks={"database": database_check(engine)},
                          replicas=reads.report,
                          contracts=ANALYSIS_METHODS)
