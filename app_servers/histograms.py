"""How often each value came up: interval values in shared bins, counted and drawn as bars.

Binning is plain numpy (``histogram``, also useful without a picture). Drawing
puts bars and a value scale on axes that ``charts`` has made and frames, so this
module knows no styles, sizes or looks and imports nothing from ``charts``. It
draws only inside ``charts.render_chart``, which holds matplotlib's lock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, MaxNLocator

from aerie.numbers import compact_number
from aerie.series import Series

MOST_BINS = 30
# Larger values (totals stored before overflowing sums were refused) are left out of
# charts: axis limits, bin widths and pixel transforms around them overflow.
PLOTTABLE = 1e300


@dataclass(frozen=True)
class Histogram:
    """Bins shared by every series: bin ``i`` holds ``edges[i] <= v < edges[i + 1]``
    (the last bin holds its right edge too); ``counts[s][i]`` is how many of series
    ``s``'s intervals fell in bin ``i``. No data at all: no edges, no counts."""

    edges: list[float]
    counts: list[list[int]]


def histogram(current: Sequence[Series], unfinished: bool = False) -> Histogram:
    """How the series' interval values spread over the frame. A value stat's empty
    intervals count nowhere; a counter's count as 0, which is what they were. A
    counter's ``unfinished`` last interval is left out: its partial sum is no value."""
    if not any(p.rcount for s in current for p in s.points):
        return Histogram([], [[] for _ in current])
    values = [_known_values(s, drop_last=unfinished and s.stat.counter) for s in current]
    edges = _bin_edges(np.concatenate(values))
    return Histogram([float(e) for e in edges],
                     [[int(c) for c in np.histogram(y, edges)[0]] for y in values])


def _known_values(series: Series, drop_last: bool) -> npt.NDArray[np.float64]:
    """The values the series took: gaps (and anything not plottable) are no value to count."""
    points = series.points[:-1] if drop_last else series.points
    values = np.array([p.value for p in points if p.value is not None], dtype=float)
    return values[np.abs(values) <= PLOTTABLE]  # False for NaN and inf too


def _bin_edges(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """numpy's 'auto' bins, at most MOST_BINS; whole-number data (most counters) gets
    whole-number bins starting at its least value, so no bin splits a count."""
    edges = np.histogram_bin_edges(values, bins="auto")
    if len(edges) - 1 > MOST_BINS:
        edges = np.histogram_bin_edges(values, bins=MOST_BINS)
    low, high = float(values.min()), float(values.max())
    if not np.all(values == np.round(values)) or high - low > 2**52:
        return edges
    span = high + 1 - low
    width = max(math.ceil(edges[1] - edges[0]), math.ceil(span / MOST_BINS))
    return low + width * np.arange(math.ceil(span / width) + 1, dtype=float)


def draw_histogram(axes: Axes, bins: Histogram, colours: Sequence[str]) -> None:
    """Bars of intervals per value bin, series ``s`` in ``colours[s]``, with the axes'
    limits fitted to them; compared stats overlap, translucent, on the shared bins.
    Empty ``bins`` draw nothing and leave the limits alone."""
    if not bins.edges:
        return
    edges = np.array(bins.edges)
    for i, counts in enumerate(bins.counts):
        axes.bar(edges[:-1], counts, np.diff(edges), align="edge", color=colours[i],
                 alpha=0.85 if len(bins.counts) == 1 else 0.5, edgecolor="white", lw=0.5,
                 zorder=3 + i)
    axes.set_xlim(edges[0], edges[-1])
    axes.set_ylim(0, max(max(c) for c in bins.counts) * 1.06)


def value_axis(axes: Axes, most_ticks: int, unit: str | None) -> None:
    """Values along the bottom, carrying the unit (the y axis counts intervals)."""
    suffix = f" {unit}" if unit else ""
    axes.xaxis.set_major_locator(MaxNLocator(nbins=most_ticks, steps=[1, 2, 2.5, 5, 10]))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: compact_number(v) + suffix))
