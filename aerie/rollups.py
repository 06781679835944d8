"""Write-time aggregation: points folded into minute, hour and day rollups.

A ``Cells`` map holds ``(stat_id, minute_bucket) -> [n, sum, min, max]``; the
writer folds points into it in memory and ``write_cells`` upserts it, deriving
the hour and day rows, as atomic increments that any number of processes may
run against the same rows.
"""

from __future__ import annotations

import functools
import math
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Table, case, delete, func, literal_column, select
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.exc import DBAPIError

from aerie.db import reading
from aerie.driver_sql import placeholder, positional_sql
from aerie.schema import DAY, HOUR, MINUTE, ROLLUPS
from aerie.transactions import write

Cell = list[float]  # [n, sum, min, max]
Cells = dict[tuple[int, int], Cell]
# (resolution, stat_id, bucket) -> sum: one cell's total at any of the three resolutions
Sums = dict[tuple[int, int, int], float]

_LARGEST = sys.float_info.max
# MariaDB refuses a DOUBLE expression that overflows: "DOUBLE value is out of range".
_MYSQL_OUT_OF_RANGE = 1690


class CellOverflow(Exception):
    """Writing these cells would make a stored sum infinite; nothing was written.

    ``stat_id`` is the stat whose total overflows when known (checked in Python),
    None when the database refused the write (MariaDB's error names no row).
    """

    def __init__(self, stat_id: int | None) -> None:
        super().__init__(f"a rollup sum would overflow (stat {stat_id})")
        self.stat_id = stat_id


def add_point(cells: Cells, stat_id: int, t: float, x: float) -> None:
    """Fold one point into its minute cell."""
    add_points(cells, ((stat_id, t, x),))


