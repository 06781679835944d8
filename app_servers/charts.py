"""Stat graphs drawn with matplotlib: series in, PNG or SVG bytes out, no database.

The margins of each style are fixed in pixels, so the plot area of a graph
depends only on its style and size: the page's JavaScript maps a mouse x to a
point with ``plot_area`` and the frame's bounds, and graphs of one size line up.
Point ``i`` is drawn at the middle of its interval and the x axis spans exactly
``[first, end)``, so the point under the mouse is ``floor((t - first) / interval)``.

matplotlib keeps process-wide state (rcParams, font and text caches), so every
render holds ``_MATPLOTLIB``; only the object-oriented API is used (a ``Figure``
on an Agg canvas), never pyplot and its global figures.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import matplotlib
import numpy as np
import numpy.typing as npt
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator
from matplotlib.typing import RcKeyType

from aerie.errors import BadRequest
from aerie.series import Series

CONTENT_TYPES = {"png": "image/png", "svg": "image/svg+xml"}
STYLES = ("full", "mini", "spark")
WIDTHS = (100, 2000)
HEIGHTS = (40, 1200)
MAX_TITLE = 200
EMPTY_MESSAGE = "no data in this timeframe yet"
# First a strong blue; then orange and violet, which stay apart for colour-blind readers.
PALETTE = ("#2563eb", "#ea580c", "#7c3aed")
INK, MUTED, FAINT, GRID = "#111827", "#6b7280", "#d1d5db", "#eef0f3"
DPI = 100  # one inch of figure is 100 pixels, so pixel margins are exact

_MATPLOTLIB = threading.Lock()  # matplotlib's global state is per process, so is its lock
_RC: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",  # keep text as text: smaller, selectable, and testable
    "svg.hashsalt": "aerie",  # stable element ids, so equal graphs are equal bytes
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # bundled with matplotlib: the same glyphs everywhere
    "axes.unicode_minus": True,
    "path.simplify": True,
}
Values = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Look:
    """One style's fixed sizes: margins in pixels, fonts and lines in points."""

    left: int
    right: int
    top: int
    bottom: int
    font: float
    line: float
    y_ticks: int
    px_per_x_tick: int
    min_width: int
    min_height: int


