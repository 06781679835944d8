"""Stat graphs drawn with matplotlib: series in, PNG or SVG bytes out, no database.

The margins of each style are fixed in pixels, so the plot area of a graph
depends only on its style and size: the page's JavaScript maps a mouse x to a
point with ``plot_area`` and the frame's bounds, and graphs of one size line up.
Point ``i`` is drawn at the middle of its interval and the x axis spans exactly
``[first, end)``, so the point under the mouse is ``floor((t - first) / interval)``.

The styles, sizes and charts that may be asked for, and each style's look, are
checked and defined in ``chart_options``; this module draws them. A ``histogram``
chart shows how many intervals fell in each value bin (binned and drawn by
``histograms``). Comments mark their moments on line charts (``markers``). Both
draw on axes made and framed here and import nothing from this module.

matplotlib keeps process-wide state (rcParams, font and text caches), so every
render holds ``_MATPLOTLIB``; only the object-oriented API is used (a ``Figure``
on an Agg canvas), never pyplot and its global figures.
"""

from __future__ import annotations

import io
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import matplotlib
import numpy as np
import numpy.typing as npt
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import PathPatch
from matplotlib.path import Path
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator
from matplotlib.typing import RcKeyType
from PIL import Image

from aerie.comments import Comment
from aerie.numbers import compact_number
from aerie.series import Series
from app_servers.chart_options import ChartOptions, Look
from app_servers.gaps import NORMALISED_LABEL, as_percent_of_largest, line_values
from app_servers.histograms import PLOTTABLE, draw_histogram, histogram, value_axis
from app_servers.markers import mark_comments, with_tooltips

EMPTY_MESSAGE = "no data in this timeframe yet"
# First a strong blue; then orange and violet, which stay apart for colour-blind readers.
PALETTE = ("#2563eb", "#ea580c", "#7c3aed")
THRESHOLD = "#dc2626"
DAY = 86400
DPI = 100  # one inch of figure is 100 pixels, so pixel margins are exact
# The legend's spacing in font sizes, as matplotlib's Legend(handlelength=1.4,
# handletextpad=0.5, columnspacing=1.4) spaces it; a swatch sits 0.35 above the baseline.
LEGEND_SWATCH, LEGEND_PAD, LEGEND_GAP, LEGEND_SWATCH_RISE = 1.4, 0.5, 1.4, 0.35
# zlib level 3: a third less time than Pillow's default 6 for a file about 4% larger.
PNG_COMPRESSION = 3

_MATPLOTLIB = threading.Lock()  # matplotlib's global state is per process, so is its lock
_RC: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",  # keep text as text: smaller, selectable, and testable
    "svg.hashsalt": "aerie",  # stable element ids, so equal graphs are equal bytes
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # bundled with matplotlib: the same glyphs everywhere
    "axes.unicode_minus": True,
    "text.parse_math": False,  # a stat named "cost in $ per $1k" is words, not TeX
    "path.simplify": True,
}
Values = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Rendered:
    body: bytes
    content_type: str
    plot_area: tuple[float, float, float, float]  # x0, y0, x1, y1: fractions, origin top-left


def render_chart(
    current: Sequence[Series], previous: Series | None, options: ChartOptions,
    unfinished: bool = False, comments: Sequence[Comment] = (),
) -> Rendered:
    """Draw one to three series over the same frame, and ``previous`` (the period
    before the first series) dashed behind them; safe to call from any thread.

    ``unfinished`` says the last interval is still running: a counter's last sum
    is then only partial, and its drop is drawn faint rather than as news.
    ``comments`` (in the frame) are marked where ``options.marks_comments``; in
    SVG each marker carries its text as a tooltip. A histogram ignores ``previous``.
    """
    with _MATPLOTLIB, matplotlib.rc_context(_RC):
        frame = _FRAMES.take(options)
        axes = frame.axes
        if options.chart == "histogram":
            _plot_histogram(axes, current, options, unfinished)
        else:
            _plot(axes, current, previous, options, unfinished)
        marked = comments if options.marks_comments else ()
        mark_comments(axes, _date_numbers([c.at for c in marked]), options.look.font)
        body = _save(frame, options)
        frame.clear()  # only now: a render that raised leaves its frame to be collected
        _FRAMES.give_back(frame)
    if options.format == "svg" and marked:
        body = with_tooltips(body, marked)
    box = axes.get_position()
    area = (box.x0, 1 - box.y1, box.x1, 1 - box.y0)
    x0, y0, x1, y1 = (round(float(v), 5) for v in area)  # plain floats: they go out as JSON
    return Rendered(body, options.content_type, (x0, y0, x1, y1))


