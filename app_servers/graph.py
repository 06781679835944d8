"""The graph app server: draws a user's stats as PNG or SVG and caches what it drew.

The web app calls ``GraphServer.render`` over JSON-RPC (``create_app``), so
its parameters and answer are plain JSON: the image goes as base64. Database
reads and drawing run in worker threads, keeping the event loop free.
"""

from __future__ import annotations

import base64
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any, ClassVar

import anyio.to_thread
from anyio import Event
from starlette.types import ASGIApp

from aerie.clock import Clock, system_clock
from aerie.comments import Comment, comments_between
from aerie.contracts import GRAPH_METHODS, MAX_STATS_ON_GRAPH, RECEIVED_MARK_SECONDS
from aerie.db import Connects, make_engine, reading
from aerie.errors import BadRequest
from aerie.monitor import Metrics, Reporter
from aerie.readiness import database_check
from aerie.replicas import ReadRouting, dispose
from aerie.secret_key import load_rpc_secret
from aerie.series import Series, frame_bounds, previous_start, read_series
from aerie.settings import Settings
from aerie.stats import Stat, owned_stat
from aerie.timeframes import Timeframe, check_start, parse_timeframe
from app_servers.chart_options import ChartOptions, chart_options
from app_servers.charts import render_chart
from rpc.server import create_rpc_app

# api_service.writer updates data_received_at at most once per
# RECEIVED_MARK_SECONDS per stat, so points landing within that of the last
# mark leave it unchanged; SETTLE_SECONDS adds commit time and clock skew.
SETTLE_SECONDS = 5
# How long a render that such unmarked points could still miss is reused.
FRESH_RENDER_SECONDS = 10
# The self-monitoring count of renders drawn (cache misses), per graph copy.
RENDERS_DRAWN = "aerie graph renders drawn"

Key = tuple[Any, ...]


@dataclass(frozen=True)
class _Entry:
    answer: dict[str, Any]
    expires: float | None  # None: valid until its key stops matching


class RenderCache:
    """A bounded LRU of renders by key; see ``GraphServer`` for why the key is right."""

    def __init__(self, entries: int) -> None:
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        self._size = entries

    def get(self, key: Key, now: float) -> dict[str, Any] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires is not None and now >= entry.expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry.answer

    def put(self, key: Key, answer: dict[str, Any], expires: float | None) -> None:
        self._entries[key] = _Entry(answer, expires)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


