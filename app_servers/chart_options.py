"""What a graph may be asked for, checked before anything is drawn: format, size,
style, time zone, title and chart, and the fixed look each style is drawn in.

Styles: ``full`` (title, legend, labelled axes), ``mini`` (small axes), ``spark``
(the line alone), and the embed styles ``fill`` (the area under the line
shaded) and ``fill_bar`` (a bar per interval), which take full's labels where
they fit and mini's below that. A ``chart`` is a ``line`` over time or a
``histogram`` of how often each value came up. A ``theme`` (light or dark) colours
it for the page around it, and ``scale`` draws a PNG for high-density screens.

Kept apart from ``charts`` so that checking a request needs no drawing: this
module knows nothing of matplotlib, and ``charts`` only reads what it holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from aerie.contracts import FULL_GRAPH_MARGINS, MAX_SCALE, MAX_TITLE, STYLES, THEMES
from aerie.errors import BadRequest
from aerie.timeframes import check_timezone

CONTENT_TYPES = {"png": "image/png", "svg": "image/svg+xml"}
EMBED_STYLES = ("fill", "fill_bar")
EMBED_FULL_FROM = (400, 160)  # width and height from which embeds take full's labels
CHARTS = ("line", "histogram")
WIDTHS = (100, 2000)
HEIGHTS = (40, 1200)


@dataclass(frozen=True)
class Look:
    """One style's fixed sizes: margins in pixels, fonts and lines in points."""

    left: int
    right: int
    top: int
    bottom: int
    font: float
    line: float
    most_y_ticks: int
    px_per_x_tick: int
    min_width: int
    min_height: int


LOOKS = {
    "full": Look(FULL_GRAPH_MARGINS["left"], FULL_GRAPH_MARGINS["right"], FULL_GRAPH_MARGINS["top"],
                 FULL_GRAPH_MARGINS["bottom"], 9.0, 1.7, 8, 85, 240, 120),
    # 8 points at 100 dpi are 11 px: the smallest label a reader should have to read.
    "mini": Look(34, 10, 6, 20, 8.0, 1.3, 2, 80, 120, 60),
    "spark": Look(2, 2, 3, 3, 7.0, 1.2, 0, 0, WIDTHS[0], HEIGHTS[0]),
}


@dataclass(frozen=True)
class Theme:
    """The colours a graph is drawn in, so it sits on its page: text, faint lines, background."""

    ink: str
    muted: str
    faint: str
    grid: str
    background: str


COLOURS = {
    "light": Theme(ink="#111827", muted="#6b7280", faint="#d1d5db", grid="#eef0f3",
                   background="#ffffff"),
    # static/aerie.css's dark palette: the panel behind the graph and its text.
    "dark": Theme(ink="#e5e7eb", muted="#9ca3af", faint="#4b5563", grid="#272b35",
                  background="#171a21"),
}


@dataclass(frozen=True)
class ChartOptions:
    """How to draw a graph, already checked; build it with ``chart_options``."""

    format: str
    width: int
    height: int
    timezone: str
    style: str
    title: str
    chart: str = "line"
    scale: float = 1.0  # image pixels per layout pixel (the screen's device pixel ratio)
    theme: str = "light"
    threshold: float | None = None  # a horizontal line: the alert threshold a backtest tests
    normalise: bool = False  # each line as % of its own largest value (compare, mixed units)

    @property
    def colours(self) -> Theme:
        return COLOURS[self.theme]

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def look_name(self) -> str:
        """The embed styles draw full's labels where they fit and mini's below that, so
        an embed of any size within limits is legible; the others are their own look."""
        if self.style not in EMBED_STYLES:
            return self.style
        big = self.width >= EMBED_FULL_FROM[0] and self.height >= EMBED_FULL_FROM[1]
        return "full" if big else "mini"

    @property
    def look(self) -> Look:
        return LOOKS[self.look_name]

    @property
    def marks_comments(self) -> bool:
        """Comments are marked on line charts; a sparkline has no room, a histogram no time."""
        return self.chart == "line" and self.style != "spark"


def chart_options(
    format: str, width: int, height: int, timezone: str, style: str, title: str,
    chart: str = "line", *, scale: float = 1.0, theme: str = "light",
    threshold: float | None = None, normalise: bool = False,
) -> ChartOptions:
    """Check drawing options; raise BadRequest saying what to use instead."""
    if format not in CONTENT_TYPES:
        raise BadRequest(f"format must be 'png' or 'svg', not {format!r}")
    if style not in STYLES:
        names = ", ".join(repr(s) for s in STYLES[:-1])
        raise BadRequest(f"style must be {names} or {STYLES[-1]!r}, not {style!r}")
    if chart not in CHARTS:
        raise BadRequest(f"chart must be 'line' or 'histogram', not {chart!r}")
    if theme not in THEMES:
        raise BadRequest(f"theme must be 'light' or 'dark', not {theme!r}")
    if not 1 <= scale <= MAX_SCALE:
        raise BadRequest(f"scale must be 1 to {MAX_SCALE:g} (the screen's pixel ratio), not {scale:g}")
    if threshold is not None and not math.isfinite(threshold):
        raise BadRequest("threshold must be a finite number")
    options = ChartOptions(format, width, height, timezone, style, title, chart,
                           round(scale, 2), theme, threshold, normalise)
    _check_size(options)
    check_timezone(timezone)
    if len(title) > MAX_TITLE:
        raise BadRequest(f"title is {len(title)} characters; the limit is {MAX_TITLE}")
    return options


def _check_size(options: ChartOptions) -> None:
    """Sizes within the drawn look's limits (an embed's smallest look is mini's)."""
    look, style = options.look, options.style
    for what, size, (least, most) in (
        ("width", options.width, (max(WIDTHS[0], look.min_width), WIDTHS[1])),
        ("height", options.height, (max(HEIGHTS[0], look.min_height), HEIGHTS[1])),
    ):
        if not least <= size <= most:
            hint = "; use style 'mini' or 'spark' for small graphs" if style == "full" else (
                "; use 'spark'" if style != "spark" else "")
            raise BadRequest(
                f"{what} must be {least} to {most} pixels for style {style!r}, "
                f"not {size}{hint if size < least else ''}"
            )
