"""Imported points, already aggregated per interval, and the rollup cells they determine.

An exported StatHat point is a whole interval's figure: a counter point is the sum of
the counts in it, a value point their average. A point is stored as one cell at the
start of its interval, in the coarsest rollup (minute, hour, day) whose resolution
divides both the interval and the point's time, so reads at that interval or any
coarser one give back exactly the exported figures; a read finer than the exported
interval shows the whole point at the start of its interval. Points finer than a
minute (whisper) fold into their minute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from aerie.errors import BadRequest
from aerie.rollups import fold_cell
from aerie.schema import COUNTER, DAY, HOUR, MINUTE

Cell = list[float]  # [n, sum, min, max], as aerie.rollups
LevelCells = dict[int, dict[int, Cell]]  # resolution -> bucket -> cell


class BadImportFile(BadRequest):
    """A file that cannot be imported; the message names the file and where (line or item)."""

    def __init__(self, path: str, where: str, problem: str) -> None:
        super().__init__(f"{path}: {where}: {problem}" if where else f"{path}: {problem}")


@dataclass(frozen=True)
class Point:
    time: int  # unix seconds at the start of the interval
    interval: int  # seconds the point covers
    value: float
    rcount: int | None  # raw points in the interval, when the export says


@dataclass
class ImportedStat:
    """One stat's points from one file; ``kind`` is None when the file does not say."""

    name: str
    kind: str | None
    points: list[Point] = field(default_factory=list)


def resolution_for(time: int, interval: int) -> int:
    """The coarsest rollup resolution dividing both the interval and the point's time.

    A day point at a local midnight (Aerie's CSV in a viewer's zone) lands in the hour
    rollup, not in the wrong UTC day; anything off the minute grid folds into its minute.
    """
    for resolution in (DAY, HOUR, MINUTE):
        if interval % resolution == 0 and time % resolution == 0:
            return resolution
    return MINUTE


def build_cells(stat: ImportedStat, kind: str) -> LevelCells:
    """The cells ``stat``'s points determine, per resolution.

    A counter point of 0 is "no counts" and stores nothing, as no post would. ``n`` is
    the export's raw count (``rcount``) when given, else 1, so a value cell's mean
    (sum / n) is the exported average. Raises BadRequest if a sum is not finite.
    """
    levels: LevelCells = {}
    counter = kind == COUNTER
    for p in stat.points:
        if counter and p.value == 0:
            continue
        resolution = resolution_for(p.time, p.interval)
        n = p.rcount if p.rcount and p.rcount > 0 else 1
        total = p.value if counter else p.value * n
        single = p.value / n if counter else p.value
        cells = levels.setdefault(resolution, {})
        bucket = p.time - p.time % resolution
        fold_cell(cells, bucket, n, total, single, single)
        if not math.isfinite(cells[bucket][1]):
            raise BadRequest(f"stat {stat.name!r}: the points at {bucket} add up to "
                             "more than a stored number can hold")
    return levels
