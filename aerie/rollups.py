"""Write-time aggregation: points folded into minute, hour and day rollups.

A ``Cells`` map holds ``(stat_id, minute_bucket) -> [n, sum, min, max]``; the
writer folds points into it in memory and ``write_cells`` upserts it, deriving
the hour and day rows, as atomic increments that any number of processes may
run against the same rows.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Connection, Table, delete, func
from sqlalchemy.dialects import mysql, sqlite

from aerie.schema import DAY, ROLLUPS

Cell = list[float]  # [n, sum, min, max]
Cells = dict[tuple[int, int], Cell]


def add_point(cells: Cells, stat_id: int, t: float, x: float) -> None:
    """Fold one point into its minute cell."""
    key = (stat_id, int(t // 60) * 60)
    cell = cells.get(key)
    if cell is None:
        cells[key] = [1, x, x, x]
    else:
        cell[0] += 1
        cell[1] += x
        cell[2] = min(cell[2], x)
        cell[3] = max(cell[3], x)


def merge_cells(into: Cells, other: Cells) -> None:
    for key, (n, total, low, high) in other.items():
        cell = into.get(key)
        if cell is None:
            into[key] = [n, total, low, high]
        else:
            cell[0] += n
            cell[1] += total
            cell[2] = min(cell[2], low)
            cell[3] = max(cell[3], high)


def coarsen(cells: Cells, resolution: int) -> Cells:
    """Re-bucket minute cells at a coarser resolution (hour or day, UTC)."""
    out: Cells = {}
    for (stat_id, bucket), cell in cells.items():
        merge_cells(out, {(stat_id, bucket - bucket % resolution): cell})
    return out


@functools.cache
def _upsert(dialect: str, table: Table) -> Any:
    """An INSERT that adds to an existing row instead of failing on it."""
    if dialect == "sqlite":
        lite = sqlite.insert(table)
        new = lite.excluded
        return lite.on_conflict_do_update(
            index_elements=[table.c.stat_id, table.c.bucket],
            set_={
                "n": table.c.n + new.n,
                "sum": table.c.sum + new.sum,
                "min": func.min(table.c.min, new.min),
                "max": func.max(table.c.max, new.max),
            },
        )
    my = mysql.insert(table)
    return my.on_duplicate_key_update(
        n=table.c.n + my.inserted.n,
        sum=table.c.sum + my.inserted.sum,
        min=func.least(table.c.min, my.inserted.min),
        max=func.greatest(table.c.max, my.inserted.max),
    )


def write_cells(conn: Connection, cells: Cells) -> None:
    """Upsert minute cells and their hour and day rollups in the caller's transaction.

    Rows go in one fixed order (table, then stat id, then bucket) so that
    concurrent writers lock rows in the same order and cannot deadlock on them.
    """
    if not cells:
        return
    dialect = conn.dialect.name
    for resolution, table in ROLLUPS:
        level = cells if resolution == 60 else coarsen(cells, resolution)
        rows = [
            {"stat_id": sid, "bucket": bucket, "n": c[0], "sum": c[1], "min": c[2], "max": c[3]}
            for (sid, bucket), c in sorted(level.items())
        ]
        conn.execute(_upsert(dialect, table), rows)


def prune(conn: Connection, now: int, keep_days: dict[int, int]) -> dict[str, int]:
    """Delete rollup rows older than each resolution's retention (0 keeps forever).

    Returns the number of rows deleted per table.
    """
    deleted: dict[str, int] = {}
    for resolution, table in ROLLUPS:
        days = keep_days.get(resolution, 0)
        if days <= 0:
            continue
        cutoff = now - days * DAY
        result = conn.execute(delete(table).where(table.c.bucket < cutoff))
        deleted[table.name] = result.rowcount
    return deleted