class _Frame:
    """A figure, its Agg canvas and its axes, made and dressed once per size and style
    (``_dress``); each render adds its own artists and ``clear`` takes them away.

    Making a figure and its axes, and the ticks they grow on their first draw, costs
    more than drawing a graph, so a graph server keeps a few frames (``_Frames``).
    Everything a render sets on the axes themselves (limits, the y locator, labels)
    it sets every time, so nothing of one graph can show in the next.
    """

    def __init__(self, options: ChartOptions) -> None:
        self.key = _frame_key(options)
        self.pixels = options.width * options.height
        self.figure = Figure(figsize=(options.width / DPI, options.height / DPI), dpi=DPI,
                             facecolor=options.colours.background)
        self.canvas = FigureCanvasAgg(self.figure)
        self.axes = self.figure.add_axes(_axes_box(options))
        self.axes.patch.set_visible(False)  # the figure's background shows: one fill fewer
        _dress(self.axes, options)

    def clear(self) -> None:
        """Remove every artist a render added: lines, fills, bars, texts, the legend's."""
        axes, figure = self.axes, self.figure
        for artist in (*axes.lines, *axes.collections, *axes.patches, *axes.texts,
                       *figure.texts, *figure.lines, *figure.artists):
            artist.remove()
        axes.set_ylabel("")


def _frame_key(options: ChartOptions) -> ChartOptions:
    """What a frame is kept by: the options ``_Frame`` and ``_dress`` read. The title,
    scale, threshold and normalising are each render's own (drawn, labelled or saved
    per graph and cleared after), so graphs differing only in those share a frame."""
    return replace(options, title="", scale=1.0, threshold=None, normalise=False)


class _Frames:
    """The frames kept for reuse, by ``_frame_key``, least recently used
    first out; at most ``most_pixels`` of canvas in all (4 bytes each). Only used
    under ``_MATPLOTLIB``."""

    def __init__(self, most_pixels: int) -> None:
        self._kept: OrderedDict[ChartOptions, _Frame] = OrderedDict()
        self._most_pixels = most_pixels

    def take(self, options: ChartOptions) -> _Frame:
        """A clean frame for ``options``: a kept one, or a new one."""
        return self._kept.pop(_frame_key(options), None) or _Frame(options)

    def give_back(self, frame: _Frame) -> None:
        """Keep a cleared frame for the next graph of its kind, within the budget."""
        self._kept[frame.key] = frame
        while sum(kept.pixels for kept in self._kept.values()) > self._most_pixels:
            self._kept.popitem(last=False)


# About 6 full-page graphs' worth (1100x380): ~10 MB of canvas, every size a page,
# a dashboard card or a common embed asks for; rarer sizes are drawn on new frames.
_FRAMES = _Frames(most_pixels=2_500_000)


def _dress(axes: Axes, options: ChartOptions) -> None:
    """What every graph of this size and style shares: a bare sparkline, or quiet axes
    (and, over time, the time axis in the viewer's zone)."""
    if options.style == "spark":
        axes.set_axis_off()
        return
    _decorate_axes(axes, options)
    if options.chart == "line":
        _time_axis(axes, options)


def _axes_box(options: ChartOptions) -> tuple[float, float, float, float]:
    """``[left, bottom, width, height]`` in figure fractions, from the style's pixel margins."""
    (w, h), (plot_w, plot_h) = (options.width, options.height), _axes_px(options)
    return (options.look.left / w, options.look.bottom / h, plot_w / w, plot_h / h)