class GraphServer:
    """Renders stat graphs; repeated views of unchanged data cost one stats lookup.

    A render is cached under a key made of every parameter (normalised:
    ``previous`` counts only where it is drawn, the timeframe as its duration
    and interval), the frame's ``first`` and ``end``, whether its last interval
    is still running, each stat's id, name, unit, kind and ``data_received_at``,
    and, where comments are marked, the id, moment and text of each comment in
    the frame. The picture depends on nothing else. The frame moves
    only when a new interval begins, which changes ``first`` and ``end``. New
    data changes ``data_received_at``, which is when data *arrived*, not the
    time of its points: a point written today for last month's timestamp still
    changes the key of last month's graph. A renamed stat or a new unit changes
    the key too. A comment added, edited or removed in the frame changes the
    comments in the key; one outside the frame is not drawn, so it need not.
    Stats and comments are looked up before series are read, so a render is
    never older than the key it is stored under.

    One gap needs care: the ingestion writer marks ``data_received_at`` at most
    once a minute per stat, so points arriving within a minute of the last mark
    leave the key unchanged. A render made within that minute (plus a settling
    margin) is therefore reused only for ``FRESH_RENDER_SECONDS``, and its etag
    names its read time; a later render has seen every such point and keeps
    until the key changes. Retention pruning does not touch the key: a cached
    graph of a pruned period keeps showing what was there.

    The cache and the table of renders under way live on the event loop; only
    database reads and drawing run in worker threads.
    """

    rpc_methods: ClassVar[tuple[str, ...]] = ("render",)

    def __init__(self, engine: Connects, clock: Clock = system_clock, cache_entries: int = 512,
                 metrics: Metrics | None = None) -> None:
        self._engine = engine
        self._clock = clock
        self._metrics = metrics  # counts renders drawn, as against answered from the cache
        self._cache = RenderCache(cache_entries)
        self._drawing: dict[Key, Event] = {}  # renders in progress, so equal requests wait

    async def render(
        self, user_id: int, stat_ids: list[str], timeframe: str = "1w", start: int | None = None,
        previous: bool = True, format: str = "png", width: int = 800, height: int = 300,
        timezone: str = "UTC", style: str = "full", title: str = "", with_body: bool = True,
        chart: str = "line", scale: float = 1.0, theme: str = "light",
        threshold: float | None = None, normalise: bool = False,
    ) -> dict[str, Any]:
        """Draw 1 to 3 of the user's stats over ``timeframe`` (ending now, or from ``start``):
        a ``line`` chart over time, or a ``histogram`` of the interval values.

        ``style`` is ``full``, ``mini``, ``spark``, or, for embeds, ``fill`` (the area
        under the line shaded) or ``fill_bar`` (a bar per interval). The period
        before is drawn dashed for one stat, except in sparklines and histograms.
        ``width`` and ``height`` are the layout's CSS pixels; a PNG has ``scale`` times
        as many (for high-density screens), the same picture sharper. ``theme`` is
        ``light`` or ``dark`` (a dark background for pages in dark mode). A
        ``threshold`` is drawn as a dashed line across the frame (an alert's backtest).
        ``normalise`` draws each stat as a percentage of its own largest value, so stats
        in different units share one axis.
        Value stats' lines are joined across short runs of empty intervals
        (``app_servers.gaps``).

        Returns ``content_type``, ``body`` (base64; left out when ``with_body`` is
        False, for a page that only needs the layout and warms the cache for its
        image request), ``etag``, ``cached``,
        ``plot_area`` ([x0, y0, x1, y1], fractions of the image from its top
        left: the axes' data area), ``first`` and ``end`` (unix seconds of the
        frame drawn), ``interval`` (seconds per point) and ``comments``
        (``[{"time", "text"}]``, oldest first: the comments marked, so none in
        sparklines and histograms). Raises BadRequest for parameters it cannot
        draw, NotFound for an id that is not one of the user's stats (another
        user's stat looks exactly like a missing one).
        """
        options = chart_options(format, width, height, timezone, style, title, chart,
                                scale=scale, theme=theme, threshold=threshold,
                                normalise=normalise)
        frame = parse_timeframe(timeframe)
        ids = _check_stat_ids(stat_ids)
        check_start(start)
        now = int(self._clock())
        first, end = frame_bounds(frame, start, now, timezone)
        stats, comments = await anyio.to_thread.run_sync(
            self._find_stats, user_id, ids, (first, end) if options.marks_comments else None
        )
        drawn_before = previous and len(stats) == 1 and style != "spark" and chart == "line"
        plan = _Plan(user_id, stats, frame, start, drawn_before, now, options, first, end,
                     tuple(comments))
        while (pending := self._drawing.get(plan.key)) is not None:
            await pending.wait()  # an equal render is under way: take its result
        if (hit := self._cache.get(plan.key, self._clock())) is not None:
            return _answer(hit, cached=True, with_body=with_body)
        self._drawing[plan.key] = Event()
        try:
            if self._metrics is not None:
                self._metrics.count(RENDERS_DRAWN)
            answer = await self._draw(plan)
            fresh = _is_fresh(stats, now)
            answer["etag"] = _etag(plan.key + ((now,) if fresh else ()))
            self._cache.put(plan.key, answer, now + FRESH_RENDER_SECONDS if fresh else None)
        finally:
            self._drawing.pop(plan.key).set()
        return _answer(answer, cached=False, with_body=with_body)

    def _find_stats(
        self, user_id: int, ids: list[str], frame: tuple[int, int] | None
    ) -> tuple[list[Stat], list[Comment]]:
        """The user's stats, in the order asked, and their comments in ``frame``
        (``first``, ``end``; None: no comments wanted). NotFound names the first id
        that is not the user's."""
        with reading(self._engine) as conn:
            stats = [owned_stat(conn, user_id, public_id) for public_id in ids]
            if frame is None:
                return stats, []
            return stats, comments_between(conn, [s.id for s in stats], *frame)

    async def _draw(self, plan: _Plan) -> dict[str, Any]:
        current, before = await anyio.to_thread.run_sync(self._read, plan)
        drawn = await anyio.to_thread.run_sync(
            render_chart, current, before, plan.options, plan.unfinished, plan.comments
        )
        return {
            "content_type": drawn.content_type,
            "body": base64.b64encode(drawn.body).decode("ascii"),
            "plot_area": list(drawn.plot_area),
            "first": plan.first,
            "end": plan.end,
            "interval": plan.frame.interval,
            "comments": [{"time": c.at, "text": c.text} for c in plan.comments],
        }

    def _read(self, plan: _Plan) -> tuple[list[Series], Series | None]:
        """Each stat's series over the frame, and the first stat's over the frame before it."""
        with reading(self._engine) as conn:
            zone = plan.options.timezone
            current = [read_series(conn, s, plan.frame, plan.now, plan.start, zone)
                       for s in plan.stats]
            if not plan.with_previous:
                return current, None
            before_start = previous_start(plan.frame, plan.start, plan.now, zone)
            before = read_series(conn, plan.stats[0], plan.frame, plan.now, before_start, zone)
        return current, before


