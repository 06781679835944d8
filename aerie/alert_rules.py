"""When an alert fires and when it resolves: one state machine for the live scheduler and
for the 30-day backtest, so the backtest shows exactly what the alert would have done.

Windows are whole rollup buckets ending with the bucket that holds the moment
judged: the finest resolution whose data is still kept for the window (and,
for a delta alert, the earlier window). A counter's window is judged by its
total, a value stat's by its mean. What a user of other tools hates most is
handled here:

- **Flapping**: once firing, a value or delta alert resolves only when the
  value is back past the threshold by a margin (``HYSTERESIS`` of it).
- **Gaps**: a value stat with no data in the window, or a delta with no data
  (or zero) to compare with, neither fires nor resolves; the ``data`` kind is
  the alert for gaps.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import accumulate

from sqlalchemy import Connection, select

from aerie.alerts import FIRING, OK, Alert
from aerie.numbers import percent_change
from aerie.schema import DAY, HOUR, MINUTE, stat_days, stat_hours, stat_minutes
from aerie.stats import Stat

HYSTERESIS = 0.05
# How far back each rollup is safely kept (below the default retention).
_SPANS = ((MINUTE, stat_minutes, 25 * DAY), (HOUR, stat_hours, 700 * DAY),
          (DAY, stat_days, None))


@dataclass(frozen=True)
class Buckets:
    """A stat's rollup buckets from ``start``, dense, with running sums for O(1) windows."""

    resolution: int
    start: int
    n: list[int]  # running totals: n[i] is the count in buckets before i
    total: list[float]

    def window(self, first: int, end: int) -> tuple[int, float]:
        """(points, sum) in the buckets starting in ``[first, end)``."""
        lo = max(0, min(len(self.n) - 1, (first - self.start) // self.resolution))
        hi = max(0, min(len(self.n) - 1, (end - self.start) // self.resolution))
        return self.n[hi] - self.n[lo], self.total[hi] - self.total[lo]


@dataclass(frozen=True)
class Step:
    """What one evaluation decided: the new state, and the event to notify, if any."""

    state: str
    value: float | None
    event: str | None  # firing, repeat, resolved or None


def resolution_for(alert: Alert) -> int:
    """The finest resolution still kept as far back as the alert looks."""
    reach = alert.window_seconds + (alert.delta_seconds if alert.kind == "delta" else 0)
    for resolution, _table, span in _SPANS:
        if span is None or reach <= span:
            return resolution
    return DAY


def load_buckets(conn: Connection, stat_id: int, resolution: int, first: int, end: int) -> Buckets:
    """The stat's buckets of ``resolution`` covering ``[first, end)``, as running sums."""
    table = {r: t for r, t, _s in _SPANS}[resolution]
    first -= first % resolution
    count = max(1, -(-(end - first) // resolution))
    n = [0] * count
    total = [0.0] * count
    rows = conn.execute(select(table.c.bucket, table.c.n, table.c.sum).where(
        table.c.stat_id == stat_id, table.c.bucket >= first,
        table.c.bucket < first + count * resolution))
    for bucket, rows_n, rows_sum in rows:
        i = (bucket - first) // resolution
        n[i] += rows_n
        total[i] += rows_sum
    return Buckets(resolution, first, [0, *accumulate(n)], [0.0, *accumulate(total)])


def window_end(moment: int, resolution: int) -> int:
    """Windows end with the bucket holding ``moment``: its latest points count at once."""
    return moment - moment % resolution + resolution


def measure(alert: Alert, stat: Stat, buckets: Buckets, moment: int) -> float | None:
    """The figure the alert judges at ``moment``: the window's total or mean, the delta's
    percentage change, or for a data alert 1 if no point fell in the window, else 0 (a
    stat younger than the window is not yet missing anything)."""
    end = window_end(moment, buckets.resolution)
    first = end - max(alert.window_seconds, buckets.resolution)
    counter = stat.counter
    if alert.kind == "data":
        n, _total = buckets.window(first, end)
        return 1.0 if n == 0 and moment - stat.created_at >= alert.window_seconds else 0.0
    current = _figure(counter, *buckets.window(first, end))
    if alert.kind == "value":
        return current
    shift = alert.delta_seconds
    earlier = _figure(counter, *buckets.window(first - shift, end - shift))
    return percent_change(current, earlier)


def _figure(counter: bool, n: int, total: float) -> float | None:
    if counter:
        return total
    return total / n if n else None


def breached(alert: Alert, value: float) -> bool:
    """Whether the alert's condition holds (``data``: nothing arrived in the window)."""
    if alert.kind == "data":
        return value > 0
    limit = alert.threshold if alert.kind == "value" else alert.percentage
    assert limit is not None
    if alert.operator == "greater than":
        return value > limit
    if alert.operator == "less than":
        return value < (limit if alert.kind == "value" else -limit)
    return abs(value) > limit  # different than


def recovered(alert: Alert, value: float) -> bool:
    """Whether a firing alert is back to normal, past the threshold by the margin."""
    if alert.kind == "data":
        return value == 0
    limit = alert.threshold if alert.kind == "value" else alert.percentage
    assert limit is not None
    margin = abs(limit) * HYSTERESIS
    if alert.operator == "greater than":
        return value <= limit - margin
    if alert.operator == "less than":
        return value >= (limit + margin if alert.kind == "value" else -limit + margin)
    return abs(value) <= limit - margin


def step(alert: Alert, value: float | None, now: int) -> Step:
    """The next state from the current one and the value measured now."""
    if value is None:
        return Step(alert.state, None, None)
    if alert.state == OK:
        return Step(FIRING, value, "firing") if breached(alert, value) else Step(OK, value, None)
    if recovered(alert, value):
        return Step(OK, value, "resolved")
    due = alert.repeat_minutes and alert.last_notified_at is not None and (
        now - alert.last_notified_at >= alert.repeat_minutes * 60)
    return Step(FIRING, value, "repeat" if due else None)


@dataclass(frozen=True)
class Backtest:
    """What the alert would have done: each firing and resolution, over ``days`` days."""

    days: int
    firings: list[int]  # unix seconds
    resolutions: list[int]
    resolution: int


def evaluate(conn: Connection, alert: Alert, stat: Stat, now: int) -> Step:
    """The alert's next step, judged on the stat's data now."""
    resolution = resolution_for(alert)
    reach = alert.window_seconds + (alert.delta_seconds if alert.kind == "delta" else 0)
    end = window_end(now, resolution)
    buckets = load_buckets(conn, stat.id, resolution, end - reach - resolution, end)
    return step(alert, measure(alert, stat, buckets, now), now)


def backtest(conn: Connection, alert: Alert, stat: Stat, now: int, days: int = 30) -> Backtest:
    """Replay ``step`` over the last ``days`` days at every bucket (every 5 minutes at
    minute resolution), from the ok state."""
    resolution = resolution_for(alert)
    first = now - days * DAY
    reach = alert.window_seconds + (alert.delta_seconds if alert.kind == "delta" else 0)
    buckets = load_buckets(conn, alert.stat_id, resolution, first - reach, window_end(now, resolution))
    every = 5 * MINUTE if resolution == MINUTE else resolution
    state = replace(alert, state=OK, last_notified_at=None)
    firings: list[int] = []
    resolutions: list[int] = []
    moment = first - first % every
    while moment <= now:
        decided = step(state, measure(state, stat, buckets, moment), moment)
        if decided.event == "firing":
            firings.append(moment)
        elif decided.event == "resolved":
            resolutions.append(moment)
        state = replace(state, state=decided.state)
        moment += every
    return Backtest(days, firings, resolutions, resolution)