def _plot(
    axes: Axes, current: Sequence[Series], previous: Series | None, options: ChartOptions,
    unfinished: bool,
) -> None:
    look = options.look
    first, interval = current[0].points[0].time, current[0].timeframe.interval
    count = len(current[0].points)
    x = _date_numbers(first + (np.arange(count, dtype=np.float64) + 0.5) * interval)
    lines = [line_values(_values(s), s.stat.counter, options.style) for s in current]
    if options.normalise:
        lines = [as_percent_of_largest(y) for y in lines]
    before = None
    if previous is not None and options.style != "spark" and any(p.rcount for p in previous.points):
        before = line_values(_values(previous), previous.stat.counter, options.style)
        # Context, not news: before its first data the period before shows nothing,
        # rather than a counter's long run of zeros along the floor.
        before[: next(i for i, p in enumerate(previous.points) if p.rcount)] = np.nan
    low, high = _y_limits(lines + ([before] if before is not None else []), current, options)
    if options.threshold is not None:  # an alert's threshold, dashed across the frame
        low, high = min(low, options.threshold), max(high, options.threshold)
        axes.axhline(options.threshold, color=THRESHOLD, lw=1.2, dashes=(5, 3), zorder=2,
                     gid="threshold")
    if before is not None:
        axes.add_line(Line2D(x, before, color=PALETTE[0], alpha=0.45, lw=look.line * 0.8,
                             dashes=(3.5, 2.5), zorder=2))
    for i, (series, y) in enumerate(zip(current, lines, strict=True)):
        partial = unfinished and series.stat.counter
        if options.style == "fill_bar":
            _draw_bars(axes, x, y, (i, len(lines)), _bar_base(low, high), interval / DAY, partial)
        else:
            _draw_line(axes, x, y, PALETTE[i], look, 3 + i, partial)
        if shade := _shade(options.style, len(lines)):
            _fill_under(axes, x, y, low, PALETTE[i], shade)
    axes.set_xlim(*_date_numbers([first, first + count * interval]))
    axes.set_ylim(low, high)
    empty = not any(p.rcount for s in current for p in s.points)
    if options.style == "spark":
        _decorate_spark(axes, empty, options)
        return
    axes.yaxis.set_major_locator(_y_locator(options))
    if empty:
        _say_empty(axes, look, options)
    if options.look_name == "full":
        _decorate_full(axes, current, before is not None, options)


def _shade(style: str, lines: int) -> float:
    """The opacity under each line: the fill style's point; a hint under one line elsewhere."""
    if style == "fill":
        return 0.28 if lines == 1 else 0.14
    return 0.07 if lines == 1 and style in ("full", "mini") else 0.0


def _fill_under(axes: Axes, x: Values, y: Values, floor: float, colour: str, alpha: float) -> None:
    """Shade between the line and ``floor``, a polygon per run of known values, as
    ``fill_between`` shades, but drawn as one patch: a collection costs far more to draw."""
    known = np.isfinite(y)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], known.astype(np.int8), [0]))))
    runs = []
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        xs, ys = x[start:stop], y[start:stop]
        # The last vertex only closes the outline (Path ignores its place).
        outline = np.column_stack((np.concatenate(([xs[0]], xs, [xs[-1], xs[0]])),
                                   np.concatenate(([floor], ys, [floor, floor]))))
        runs.append(Path(outline, closed=True))
    if runs:  # add_artist, not add_patch: the limits are set, and fitting them is costly
        axes.add_artist(PathPatch(Path.make_compound_path(*runs), facecolor=colour,
                                  alpha=alpha, lw=0, zorder=1))


def _bar_base(low: float, high: float) -> float:
    """Bars grow from zero where the axis shows it, else from the nearer edge."""
    return min(max(0.0, low), high)


def _draw_bars(
    axes: Axes, x: Values, y: Values, slot: tuple[int, int], base: float, step: float,
    partial_end: bool,
) -> None:
    """A bar per interval (``x`` their middles, ``step`` their width in days), compared
    stats side by side; gaps draw nothing, a partial last sum draws faint."""
    index, slots = slot
    width = step * 0.8 / slots
    left = x - step * 0.4 + index * width
    whole = np.isfinite(y)
    last = np.zeros_like(whole)
    if partial_end:
        last[-1], whole[-1] = whole[-1], False
    for keep, alpha in ((whole, 1.0), (last, 0.35)):
        if keep.any():
            axes.bar(left[keep], y[keep] - base, width, bottom=base, align="edge",
                     color=PALETTE[index], alpha=alpha, lw=0, zorder=3 + index)