def _answer(render: dict[str, Any], *, cached: bool, with_body: bool) -> dict[str, Any]:
    answer = {**render, "cached": cached}
    if not with_body:
        del answer["body"]
    return answer


@dataclass(frozen=True)
class _Plan:
    """One graph to draw, worked out from the request, the stats and the clock."""

    user_id: int
    stats: list[Stat]
    frame: Timeframe
    start: int | None
    with_previous: bool  # for one stat's line chart, never in sparklines
    now: int
    options: ChartOptions
    first: int
    end: int
    comments: tuple[Comment, ...]  # in the frame, where options.marks_comments

    @property
    def unfinished(self) -> bool:
        """Whether the last interval is still running (its sums are partial)."""
        return self.end - self.frame.interval <= self.now < self.end

    @cached_property
    def key(self) -> Key:
        """Everything the picture depends on; see ``GraphServer`` for why that is all."""
        return (
            self.user_id, self.frame.duration, self.frame.interval, self.start,
            self.with_previous, self.options, self.first, self.end, self.unfinished,
            tuple((s.public_id, s.id, s.name, s.unit, s.kind, s.data_received_at)
                  for s in self.stats),
            tuple((c.id, c.at, c.text) for c in self.comments),
        )


def _check_stat_ids(stat_ids: list[str]) -> list[str]:
    if not 1 <= len(stat_ids) <= MAX_STATS_ON_GRAPH:
        raise BadRequest(
            f"give 1 to {MAX_STATS_ON_GRAPH} stat ids to draw "
            f"(up to {MAX_STATS_ON_GRAPH} compare in one graph), "
            f"not {len(stat_ids)}"
        )
    if len(set(stat_ids)) != len(stat_ids):
        raise BadRequest("a stat id appears twice; give each stat once")
    return list(stat_ids)


def _is_fresh(stats: list[Stat], now: int) -> bool:
    """Whether points may have landed, unmarked, since the newest ``data_received_at``."""
    marks = [s.data_received_at for s in stats if s.data_received_at is not None]
    return bool(marks) and now < max(marks) + RECEIVED_MARK_SECONDS + SETTLE_SECONDS


def _etag(key: Key) -> str:
    """Equal keys give equal etags in every copy of the server: ``repr`` of plain values is stable."""
    return hashlib.sha256(repr(key).encode()).hexdigest()[:32]


def create_app(settings: Settings) -> ASGIApp:
    """The graph app server: ``GraphServer.render`` over JSON-RPC, its params checked by
    ``aerie.contracts.RenderParams``; its engine is disposed when it stops."""
    engine = make_engine(settings)
    reads = ReadRouting.from_settings(settings, engine)  # replicas, if any, else the primary
    reporter = Reporter(Metrics("graph"), settings, engine)
    return create_rpc_app(GraphServer(reads, metrics=reporter.metrics), name="graph",
                          secret=load_rpc_secret(settings),
                          on_shutdown=partial(dispose, reads, engine), reporter=reporter,
                          ready_checks={"database": database_check(engine)},
                          replicas=reads.report,
                          contracts=GRAPH_METHODS)