LOOKS = {
    "full": Look(58, 22, 38, 30, 9.0, 1.7, 3, 85, 240, 120),
    "mini": Look(34, 10, 6, 18, 7.0, 1.3, 2, 80, 120, 60),
    "spark": Look(2, 2, 3, 3, 7.0, 1.2, 0, 0, WIDTHS[0], HEIGHTS[0]),
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

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def look(self) -> Look:
        return LOOKS[self.style]


@dataclass(frozen=True)
class Rendered:
    body: bytes
    content_type: str
    plot_area: tuple[float, float, float, float]  # x0, y0, x1, y1: fractions, origin top-left


def chart_options(
    format: str, width: int, height: int, timezone: str, style: str, title: str
) -> ChartOptions:
    """Check drawing options; raise BadRequest saying what to use instead."""
    if format not in CONTENT_TYPES:
        raise BadRequest(f"format must be 'png' or 'svg', not {format!r}")
    if style not in STYLES:
        raise BadRequest(f"style must be 'full', 'mini' or 'spark', not {style!r}")
    look = LOOKS[style]
    if not max(WIDTHS[0], look.min_width) <= width <= WIDTHS[1]:
        raise BadRequest(
            f"width must be {max(WIDTHS[0], look.min_width)} to {WIDTHS[1]} pixels "
            f"for style {style!r}, not {width}" + _smaller_style_hint(style)
        )
    if not max(HEIGHTS[0], look.min_height) <= height <= HEIGHTS[1]:
        raise BadRequest(
            f"height must be {max(HEIGHTS[0], look.min_height)} to {HEIGHTS[1]} pixels "
            f"for style {style!r}, not {height}" + _smaller_style_hint(style)
        )
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(
            f"unknown time zone {timezone!r}; use an IANA name such as 'Europe/Berlin' or 'UTC'"
        ) from None
    if len(title) > MAX_TITLE:
        raise BadRequest(f"title is {len(title)} characters; the limit is {MAX_TITLE}")
    return ChartOptions(format, width, height, timezone, style, title)


def _smaller_style_hint(style: str) -> str:
    return {"full": "; use style 'mini' or 'spark' for small graphs", "mini": "; use 'spark'"}.get(
        style, ""
    )


def render_chart(
    current: Sequence[Series], previous: Series | None, options: ChartOptions
) -> Rendered:
    """Draw one to three series over the same frame, and ``previous`` (the period
    before the first series) dashed behind them; safe to call from any thread.
    """
    with _MATPLOTLIB, matplotlib.rc_context(_RC):
        figure = Figure(figsize=(options.width / DPI, options.height / DPI), dpi=DPI)
        FigureCanvasAgg(figure)
        axes = figure.add_axes(_axes_box(options))
        _plot(axes, current, previous, options)
        body = _save(figure, options)
    box = axes.get_position()
    area = (box.x0, 1 - box.y1, box.x1, 1 - box.y0)
    x0, y0, x1, y1 = (round(float(v), 5) for v in area)  # plain floats: they go out as JSON
    return Rendered(body, options.content_type, (x0, y0, x1, y1))


def _axes_box(options: ChartOptions) -> tuple[float, float, float, float]:
    """``[left, bottom, width, height]`` in figure fractions, from the style's pixel margins."""
    look, w, h = options.look, options.width, options.height
    return (
        look.left / w,
        look.bottom / h,
        (w - look.left - look.right) / w,
        (h - look.top - look.bottom) / h,
    )


def _plot(
    axes: Axes, current: Sequence[Series], previous: Series | None, options: ChartOptions
) -> None:
    look = options.look
    first, interval = current[0].points[0].time, current[0].timeframe.interval
    count = len(current[0].points)
    x = _date_numbers([first + (i + 0.5) * interval for i in range(count)])
    lines = [_values(s) for s in current]
    before = _values(previous) if previous is not None and options.style != "spark" else None
    low, high = _y_limits(lines + ([before] if before is not None else []), current, options)
    if before is not None:
        axes.plot(x, before, color=PALETTE[0], alpha=0.45, lw=look.line * 0.8,
                  dashes=(3.5, 2.5), zorder=2)
    for i, y in enumerate(lines):
        axes.plot(x, y, color=PALETTE[i], lw=look.line, zorder=3 + i,
                  solid_joinstyle="round", solid_capstyle="round")
        _mark_lonely_points(axes, x, y, PALETTE[i], look)
        if len(lines) == 1 and options.style != "spark":
            axes.fill_between(x, y, low, color=PALETTE[i], alpha=0.07, lw=0, zorder=1)
    axes.set_xlim(*_date_numbers([first, first + count * interval]))
    axes.set_ylim(low, high)
    empty = not any(p.rcount for s in current for p in s.points)
    if options.style == "spark":
        _decorate_spark(axes, empty)
        return
    _decorate_axes(axes, options)
    if empty:
        axes.yaxis.set_major_locator(NullLocator())  # no data, no scale to read
        axes.text(0.5, 0.5, EMPTY_MESSAGE, transform=axes.transAxes, ha="center",
                  va="center", color=MUTED, fontsize=look.font + 1)
    if options.style == "full":
        _decorate_full(axes, current, before is not None, options)


def _values(series: Series) -> Values:
    """The series' values, with gaps as NaN so that lines break there."""
    return np.array([np.nan if p.value is None else p.value for p in series.points], dtype=float)


def _date_numbers(times: Sequence[float]) -> Values:
    return np.asarray(mdates.date2num([datetime.fromtimestamp(t, UTC) for t in times]))


def _mark_lonely_points(axes: Axes, x: Values, y: Values, colour: str, look: Look) -> None:
    """A value with gaps on both sides draws no line segment, so give it a dot."""
    known = np.isfinite(y)
    left = np.concatenate(([False], known[:-1]))
    right = np.concatenate((known[1:], [False]))
    alone = known & ~left & ~right
    if alone.any():
        axes.plot(x[alone], y[alone], "o", color=colour, ms=look.line * 1.8, zorder=6)


def _y_limits(
    lines: Sequence[Values], current: Sequence[Series], options: ChartOptions
) -> tuple[float, float]:
    """The data's range with a little air; counters start at zero, as a count cannot dip."""
    known = np.concatenate([y[np.isfinite(y)] for y in lines])
    if not known.size:
        return 0.0, 1.0
    low, high = float(known.min()), float(known.max())
    counters = all(s.stat.counter for s in current)
    if counters:
        low, high = min(low, 0.0), max(high, 0.0)
    if low == high:  # a flat line sits in the middle, or on the floor at zero
        pad = abs(low) * 0.5 or 1.0
        return (0.0, pad * 2) if low == 0 else (low - pad, high + pad)
    air = (high - low) * (0.08 if options.style == "spark" else 0.06)
    return (low if counters and low == 0 else low - air), high + air


def _y_locator(options: ChartOptions) -> MaxNLocator:
    """About one y tick per 45 pixels of plot height; ticks on 1, 2, 2.5 and 5 steps."""
    ticks = max(options.look.y_ticks, min(8, _axes_px(options)[1] // 45))
    return MaxNLocator(nbins=ticks, steps=[1, 2, 2.5, 5, 10])


def _decorate_spark(axes: Axes, empty: bool) -> None:
    axes.set_axis_off()
    if empty:  # too small for words: a faint baseline says "nothing yet"
        axes.axhline(0.5 * sum(axes.get_ylim()), color=FAINT, lw=1, dashes=(2, 2))


def _decorate_axes(axes: Axes, options: ChartOptions) -> None:
    """Quiet axes: no box, light horizontal grid, muted ticks, times in the user's zone."""
    look = options.look
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.spines["bottom"].set_color(FAINT)
    axes.grid(axis="y", color=GRID, lw=0.9)
    axes.set_axisbelow(True)
    axes.yaxis.set_major_locator(_y_locator(options))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: compact_number(v)))
    axes.tick_params(axis="y", length=0, pad=5, labelsize=look.font, labelcolor=MUTED)
    axes.tick_params(axis="x", length=3, width=0.8, color=FAINT, pad=3,
                     labelsize=look.font, labelcolor=MUTED)
    # Asking for at least half the ticks that fit picks days over months for a
    # quarter and hours over days for a day or two.
    most = max(3, _axes_px(options)[0] // look.px_per_x_tick)
    locator = mdates.AutoDateLocator(tz=options.tz, minticks=max(2, most // 2), maxticks=most)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(
        mdates.ConciseDateFormatter(
            locator, tz=options.tz, show_offset=False,
            formats=["%Y", "%b", "%b %-d", "%H:%M", "%H:%M", "%S.%f"],
            zero_formats=["", "%Y", "%b", "%b %-d", "%H:%M", "%H:%M"],
        )
    )
    axes.xaxis.set_minor_locator(NullLocator())


def _decorate_full(
    axes: Axes, current: Sequence[Series], has_previous: bool, options: ChartOptions
) -> None:
    """Title top left, legend top right, unit beside the y axis."""
    look, figure = options.look, axes.get_figure()
    assert isinstance(figure, Figure)
    units = {s.stat.unit for s in current}
    shared_unit = units.pop() if len(units) == 1 else None
    title = options.title or (current[0].stat.name if len(current) == 1 else "")
    top = 1 - 11 / options.height
    if title:
        figure.text(look.left / options.width, top, _fit(title, options.width * 0.55),
                    ha="left", va="top", fontsize=look.font + 1.5, color=INK, weight="bold")
    if shared_unit:
        # The label's baseline: one line of text in from the figure's left edge.
        axes.set_ylabel(shared_unit, color=MUTED, fontsize=look.font)
        axes.yaxis.set_label_coords(-(look.left - 17) / _axes_px(options)[0], 0.5)
    handles = _legend_handles(current, has_previous, shared_unit, look)
    if handles:
        figure.legend(
            handles=handles, loc="upper right", frameon=False, fontsize=look.font,
            bbox_to_anchor=(1 - look.right / options.width, top + 4 / options.height),
            ncols=len(handles), handlelength=1.4, handletextpad=0.5, columnspacing=1.4,
            borderaxespad=0, borderpad=0, labelcolor=MUTED,
        )


def _legend_handles(
    current: Sequence[Series], has_previous: bool, shared_unit: str | None, look: Look
) -> list[Line2D]:
    """Names when comparing stats; 'this / previous period' when the previous one is drawn."""
    if len(current) > 1:
        return [
            Line2D([], [], color=PALETTE[i], lw=look.line * 1.4, label=_fit(
                s.stat.name + (f" ({s.stat.unit})" if s.stat.unit and not shared_unit else ""), 240
            ))
            for i, s in enumerate(current)
        ]
    if has_previous:
        return [
            Line2D([], [], color=PALETTE[0], lw=look.line * 1.4, label="this period"),
            Line2D([], [], color=PALETTE[0], lw=look.line, alpha=0.55, dashes=(3.5, 2.5),
                   label="period before"),
        ]
    return []


def _axes_px(options: ChartOptions) -> tuple[int, int]:
    look = options.look
    return (options.width - look.left - look.right, options.height - look.top - look.bottom)


def _fit(text: str, pixels: float) -> str:
    """Cut ``text`` to roughly ``pixels`` wide (about 7 px a character) with an ellipsis."""
    limit = max(4, int(pixels / 7))
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def compact_number(value: float) -> str:
    """Tick labels people read at a glance: 950, 1.2k, 3.4M, 0.25, −12."""
    if value == 0:
        return "0"
    sign = "−" if value < 0 else ""
    size = abs(value)
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= scale:
            return sign + _short(size / scale) + suffix
    return sign + _short(size)


def _short(size: float) -> str:
    if size < 0.01:
        return f"{size:.2g}"
    text = f"{size:.0f}" if size >= 100 else f"{size:.1f}" if size >= 10 else f"{size:.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


_SVG_SIZE = re.compile(rb'<svg([^>]*?) width="[\d.]+pt" height="[\d.]+pt"')


def _save(figure: Figure, options: ChartOptions) -> bytes:
    """PNG at exactly width x height pixels, or SVG sized in pixels (matplotlib says pt)."""
    out = io.BytesIO()
    if options.format == "png":
        figure.savefig(out, format="png", dpi=DPI, facecolor="white",
                       metadata={"Software": None})
        return out.getvalue()
    figure.savefig(out, format="svg", facecolor="white", metadata={"Date": None})
    size = f' width="{options.width}" height="{options.height}"'.encode()
    return _SVG_SIZE.sub(lambda m: b"<svg" + m.group(1) + size, out.getvalue(), count=1)