def _say_empty(axes: Axes, look: Look, options: ChartOptions) -> None:
    axes.yaxis.set_major_locator(NullLocator())  # no data, no scale to read
    axes.text(0.5, 0.5, EMPTY_MESSAGE, transform=axes.transAxes, ha="center",
              va="center", color=options.colours.muted, fontsize=look.font + 1)


def _plot_histogram(
    axes: Axes, current: Sequence[Series], options: ChartOptions, unfinished: bool
) -> None:
    """The bars of ``histograms`` in this style's frame: intervals counted up the
    side, values with their unit along the bottom."""
    bins = histogram(current, unfinished)
    axes.set_xlim(0, 1)  # what a new axes shows, for an empty histogram, which sets none
    axes.set_ylim(0, 1)
    draw_histogram(axes, bins, PALETTE)
    if options.style == "spark":
        _decorate_spark(axes, not bins.edges, options)
        return
    axes.yaxis.set_major_locator(_y_locator(options))
    value_axis(axes, _most_x_ticks(options), _shared_unit(current))
    if not bins.edges:
        axes.xaxis.set_major_locator(NullLocator())
        _say_empty(axes, options.look, options)
    if options.look_name == "full":
        _decorate_full(axes, current, False, options)


def _values(series: Series) -> Values:
    """The series' values, with gaps as NaN so that lines break there; values too large
    to plot are gaps too."""
    return np.array(
        [p.value if p.value is not None and abs(p.value) <= PLOTTABLE else np.nan
         for p in series.points],
        dtype=float,
    )


def _date_numbers(times: Sequence[float] | Values) -> Values:
    """Unix seconds as matplotlib's date numbers, all at once (to the millisecond)."""
    moments = np.round(np.asarray(times, dtype=float) * 1000).astype("datetime64[ms]")
    return np.asarray(mdates.date2num(moments), dtype=float)


def _draw_line(
    axes: Axes, x: Values, y: Values, colour: str, look: Look, zorder: int, partial_end: bool
) -> None:
    """The line, its last segment faint when the last value is partial, and lone values as dots."""
    whole = len(y) - 1 if partial_end and len(y) > 1 else len(y)
    style: dict[str, Any] = {"color": colour, "lw": look.line, "solid_joinstyle": "round",
             "solid_capstyle": "round", "zorder": zorder}
    axes.add_line(Line2D(x[:whole], y[:whole], **style))
    if whole < len(y):
        axes.add_line(Line2D(x[-2:], y[-2:], alpha=0.35, **style))
    _mark_lonely_points(axes, x, y, colour, look)


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
    """At most one y tick per 45 pixels of plot height, on steps of 1, 2, 2.5 or 5;
    whole numbers when the axis counts intervals."""
    ticks = max(2, min(options.look.most_y_ticks, _axes_px(options)[1] // 45))
    return MaxNLocator(nbins=ticks, steps=[1, 2, 2.5, 5, 10],
                       integer=options.chart == "histogram")


def _decorate_spark(axes: Axes, empty: bool, options: ChartOptions) -> None:
    """On the bare axes ``_dress`` made: nothing, or a sign that there is nothing yet."""
    if empty:  # too small for words: a faint baseline says "nothing yet"
        axes.axhline(0.5 * sum(axes.get_ylim()), color=options.colours.faint, lw=1,
                     dashes=(2, 2))


def _decorate_axes(axes: Axes, options: ChartOptions) -> None:
    """Quiet axes: no box, light horizontal grid, muted ticks, compact numbers up the side
    (where the ticks go is each graph's own: ``_y_locator``)."""
    look, colours = options.look, options.colours
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.spines["bottom"].set_color(colours.faint)
    axes.grid(axis="y", color=colours.grid, lw=0.9)
    axes.set_axisbelow(True)
    axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: compact_number(v)))
    axes.tick_params(axis="y", left=False, length=0, pad=5, labelsize=look.font,
                     labelcolor=colours.muted)
    axes.tick_params(axis="x", length=3, width=0.8, color=colours.faint, pad=3,
                     labelsize=look.font, labelcolor=colours.muted)
    axes.xaxis.set_minor_locator(NullLocator())
    # Labels at fixed places: matplotlib would otherwise measure every tick label to
    # place them, on every draw. The y label's baseline is one line of text in from
    # the figure's left edge; the x axis has no label.
    axes.yaxis.set_label_coords(-(look.left - 17) / _axes_px(options)[0], 0.5)
    axes.xaxis.set_label_coords(0.5, 0)