def add_points(cells: Cells, points: Iterable[tuple[int, float, float]]) -> None:
    """Fold ``(stat_id, t, x)`` points into their minute cells (one loop, no call per
    point: the writer folds every point it takes)."""
    for stat_id, t, x in points:
        key = (stat_id, int(t // 60) * 60)
        cell = cells.get(key)
        if cell is None:
            cells[key] = [1, x, x, x]
        else:
            cell[0] += 1
            cell[1] += x
            if x < cell[2]:  # comparisons, not min() and max(): two calls a point fewer
                cell[2] = x
            elif x > cell[3]:
                cell[3] = x


def fold_cell(cells: dict[Any, Cell], key: Any, n: float, total: float, low: float,
              high: float) -> None:
    """Add a cell's figures to ``cells[key]`` (a new cell if there is none)."""
    cell = cells.get(key)
    if cell is None:
        cells[key] = [n, total, low, high]
    else:
        cell[0] += n
        cell[1] += total
        cell[2] = min(cell[2], low)
        cell[3] = max(cell[3], high)


def merge_cells(into: Cells, other: Cells) -> None:
    for key, (n, total, low, high) in other.items():
        fold_cell(into, key, n, total, low, high)


def coarsen(cells: Cells, resolution: int) -> Cells:
    """Re-bucket minute cells at a coarser resolution (hour or day, UTC)."""
    out: Cells = {}
    for (stat_id, bucket), (n, total, low, high) in cells.items():
        fold_cell(out, (stat_id, bucket - bucket % resolution), n, total, low, high)
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
                # SQLite stores an overflowing sum as inf without a word; NULL instead
                # breaks the column's NOT NULL, so it fails like MariaDB does.
                # (A literal bound: as a bound parameter it cost 20% of a 1,000-row upsert.)
                "sum": case(
                    (func.abs(table.c.sum + new.sum) <= literal_column(repr(_LARGEST)),
                     table.c.sum + new.sum)
                ),
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


_COLUMNS = ("stat_id", "bucket", "n", "sum", "min", "max")


@functools.cache
def _upsert_sql(dialect_name: str, table: Table) -> str:
    """``_upsert`` as the driver's own SQL, positional parameters in ``_COLUMNS`` order.

    Run with ``exec_driver_sql`` on rows of tuples: SQLAlchemy's per-row parameter
    processing cost more than SQLite's own work on a 1,000-row upsert (measured here
    with cProfile: 45% against 11%), and the group commit runs it for every batch.
    """
    return positional_sql(dialect_name, _upsert(dialect_name, table), _COLUMNS)


def write_cells(conn: Connection, cells: Cells) -> None:
    """Upsert minute cells and their hour and day rollups in the caller's transaction.

    Rows go in one fixed order (table, then stat id, then bucket) so that
    concurrent writers lock rows in the same order and cannot deadlock on them.
    Raises CellOverflow, before writing or from the database, when a sum at any
    resolution would not be finite; the caller's transaction must then roll back.
    """
    if not cells:
        return
    hours = coarsen(cells, HOUR)  # days from hours: far fewer cells than minutes
    by_resolution = {MINUTE: cells, HOUR: hours, DAY: coarsen(hours, DAY)}
    levels = [(table, by_resolution[res]) for res, table in ROLLUPS]
    if may_overflow(c[1] for c in cells.values()):
        for _table, level in levels:
            for (sid, _bucket), c in level.items():
                if not math.isfinite(c[1]):
                    raise CellOverflow(sid)
    sqlite_driver = conn.dialect.name == "sqlite"
    for table, level in levels:
        rows = [(sid, bucket, *c) for (sid, bucket), c in level.items()]
        rows.sort()  # by (stat_id, bucket): keys are unique; a list of int-led tuples sorts
        # several times faster than the dict's items
        try:
            if sqlite_driver:
                _sqlite_upsert(conn, table, rows)
            elif len(rows) > 1:
                conn.exec_driver_sql(_mysql_json_upsert_sql(table), (orjson.dumps(rows),))
            else:
                conn.exec_driver_sql(_upsert_sql(conn.dialect.name, table), rows)
        except DBAPIError as exc:
            if _is_overflow(exc):
                raise CellOverflow(None) from exc
            raise


def _sqlite_upsert(conn: Connection, table: Table, rows: list[tuple[Any, ...]]) -> None:
    """Upsert ``rows`` with SQLite, as few statements of a few shapes as there can be.

    One statement takes up to ``_SQLITE_ROWS`` rows, their number padded with NULL
    rows (which it skips) to a power of two: a dozen shapes a table, each prepared once
    and kept in the connection's statement cache. Bound in C and run in one step, a
    1,000-row upsert took 0.57 ms here, against 1.5 ms read from one JSON text with
    ``json_each`` (which parses each row's text again for each of its six fields) and
    1.5-2.6 ms for a statement of the exact size prepared anew.

    Not ``executemany``: sqlite3 makes each row a step of its own and lets the
    interpreter lock go around every step. Beside a busy event loop, taking it back
    cost up to a switch interval each time, so a 1,000-cell commit that takes 6 ms
    alone took 6 s beside a thread running Python (in process), all the while holding
    the one writer every other account's commit waits for.
    """
    for start in range(0, len(rows), _SQLITE_ROWS):
        group = rows[start : start + _SQLITE_ROWS]
        size = 1 << (len(group) - 1).bit_length()
        params = [value for row in group for value in row]
        params += [None] * ((size - len(group)) * len(_COLUMNS))
        conn.exec_driver_sql(_sqlite_values_upsert_sql(table, size), tuple(params))


# Rows an SQLite upsert takes at most: 24,576 parameters, under SQLite's 32,766.
_SQLITE_ROWS = 4096


@functools.cache
def _sqlite_values_upsert_sql(table: Table, rows: int) -> str:
    """SQLite's ``_upsert_sql`` for ``rows`` rows, skipping rows of NULLs (the padding)."""
    values = ", ".join([_one_row("sqlite")] * rows)
    # SQLite names a VALUES list's columns column1, column2...; the WHERE also lets its
    # parser tell the SELECT from the ON CONFLICT that follows
    return _upsert_from("sqlite", table,
                        f"SELECT * FROM (VALUES {values}) WHERE column1 IS NOT NULL")


@functools.cache
def _mysql_json_upsert_sql(table: Table) -> str:
    """MySQL's ``_upsert_sql`` taking every row at once, as one JSON array of rows read
    with ``JSON_TABLE`` (MariaDB 10.6+).

    Not ``executemany``, which with pymysql escapes each of a 1,000-cell commit's 3,000
    rows' values in Python: 20-30 ms of holding the interpreter lock, during which the
    event loop and the other lane, committing a quiet account's post, waited
    (bench/fairness.py --db mariadb: the quiet p50 went from 4 ms to 11-13 ms during a
    flood). One JSON text is dumped in C and sent whole.
    """
    types = ("INT", "BIGINT", "BIGINT", "DOUBLE", "DOUBLE", "DOUBLE")
    columns = ", ".join(f"{name} {kind} PATH '$[{i}]'"
                        for i, (name, kind) in enumerate(zip(_COLUMNS, types, strict=True)))
    return _upsert_from("mysql", table,
                        f"SELECT {', '.join(f'j.{name}' for name in _COLUMNS)} "
                        f"FROM JSON_TABLE(%s, '$[*]' COLUMNS ({columns})) AS j")


def _one_row(dialect_name: str) -> str:
    return "(" + ", ".join([placeholder(dialect_name)] * len(_COLUMNS)) + ")"


def _upsert_from(dialect_name: str, table: Table, rows_sql: str) -> str:
    """``_upsert_sql`` taking its rows from ``rows_sql`` (a SELECT) instead of one
    VALUES row."""
    single = _upsert_sql(dialect_name, table)
    values = f"VALUES {_one_row(dialect_name)}"
    if single.count(values) != 1:
        raise AssertionError(f"unexpected upsert: {single}")
    return single.replace(values, rows_sql)


def _is_overflow(exc: DBAPIError) -> bool:
    """Whether the database refused an upsert because a sum overflowed."""
    args = exc.orig.args if exc.orig is not None else ()
    if args and args[0] == _MYSQL_OUT_OF_RANGE:
        return True
    # SQLite: the CASE in _upsert gave NULL to the NOT NULL sum column.
    return "NOT NULL constraint failed" in str(exc.orig) and ".sum" in str(exc.orig)


def cell_sums(cells: Cells) -> Sums:
    """``cells`` summed at every resolution: what they add to each stored row's sum."""
    sums: Sums = {}
    for (sid, bucket), c in cells.items():
        for resolution in (MINUTE, HOUR, DAY):
            key = (resolution, sid, bucket - bucket % resolution)
            sums[key] = sums.get(key, 0.0) + c[1]
    return sums


def stored_sums(conn: Connection, keys: Iterable[tuple[int, int, int]]) -> Sums:
    """The stored sums of these ``(resolution, stat_id, bucket)`` rows; absent rows are left out."""
    wanted: dict[int, set[tuple[int, int]]] = {}
    for resolution, sid, bucket in keys:
        wanted.setdefault(resolution, set()).add((sid, bucket))
    found: Sums = {}
    for resolution, table in ROLLUPS:
        rows = wanted.get(resolution)
        if not rows:
            continue
        query = select(table.c.stat_id, table.c.bucket, table.c.sum).where(
            table.c.stat_id.in_({sid for sid, _ in rows}),
            table.c.bucket.in_({bucket for _, bucket in rows}),
        )
        for sid, bucket, total in conn.execute(query):
            if (sid, bucket) in rows:
                found[(resolution, sid, bucket)] = total
    return found


def may_overflow(values: Iterable[float]) -> bool:
    """Whether any sum of these values, taken in any groups and order, might not be
    finite: no sum is larger than their magnitudes added, so False settles it in one
    pass, and True calls for the precise check."""
    return not sum(abs(x) for x in values) < _LARGEST / 2


def overflowing_stat(points: Iterable[tuple[str, float, float]]) -> str | None:
    """The first stat named in ``(stat, t, x)`` points whose minute, hour or day sum is not
    finite, folded as the writer folds them; None when every sum is finite."""
    index: dict[str, int] = {}
    cells: Cells = {}
    for stat, t, x in points:
        add_point(cells, index.setdefault(stat, len(index)), t, x)
    names = list(index)
    for (_resolution, sid, _bucket), total in cell_sums(cells).items():
        if not math.isfinite(total):
            return names[sid]
    return None


# Rows deleted per transaction when pruning: small enough that no prune holds row locks
# (or SQLite's one write lock) for longer than a group commit waits.
PRUNE_BATCH_ROWS = 2000
# The shortest pause between batches: longer than the longest sleep of SQLite's busy
# handler (100 ms), so a writer waiting for the lock always wakes while it is free.
PRUNE_MIN_PAUSE_SECONDS = 0.12


def prune(engine: Engine, now: int, keep_days: dict[int, int],
          batch_rows: int = PRUNE_BATCH_ROWS, pause: bool = True) -> dict[str, int]:
    """Delete rollup rows older than each resolution's retention (0 keeps forever).

    At most ``batch_rows`` rows go per transaction, each a few ranges of the primary key
    ``(stat_id, bucket)``, and after each the prune pauses as long as the batch took (at
    least ``PRUNE_MIN_PAUSE_SECONDS``): a year of minute data goes without ever holding
    the rows (or, on SQLite, the one write lock) that ingestion needs for long, and a
    waiting writer always finds a gap. ``pause=False`` is for when nothing else writes
    (before ``aerie up`` starts its roles). Returns the number of rows deleted per table.
    """
    deleted: dict[str, int] = {}
    for resolution, table in ROLLUPS:
        days = keep_days.get(resolution, 0)
        if days > 0:
            deleted[table.name] = _prune_table(engine, table, now - days * DAY, batch_rows,
                                               pause)
    return deleted


def _prune_table(engine: Engine, table: Table, cutoff: int, batch_rows: int,
                 pause: bool) -> int:
    """Delete ``table``'s rows before ``cutoff``; stats with a few expired rows share a
    batch, a stat with many takes several."""
    deleted = 0
    batch: list[tuple[int, int]] = []  # (stat_id, delete its buckets before this)
    room = batch_rows
    for sid in _stat_ids(engine, table):
        while True:
            with reading(engine) as conn:
                last, found = _expired(conn, table, sid, cutoff, room)
            if found:
                batch.append((sid, cutoff if last is None else last + 1))
                room -= found
            if room == 0:
                deleted += _delete_batch(engine, table, batch, pause)
                batch, room = [], batch_rows
            if last is None:
                break
    return deleted + _delete_batch(engine, table, batch, pause)


def _expired(conn: Connection, table: Table, sid: int, cutoff: int, room: int
             ) -> tuple[int | None, int]:
    """The bucket of the ``room``-th oldest expired row of a stat and ``room``, or, when
    it has fewer, None and how many it has (counting never reads past ``room`` rows)."""
    expired = (table.c.stat_id == sid, table.c.bucket < cutoff)
    last = conn.execute(select(table.c.bucket).where(*expired).order_by(table.c.bucket)
                        .offset(room - 1).limit(1)).scalar()
    if last is not None:
        return last, room
    return None, conn.execute(select(func.count()).where(*expired)).scalar_one()


def _delete_batch(engine: Engine, table: Table, batch: list[tuple[int, int]],
                  pause: bool) -> int:
    """Delete one batch in its own transaction, then (``pause``) wait as long as it took."""
    if not batch:
        return 0
    started = time.monotonic()
    deleted = write(engine, lambda conn: sum(
        conn.execute(delete(table).where(table.c.stat_id == sid, table.c.bucket < upto))
        .rowcount for sid, upto in batch
    ))
    if pause:
        time.sleep(max(time.monotonic() - started, PRUNE_MIN_PAUSE_SECONDS))
    return deleted


def _stat_ids(engine: Engine, table: Table) -> Iterator[int]:
    """Every stat id with rows in ``table``, each found by one step along the primary key
    (no scan of the table, whatever its size)."""
    last = -1
    while True:
        with reading(engine) as conn:
            found = conn.execute(
                select(table.c.stat_id).where(table.c.stat_id > last)
                .order_by(table.c.stat_id).limit(1)
            ).scalar()
        if found is None:
            return
        last = found
        yield found
