"""How a line chart's values are prepared: which empty intervals a line is drawn across,
so sparse stats read as lines, and lines scaled to share an axis.

A value stat posted every 5 minutes has four empty minutes between its points on
a 1-hour view (1-minute intervals); drawn as they are, its points are isolated
dots. A line joins known points across a run of empty intervals when the run is
no longer than twice the stat's usual spacing (the median distance between its
points in the frame), and never across more than ``MOST_JOINED`` intervals: a
stat that stopped reporting for a while still shows the gap. Counters have no
empty intervals (a quiet minute counts 0), and bars show only what was received.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Values = npt.NDArray[np.float64]
MOST_JOINED = 60  # intervals: an hour of minutes, 5 hours of 5-minute points


def join_short_gaps(y: Values) -> Values:
    """``y`` with interior runs of NaN no longer than the gap limit filled in straight
    lines between their neighbours; leading, trailing and long runs stay NaN."""
    known = np.flatnonzero(np.isfinite(y))
    if known.size < 2:
        return y
    spacing = np.diff(known)
    limit = min(MOST_JOINED, max(2.0, 2 * float(np.median(spacing))))
    joined = y.copy()
    for start, stop in zip(known[:-1], known[1:], strict=True):
        if 1 < stop - start <= limit:
            inside = np.arange(start + 1, stop)
            joined[inside] = np.interp(inside, [start, stop], [y[start], y[stop]])
    return joined


def line_values(y: Values, counter: bool, style: str) -> Values:
    """What a line chart draws for a series: value stats' short gaps joined."""
    return y if counter or style == "fill_bar" else join_short_gaps(y)


NORMALISED_LABEL = "% of each one's largest"


def as_percent_of_largest(y: Values) -> Values:
    """``y`` as percentages of its largest magnitude (a line of zeros or gaps unchanged), so
    stats in different units are drawn against one axis."""
    known = y[np.isfinite(y)]
    largest = float(np.abs(known).max()) if known.size else 0.0
    return y * (100.0 / largest) if largest else y