def _time_axis(axes: Axes, options: ChartOptions) -> None:
    """Time ticks in the user's zone, as many as fit."""
    # Asking for at least half the ticks that fit picks days over months for a
    # quarter and hours over days for a day or two.
    most = _most_x_ticks(options)
    locator = mdates.AutoDateLocator(tz=options.tz, minticks=max(2, most // 2), maxticks=most)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(
        mdates.ConciseDateFormatter(
            locator, tz=options.tz, show_offset=False,
            formats=["%Y", "%b", "%b %-d", "%H:%M", "%H:%M", "%S.%f"],
            zero_formats=["", "%Y", "%b", "%b %-d", "%H:%M", "%H:%M"],
        )
    )


def _decorate_full(
    axes: Axes, current: Sequence[Series], has_previous: bool, options: ChartOptions
) -> None:
    """Title top left, legend top right (both cut to fit, measured), unit beside the y axis."""
    look, figure = options.look, axes.get_figure()
    assert isinstance(figure, Figure) and isinstance(figure.canvas, FigureCanvasAgg)
    renderer = figure.canvas.get_renderer()
    shared_unit = _shared_unit(current)
    y_label = ("intervals" if options.chart == "histogram"
               else NORMALISED_LABEL if options.normalise else shared_unit)
    if y_label:
        # The label's baseline: one line of text in from the figure's left edge.
        axes.set_ylabel(y_label, color=options.colours.muted, fontsize=look.font)  # placed once
    title = options.title or (current[0].stat.name if len(current) == 1 else "")
    room = _axes_px(options)[0]
    top = 1 - 11 / options.height
    title_end: float = look.left + room  # where the legend, if any, begins (pixels)
    entries = _legend_entries(current, has_previous, shared_unit, look, room)
    if entries:
        share = (room * (0.6 if title else 1.0)) / len(entries) - 40  # less swatch and gap
        title_end = _legend(figure, entries, options, share, renderer) - 16
    if title:
        text = figure.text(look.left / options.width, top, title, ha="left", va="top",
                           fontsize=look.font + 1.5, color=options.colours.ink, weight="bold")
        _shorten(text, title_end - look.left, renderer)


def _legend(
    figure: Figure, entries: Sequence[tuple[str, dict[str, Any]]], options: ChartOptions,
    share: float, renderer: RendererAgg,
) -> float:
    """The legend in one row at the top right: each entry a swatch of its line, then its
    label cut to ``share`` pixels; returns where it begins (pixels from the left).

    Drawn as plain lines and texts, spaced as matplotlib's own legend would be (swatch
    ``LEGEND_SWATCH`` font sizes long, ``LEGEND_PAD`` to its label, ``LEGEND_GAP``
    between entries): a ``Legend`` lays itself out again on every draw, which cost a
    quarter of a graph's drawing.
    """
    look = options.look
    em = look.font * DPI / 72  # the font size in pixels
    top = options.height - 7  # the row's top, just above the title's
    _, lp_height, lp_descent = renderer.get_text_width_height_descent(
        "lp", FontProperties(size=look.font), ismath=False)
    swatch_y = top - (lp_height - lp_descent) + LEGEND_SWATCH_RISE * em
    texts = [figure.text(0, top / options.height, label, ha="left", va="top",
                         fontsize=look.font, color=options.colours.muted) for label, _ in entries]
    widths = []
    for text in texts:
        _shorten(text, share, renderer)
        widths.append(text.get_window_extent(renderer).width)
    entry = (LEGEND_SWATCH + LEGEND_PAD) * em
    begins = options.width - look.right - sum(widths) - len(entries) * entry - (
        len(entries) - 1) * LEGEND_GAP * em
    x = begins
    for (_, line), text, width in zip(entries, texts, widths, strict=True):
        figure.add_artist(Line2D([x / options.width, (x + LEGEND_SWATCH * em) / options.width],
                                 [swatch_y / options.height] * 2, **line))
        text.set_x((x + entry) / options.width)
        x += entry + width + LEGEND_GAP * em
    return begins


def _legend_entries(
    current: Sequence[Series], has_previous: bool, shared_unit: str | None, look: Look, room: int
) -> list[tuple[str, dict[str, Any]]]:
    """Each entry's label and its swatch's line style: names when comparing stats; 'this
    period / period before' when the latter is drawn and there is room to say so.
    """
    if len(current) > 1:
        return [
            (s.stat.name + (f" ({s.stat.unit})" if s.stat.unit and not shared_unit else ""),
             {"color": PALETTE[i], "lw": look.line * 1.4})
            for i, s in enumerate(current)
        ]
    if has_previous and room >= 420:
        return [
            ("this period", {"color": PALETTE[0], "lw": look.line * 1.4}),
            ("period before", {"color": PALETTE[0], "lw": look.line, "alpha": 0.55,
                               "dashes": (3.5, 2.5)}),
        ]
    return []


def _shorten(text: Text, pixels: float, renderer: RendererAgg) -> None:
    """Cut ``text`` with an ellipsis until it fits in ``pixels``, measured with its font."""
    whole = text.get_text()
    keep = len(whole)
    while keep > 1 and (width := text.get_window_extent(renderer).width) > pixels:
        keep = max(1, min(keep - 1, int(keep * pixels / width)))
        text.set_text(whole[:keep].rstrip() + "…")


def _shared_unit(current: Sequence[Series]) -> str | None:
    """The unit every series is in, if they agree (None: none, or several)."""
    units = {s.stat.unit for s in current}
    return units.pop() if len(units) == 1 else None


def _most_x_ticks(options: ChartOptions) -> int:
    """As many x ticks as fit one per ``px_per_x_tick`` of plot width, and at least 3."""
    return max(3, _axes_px(options)[0] // options.look.px_per_x_tick)


def _axes_px(options: ChartOptions) -> tuple[int, int]:
    look = options.look
    return (options.width - look.left - look.right, options.height - look.top - look.bottom)


_SVG_SIZE = re.compile(rb'<svg([^>]*?) width="[\d.]+pt" height="[\d.]+pt"')


def _save(frame: _Frame, options: ChartOptions) -> bytes:
    """PNG at exactly width x height pixels times ``scale``, or SVG sized in pixels
    (matplotlib says pt), on the theme's background.

    At scale 1 the PNG is the Agg canvas's pixels, drawn once and encoded by Pillow as
    RGB (the figure is opaque): ``savefig`` would draw the figure a second time. A
    sharper image (``scale`` 2 for high-density screens) is drawn again at its density.
    """
    out = io.BytesIO()
    background = options.colours.background
    if options.format == "png" and options.scale == 1:
        frame.canvas.draw()
        rgba = Image.frombuffer("RGBA", frame.canvas.get_width_height(),
                                frame.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        rgba.convert("RGB").save(out, format="png", compress_level=PNG_COMPRESSION)
        return out.getvalue()
    if options.format == "png":
        frame.figure.savefig(out, format="png", dpi=DPI * options.scale, facecolor=background,
                             metadata={"Software": None})
        return out.getvalue()
    frame.figure.savefig(out, format="svg", facecolor=background, metadata={"Date": None})
    size = f' width="{options.width}" height="{options.height}"'.encode()
    return _SVG_SIZE.sub(lambda m: b"<svg" + m.group(1) + size, out.getvalue(), count=1)
