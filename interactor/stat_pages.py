"""The stat pages' use cases: the list, one stat, and comparing stats.

Each loads what its page needs at once: the stat, its comments and alerts from
the database and the summary from the analysis servers, concurrently. Each tier reads
a series at most once: the analysis server sends the points it summarised (the page
shows them too), so the web tier reads none, and the graph server reads them only to
draw the image the browser asks for, at the width of its box. The page needs no render
of its own: a ``full`` graph's margins are fixed pixels (``aerie.contracts``), so its
plot area, for hovering, is known from its size, and its frame from the clock; a
layout render at a size the browser then did not ask for was a second render a view.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import Any

from aerie import alerts, stats
from aerie.accounts import User
from aerie.alerts import Alert
from aerie.comments import Comment, comments_between
from aerie.contracts import (
    MAX_STATS_ON_GRAPH,
    OverviewParams,
    RankParams,
    SummarizeParams,
    full_graph_plot_area,
)
from aerie.db import reading
from aerie.errors import BadRequest
from aerie.series import Point, first_data_time, frame_bounds
from aerie.shares import Share, live_share_of_stat
from aerie.stat_details import tags_by_stat, tags_of_user
from aerie.stats import Stat
from aerie.timeframes import parse_timeframe
from interactor.base import Services, off_loop
from interactor.snippets import Snippet, send_examples

TIMEFRAMES = ("1h", "3h", "1d", "1w", "1M", "3M", "1y")
DEFAULT_TIMEFRAME = "1w"
PAGE_SIZE = 100  # stats on one list page
SORTS = {"name": "name", "recent": "last data", "value": "latest value"}
GRAPH_SIZE = {"width": 1100, "height": 380}


@dataclass(frozen=True)
class StatRow:
    stat: Stat
    latest: float | None
    spark: list[float | None]
    tags: list[str] = field(default_factory=list)
    group: str = ""  # the system account's stats: the role that records them


@dataclass(frozen=True)
class StatList:
    rows: list[StatRow]
    search: str
    more: bool  # more stats match than the page shows
    now: int
    timezone: str
    api_url: str
    ezkey: str
    tag: str = ""
    tags: list[str] = field(default_factory=list)  # every tag the user has, to filter by
    sort: str = "name"
    page: int = 1
    pages: int = 1
    total: int = 0  # stats matching the search and tag


@dataclass(frozen=True)
class Graph:
    """Which graph the page shows and how its pixels map to time, for hovering; the
    presenters spell the image's address from it (``presenters.links``)."""

    stat_ids: list[str]  # the stat drawn, or the stats compared
    timeframe: str
    previous: bool  # against the period before
    compared: bool  # the compare page's graph rather than one stat's
    plot_area: list[float]
    first: int
    end: int
    threshold: float | None = None  # an alert threshold drawn across it
    normalised: bool = False  # compared stats each as % of their largest value


@dataclass(frozen=True)
class StatPage:
    stat: Stat
    timeframe: str
    timeframe_label: str
    choices: tuple[str, ...]
    points: list[Point]
    summary: dict[str, Any]
    graph: Graph
    snippets: list[Snippet]
    now: int
    timezone: str
    share: Share | None  # the stat's live embed key, if it is shared
    web_url: str  # where the embed codes point
    comments: list[Comment]  # the comments marking moments in the frame shown
    alerts: list[Alert]
    tags: list[str] = field(default_factory=list)
    typed: str | None = None  # a timeframe asked for that could not be read, kept to fix


@dataclass(frozen=True)
class ComparePage:
    """Up to three chosen stats in one graph; ``choices`` are all the user's stats."""

    chosen: list[Stat]
    choices: list[Stat]
    timeframe: str
    timeframe_label: str
    summaries: list[dict[str, Any]]
    graph: Graph | None
    timezone: str
    series: list[list[Point]] = field(default_factory=list)  # the chosen stats', for hovering
    normalised: bool = False
    units_differ: bool = False  # the chosen stats are in different units
    norm_choice: bool | None = None  # what was asked: normalise, not, or when units differ
    typed: str | None = None  # a timeframe asked for that could not be read, kept to fix


