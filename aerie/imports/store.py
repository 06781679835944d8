"""Writing one file's imported stats, in the caller's transaction, so that importing it again
changes nothing.

Each imported cell *replaces* the stored row at its resolution (never adds to it),
and every coarser row covering it moves by the difference between the new cell and
the row it replaced. Importing the same file twice therefore writes the same rows
twice. Rows the file does not cover (live data, other exports) are left alone, and
coarser rows keep what they hold beyond the finer rows, which retention may already
have pruned. The one order that counts twice: a coarse export (``t=1y1d``) imported
*before* a finer one of the same period (``t=1M1h``), since the day rows it set then
also grow by the hours; import finer exports first (the day file then only sets the
day rows to the sums the hours already gave them).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects import mysql, sqlite

from aerie import stats
from aerie.errors import BadRequest
from aerie.imports.points import Cell, ImportedStat, build_cells
from aerie.schema import ROLLUPS
from aerie.stats import Stat

_TABLES = dict(ROLLUPS)
_IN_CHUNK = 500  # keep IN lists a sane size


@dataclass(frozen=True)
class KindRules:
    """What says a stat is a counter, after the file itself: a statlist, then ``--kind``."""

    statlist: dict[str, str] = field(default_factory=dict)
    default: str | None = None


@dataclass
class Written:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    points: int = 0


def write_imported(
    conn: Connection, user_id: int, found: Iterable[ImportedStat], kinds: KindRules,
    limit: int, now: int, on_stat: Callable[[int, int], None] | None = None,
) -> Written:
    """Create missing stats and write the points; raises BadRequest (nothing written once
    the caller rolls back) for a bad name, an unknown or conflicting kind, or the limit.
    ``on_stat(done, total)`` is called after each stat is written, for progress."""
    merged = _merge_by_name(found)
    for name in merged:
        stats.check_name(name)
    existing = stats.stats_by_names(conn, user_id, merged)
    plans = []
    for name, imported in merged.items():
        stat = existing.get(name)
        if stat is not None and stat.deleted_at is not None:
            raise BadRequest(f"stat {name!r} is in the trash; restore it first")
        kind = _kind(imported, stat, kinds)
        plans.append((name, stat, kind, build_cells(imported, kind), imported))
    stats.check_room_for_stats(conn, user_id, sum(p[1] is None for p in plans), limit)
    result = Written()
    received = []
    for done, (name, stat, kind, levels, imported) in enumerate(plans, start=1):
        if stat is None:
            stat = stats.create_stat(conn, user_id, name, kind, now)
            result.created.append(name)
        else:
            result.updated.append(name)
        for resolution in sorted(levels):
            replace_cells(conn, stat.id, resolution, levels[resolution])
        result.points += len(imported.points)
        last = max((p.time for p in imported.points), default=None)
        if last is not None and (stat.data_received_at or 0) < last:
            received.append((stat.id, last))
        if on_stat is not None:
            on_stat(done, len(plans))
    stats.mark_data_received(conn, received)
    return result


def _merge_by_name(found: Iterable[ImportedStat]) -> dict[str, ImportedStat]:
    merged: dict[str, ImportedStat] = {}
    for imported in found:
        into = merged.setdefault(imported.name, ImportedStat(imported.name, imported.kind))
        if imported.kind and into.kind and imported.kind != into.kind:
            raise BadRequest(f"stat {imported.name!r} appears as both a counter and a value stat")
        into.kind = into.kind or imported.kind
        into.points.extend(imported.points)
    return merged


def _kind(imported: ImportedStat, stat: Stat | None, kinds: KindRules) -> str:
    said = imported.kind or kinds.statlist.get(imported.name) or kinds.default
    if stat is not None:
        if said is not None and said != stat.kind:
            raise BadRequest(f"stat {stat.name!r} is a {stat.kind} stat in Aerie, "
                             f"but the import says {said}")
        return stat.kind
    if said is None:
        raise BadRequest(f"nothing says whether the new stat {imported.name!r} is a counter: "
                         "give --statlist FILE (saved from /x/TOKEN/statlist) or "
                         "--kind counter|value")
    return said


def replace_cells(conn: Connection, stat_id: int, resolution: int, cells: dict[int, Cell]) -> None:
    """Set these cells at ``resolution``, and move each coarser row by what changed."""
    table = _TABLES[resolution]
    old = _stored(conn, table, stat_id, cells)
    _overwrite(conn, table, stat_id, cells)
    delta = {}
    for bucket, (n, total, low, high) in cells.items():
        was = old.get(bucket, [0, 0.0, low, high])
        if n != was[0] or total != was[1]:
            delta[bucket] = (n - was[0], total - was[1], low, high, n, total)
    for coarse_resolution, coarse_table in ROLLUPS:
        if coarse_resolution > resolution and delta:
            _shift(conn, stat_id, coarse_resolution, coarse_table, delta)


def _shift(
    conn: Connection, stat_id: int, resolution: int, table: Table,
    delta: dict[int, tuple[float, float, float, float, float, float]],
) -> None:
    """Move the coarser rows over ``delta``'s buckets by its differences; a row not
    stored yet starts from the new cells themselves."""
    moves: dict[int, Cell] = {}
    fresh: dict[int, Cell] = {}
    for bucket, (dn, dsum, low, high, n, total) in delta.items():
        coarse = bucket - bucket % resolution
        for into, (a, b) in ((moves, (dn, dsum)), (fresh, (n, total))):
            cell = into.setdefault(coarse, [0, 0.0, low, high])
            cell[0] += a
            cell[1] += b
            cell[2] = min(cell[2], low)
            cell[3] = max(cell[3], high)
    old = _stored(conn, table, stat_id, moves)
    rows: dict[int, Cell] = {}
    for coarse, (dn, dsum, low, high) in moves.items():
        was = old.get(coarse)
        rows[coarse] = fresh[coarse] if was is None else [
            was[0] + dn, was[1] + dsum, min(was[2], low), max(was[3], high)]
        if not math.isfinite(rows[coarse][1]):
            raise BadRequest("a rollup sum would be more than a stored number can hold")
    _overwrite(conn, table, stat_id, rows)


def _stored(conn: Connection, table: Table, stat_id: int, buckets: Iterable[int]) -> dict[int, Cell]:
    """The stored rows of these buckets, locked until the transaction ends (on MariaDB;
    SQLite's BEGIN IMMEDIATE already holds the whole file)."""
    wanted = sorted(buckets)
    found: dict[int, Cell] = {}
    for i in range(0, len(wanted), _IN_CHUNK):
        query = (select(table.c.bucket, table.c.n, table.c.sum, table.c.min, table.c.max)
                 .where(table.c.stat_id == stat_id, table.c.bucket.in_(wanted[i:i + _IN_CHUNK]))
                 .with_for_update())
        for bucket, n, total, low, high in conn.execute(query):
            found[bucket] = [n, total, low, high]
    return found


def _overwrite(conn: Connection, table: Table, stat_id: int, cells: dict[int, Cell]) -> None:
    rows = [{"stat_id": stat_id, "bucket": bucket, "n": int(c[0]), "sum": c[1], "min": c[2],
             "max": c[3]} for bucket, c in sorted(cells.items())]
    if rows:
        conn.execute(_replacing_upsert(conn.dialect.name, table), rows)


@functools.cache
def _replacing_upsert(dialect: str, table: Table) -> Any:
    """An INSERT that overwrites an existing row (``rollups`` adds to it instead)."""
    if dialect == "sqlite":
        lite = sqlite.insert(table)
        return lite.on_conflict_do_update(
            index_elements=[table.c.stat_id, table.c.bucket],
            set_={c: lite.excluded[c] for c in ("n", "sum", "min", "max")},
        )
    my = mysql.insert(table)
    return my.on_duplicate_key_update(**{c: my.inserted[c] for c in ("n", "sum", "min", "max")})
