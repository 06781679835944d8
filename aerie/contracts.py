"""The typed contract of every RPC method between the web tier and the app servers.

Both sides import this module: the app servers validate each call's params with
its ``...Params`` model (``rpc.server`` checks at start-up that the model names
exactly the method's parameters), and the typed clients in ``rpc.clients`` send
those models and read each answer as its ``...Result`` model. So a parameter or a
figure is spelled once, here, and a mismatch between the two sides is a clear
error, not a ``KeyError`` deep in a page.

Params models are strict about names (an unknown parameter is refused) but check
only shapes: what a value means (a known style, a size within limits) is checked
by the method itself, which raises ``BadRequest`` saying what to fix. Results
ignore fields they do not know, so a newer server can add one during a rolling
upgrade.

Pydantic only: no database, no matplotlib, so the web tier can import it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat

# The most stats drawn in one graph: compare, a dashboard card, an embed.
MAX_STATS_ON_GRAPH = 3
# How often the ingestion writer updates a stat's data_received_at (at most once
# per this many seconds); the graph server's render cache relies on it.
RECEIVED_MARK_SECONDS = 60
# Graph styles the graph server draws, and the longest title it puts on one.
STYLES = ("full", "mini", "spark", "fill", "fill_bar")
MAX_TITLE = 200
# Colour themes a graph is drawn in (the page's light or dark mode), and the largest
# device pixel ratio an image is drawn for: ``scale`` 2 draws a 2x image of the same layout.
THEMES = ("light", "dark")
MAX_SCALE = 3.0
# The pixel margins around a ``full`` graph's plot area, whatever its size: pages map the
# mouse to time with them without asking the graph server for the layout.
FULL_GRAPH_MARGINS = {"left": 58, "right": 22, "top": 38, "bottom": 30}


def full_graph_plot_area(width: int, height: int) -> list[float]:
    """A ``full`` graph's data area at this size, ``[x0, y0, x1, y1]`` as fractions of
    the image from its top left (what ``graph.render`` answers as ``plot_area``)."""
    m = FULL_GRAPH_MARGINS
    return [m["left"] / width, m["top"] / height, 1 - m["right"] / width,
            1 - m["bottom"] / height]


class Params(BaseModel):
    """A method's parameters, by name; an unknown name is an error, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Result(BaseModel):
    """A method's answer; fields this side does not know yet are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


# graph.render


class RenderParams(Params):
    """One graph of 1 to ``MAX_STATS_ON_GRAPH`` of the user's stats; see ``GraphServer.render``."""

    user_id: int
    stat_ids: list[str]
    timeframe: str = "1w"
    start: int | None = None
    previous: bool = True
    format: str = "png"
    width: int = 800
    height: int = 300
    timezone: str = "UTC"
    style: str = "full"
    title: str = ""
    with_body: bool = True
    chart: str = "line"
    scale: float = 1.0
    theme: str = "light"
    threshold: FiniteFloat | None = None
    normalise: bool = False


class MarkedComment(Result):
    time: int  # unix seconds
    text: str


class RenderResult(Result):
    """The drawn graph: ``body`` is the image in base64 (None when not asked for), and the
    layout a page needs to map pixels to time."""

    content_type: str
    etag: str
    cached: bool
    plot_area: list[float]  # [x0, y0, x1, y1], fractions of the image from its top left
    first: int  # the frame drawn, [first, end) in unix seconds
    end: int
    interval: int  # seconds per point
    comments: list[MarkedComment]
    body: str | None = None


# analysis.summarize


class SummarizeParams(Params):
    user_id: int
    stat_id: str
    timeframe: str = "1w"
    start: int | None = None
    timezone: str = "UTC"
    with_points: bool = False  # send the frame's points too (a stat page shows them)


class PeriodSummary(Result):
    """Figures of one period; every figure is None when nothing was received in it."""

    latest: float | None  # the value of the last interval with data
    latest_time: int | None  # the start of that interval (unix seconds)
    min: float | None
    max: float | None
    mean: float | None
    stddev: float | None  # population standard deviation
    total: float | None  # counters only: the sum of the interval sums
    points_with_data: int  # intervals that received at least one point
    received: int  # raw points received in the period
    first: int  # the period is [first, end), unix seconds
    end: int


class Change(Result):
    """Percent change from the previous period; None when there is nothing to compare with."""

    mean: float | None
    total: float | None


class SeriesPoint(Result):
    """One interval of a series, as ``aerie.series.Point``."""

    time: int  # unix seconds at the start of the interval
    value: float | None
    rcount: int  # raw points received in the interval


class Summary(Result):
    current: PeriodSummary
    previous: PeriodSummary
    change: Change
    points: list[SeriesPoint] | None = None  # the frame's, when asked ``with_points``

    def figures(self) -> dict[str, Any]:
        """The figures as plain data, for a presenter: the points are not figures."""
        return self.model_dump(exclude={"points"})


# analysis.overview


class OverviewParams(Params):
    user_id: int
    stat_ids: list[str]


class StatOverview(Result):
    """One stat in the overview, which answers them by public id (ids the user has no
    stat for are absent)."""

    spark: list[float | None]  # the last 24 hours, hourly; a value stat's empty hour is None
    latest: float | None  # the value of the last hour with data among them


# analysis.rank_by_latest

MAX_RANKED = 500  # stats in one answer: a page of the list, or a few


class RankParams(Params):
    """One page of the user's live stats matching ``search`` and ``tag`` (as the stat list
    filters them), ranked by latest value across all of them."""

    user_id: int
    search: str = ""
    tag: str = ""
    offset: int = Field(0, ge=0)
    limit: int = Field(100, ge=1, le=MAX_RANKED)


# analysis.backtest


@dataclass(frozen=True)
class Rule:
    """An alert's parameters, checked: what a form or the API may set (forms are parsed
    into one by ``interactor.alert_forms.parse_rule``). One type for the store, the use
    cases and the backtest's RPC params (pydantic validates a dataclass field as it is)."""

    kind: str
    time_window: str
    operator: str | None = None
    threshold: float | None = None
    percentage: float | None = None
    time_delta: str | None = None
    repeat_minutes: int = 60
    email: bool = True
    webhook_url: str | None = None


class BacktestParams(Params):
    user_id: int
    stat_id: str
    rule: Rule
    days: int = 30


class BacktestResult(Result):
    """What the alert would have done over the last ``days`` days."""

    days: int
    firings: list[int]  # unix seconds
    resolutions: list[int]
    resolution: int  # seconds per step judged


# scheduler.status


class StatusParams(Params):
    pass


class PassFigures(Result):
    """What one pass did: whether it held the lease, alerts judged, events, mail sent."""

    leader: bool
    judged: int = 0
    events: int = 0
    digests: int = 0
    reports: int = 0
    mailed: int = 0


class StatusResult(Result):
    """Who the scheduler copy that answered is, and what its last pass did."""

    holder: str
    leader: bool  # whether it held the lease at its last pass
    last_pass_at: float | None
    last_pass: PassFigures | None
    failed_passes: int = 0  # passes that raised since the copy started


# What each app server serves: method name -> its params model.
GRAPH_METHODS: dict[str, type[Params]] = {"render": RenderParams}
ANALYSIS_METHODS: dict[str, type[Params]] = {
    "summarize": SummarizeParams, "overview": OverviewParams, "backtest": BacktestParams,
    "rank_by_latest": RankParams,
}
SCHEDULER_METHODS: dict[str, type[Params]] = {"status": StatusParams}