def check_timeframe(text: str | None) -> str:
    """The timeframe to show: one of the buttons or any StatHat timeframe, such as 2d30m."""
    text = (text or DEFAULT_TIMEFRAME).strip()
    parse_timeframe(text)  # raises BadRequest saying what to fix
    return text


async def stat_list(
    svc: Services, user: User, search: str, api_url: str, tag: str = "", sort: str = "name",
    page: int = 1,
) -> StatList:
    """One page of the user's live stats matching ``search`` and ``tag``, sorted by name,
    by last data or by latest value, each with its last day as a sparkline."""
    search, tag = search.strip()[:255], tag.strip()[:64]
    if sort not in SORTS:
        raise BadRequest(f"sort by {', '.join(repr(s) for s in SORTS)}, not {sort!r}")
    offset = (page - 1) * PAGE_SIZE

    def load(
        ranked: list[str] | None,
    ) -> tuple[list[Stat], int, list[str], dict[int, list[str]]]:
        with reading(svc.read_engine()) as conn:
            total = stats.count_stats_of_user(conn, user.id, search, tag)
            if ranked is not None:
                found = stats.live_stats_by_public_ids(conn, user.id, ranked)
            else:
                found = stats.stats_of_user(conn, user.id, offset, PAGE_SIZE, search, tag,
                                            recent_first=sort == "recent")
            return (found, total, tags_of_user(conn, user.id),
                    tags_by_stat(conn, [s.id for s in found]))

    ranked = None
    if sort == "value":  # ranked by the analysis servers across every matching stat
        ranked = await svc.analysis.rank_by_latest(RankParams(
            user_id=user.id, search=search, tag=tag, offset=offset, limit=PAGE_SIZE))
    found, total, all_tags, tagged = await off_loop(lambda: load(ranked))
    overview = {}
    if found:
        ids = [s.public_id for s in found]
        overview = await svc.analysis.overview(OverviewParams(user_id=user.id, stat_ids=ids))
    rows = []
    for stat in found:
        figures = overview.get(stat.public_id)
        rows.append(StatRow(stat, figures.latest if figures else None,
                            figures.spark if figures else [], tagged.get(stat.id, [])))
    pages = max(1, -(-total // PAGE_SIZE))
    return StatList(_grouped(rows), search, page < pages, svc.now(), user.timezone, api_url,
                    user.ezkey, tag, all_tags, sort, page, pages, total)


def _grouped(rows: list[StatRow]) -> list[StatRow]:
    """Aerie's own stats (``aerie <role> ...``, the system account's) grouped by role, in
    their order within each; anyone else's rows as they are."""
    parts = [row.stat.name.split(" ", 2) for row in rows]
    if not rows or not all(len(p) == 3 and p[0] == "aerie" for p in parts):
        return rows
    grouped = [replace(row, group=p[1]) for row, p in zip(rows, parts, strict=True)]
    return sorted(grouped, key=lambda row: row.group)  # stable: each role keeps its order


def opening_timeframe(svc: Services, user: User, public_id: str, now: int) -> str:
    """The shortest timeframe button that spans the stat's life and data so far, at most the
    default: a stat made ten minutes ago opens on its hour, not as a blip at the end of a
    week, and one made now with a backfilled month opens on the default."""
    with reading(svc.read_engine()) as conn:
        stat = stats.owned_stat(conn, user.id, public_id)
        oldest = stat.created_at
        if now - oldest < parse_timeframe(DEFAULT_TIMEFRAME).duration:
            oldest = min(oldest, first_data_time(conn, stat) or oldest)
    for choice in TIMEFRAMES[: TIMEFRAMES.index(DEFAULT_TIMEFRAME)]:
        if now - oldest <= parse_timeframe(choice).duration:
            return choice
    return DEFAULT_TIMEFRAME


def page_graph(ids: list[str], timeframe: str, first: int, end: int, *, previous: bool = True,
               compared: bool = False, threshold: float | None = None) -> Graph:
    """A page graph's layout at GRAPH_SIZE, which the browser's script scales to the
    image it asks for; no render is needed to know it."""
    return Graph(ids, timeframe, previous, compared,
                 full_graph_plot_area(GRAPH_SIZE["width"], GRAPH_SIZE["height"]), first, end,
                 threshold)


async def stat_page(
    svc: Services, user: User, public_id: str, timeframe: str | None, api_url: str, web_url: str
) -> StatPage:
    """One stat over a timeframe against the period before: NotFound if not the user's.
    Without a timeframe, a young stat opens on the shortest one that spans its life."""
    now = svc.now()
    if timeframe is None:
        timeframe = await off_loop(lambda: opening_timeframe(svc, user, public_id, now))
    tf = check_timeframe(timeframe)
    frame = parse_timeframe(tf)

    first, end = frame_bounds(frame, None, now, user.timezone)

    def load() -> tuple[Stat, Share | None, list[Comment], list[Alert], list[str]]:
        with reading(svc.read_engine()) as conn:
            stat = stats.owned_stat(conn, user.id, public_id)
            return (stat, live_share_of_stat(conn, stat.id),
                    comments_between(conn, [stat.id], first, end),
                    alerts.alerts_of_user(conn, user.id, stat.id),
                    tags_by_stat(conn, [stat.id]).get(stat.id, []))

    (stat, share, comments, stat_alerts, tags), summary = await asyncio.gather(
        off_loop(load),
        svc.analysis.summarize(SummarizeParams(
            user_id=user.id, stat_id=public_id, timeframe=tf, timezone=user.timezone,
            with_points=True,
        )),
    )
    return StatPage(
        stat=stat, timeframe=tf, timeframe_label=frame.label, choices=TIMEFRAMES,
        points=[Point(p.time, p.value, p.rcount) for p in summary.points or []],
        summary=summary.figures(), graph=page_graph([public_id], tf, first, end),
        snippets=send_examples(stat, user, api_url), now=now, timezone=user.timezone,
        share=share, web_url=web_url,
        comments=comments, alerts=stat_alerts, tags=tags,
    )


async def compare_page(
    svc: Services, user: User, ids: list[str], timeframe: str | None,
    normalise: bool | None = None,
) -> ComparePage:
    """Up to three of the user's stats drawn together, each with its summary; ``normalise``
    draws each as a percentage of its largest value (None: when their units differ)."""
    tf = check_timeframe(timeframe)
    ids = list(dict.fromkeys(i for i in ids if i))
    if len(ids) > MAX_STATS_ON_GRAPH:
        raise BadRequest(
            f"compare up to {MAX_STATS_ON_GRAPH} stats at a time; you chose {len(ids)}")

    def load() -> list[Stat]:
        with reading(svc.read_engine()) as conn:
            return stats.stats_of_user(conn, user.id)

    if not ids:
        return ComparePage([], await off_loop(load), tf, parse_timeframe(tf).label, [], None,
                           user.timezone)
    now = svc.now()
    found = await off_loop(lambda: _owned_stats(svc, user, ids))  # NotFound before any call
    units_differ = len({s.unit for s in found}) > 1
    normalised = len(ids) > 1 and (units_differ if normalise is None else normalise)

    summaries = [
        svc.analysis.summarize(SummarizeParams(
            user_id=user.id, stat_id=i, timeframe=tf, timezone=user.timezone, with_points=True
        ))
        for i in ids
    ]
    choices, summarized = await asyncio.gather(off_loop(load), asyncio.gather(*summaries))
    series = [[Point(p.time, p.value, p.rcount) for p in s.points or []] for s in summarized]
    by_id = {s.public_id: s for s in choices}
    first, end = frame_bounds(parse_timeframe(tf), None, now, user.timezone)
    drawn = page_graph(ids, tf, first, end, previous=False, compared=True)
    return ComparePage(
        [by_id[i] for i in ids], choices, tf, parse_timeframe(tf).label,
        [summary.figures() for summary in summarized],
        replace(drawn, normalised=normalised), user.timezone, series, normalised, units_differ,
        normalise,
    )


def _owned_stats(svc: Services, user: User, ids: list[str]) -> list[Stat]:
    with reading(svc.read_engine()) as conn:
        return [stats.owned_stat(conn, user.id, i) for i in ids]
