"""Statements compiled once into their driver's own SQL, for ``exec_driver_sql``.

SQLAlchemy compiles a Core statement from its cache on every execution, and
processes each row's parameters; for statements the group commit runs on every
batch, that cost more than the database's own work (bench/ingest.py). Compiled
here with positional parameters, they run with rows of plain tuples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.mysql import pymysql
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement


def positional_sql(dialect_name: str, statement: ClauseElement, columns: tuple[str, ...]) -> str:
    """``statement`` as the SQL of the driver for ``dialect_name``, taking its parameters
    positionally in ``columns`` order (raises AssertionError if it would take others)."""
    # a positional style each driver takes (pymysql's default is %(name)s, but %s works)
    dialect = sqlite.dialect() if dialect_name == "sqlite" else pymysql.dialect(paramstyle="format")
    compiled = statement.compile(dialect=dialect, column_keys=list(columns))
    assert isinstance(compiled, SQLCompiler)
    if tuple(compiled.positiontup or ()) != columns:
        raise AssertionError(f"unexpected parameters: {compiled.positiontup}, not {columns}")
    return str(compiled)


# Rows a statement takes at most, and the sizes a remainder is cut into: a handful of
# distinct statements, each prepared once and kept by the driver's statement cache.
ROWS_PER_STATEMENT = (256, 128, 64, 32, 16, 8, 4, 2, 1)


def run_in_row_groups(
    conn: Connection,
    sql_for: Callable[[int], str],
    rows: Sequence[Sequence[Any]],
    params_for: Callable[[Sequence[Sequence[Any]]], tuple[Any, ...]] | None = None,
) -> None:
    """Run over ``rows`` a statement that takes many rows at once: ``sql_for(n)`` is its
    SQL for n rows, ``params_for(group)`` its parameters (by default the group's
    values in order), in groups of ``ROWS_PER_STATEMENT`` sizes.

    Not ``executemany``: that makes each row a step of its own, and the drivers let the
    interpreter lock go around every step (sqlite3 around each row's step, pymysql
    around each UPDATE's round trip). Beside a busy event loop, taking the lock back
    costs up to a switch interval each time, all the while holding the write lock
    other accounts' commits wait for (``aerie.rollups._sqlite_upsert`` has figures).
    """
    for group in row_groups(rows):
        params = params_for(group) if params_for else tuple(v for row in group for v in row)
        conn.exec_driver_sql(sql_for(len(group)), params)


def row_groups(rows: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """``rows`` cut into consecutive groups of ``ROWS_PER_STATEMENT`` sizes."""
    done = 0
    for size in ROWS_PER_STATEMENT:
        while len(rows) - done >= size:
            yield rows[done:done + size]
            done += size


def placeholder(dialect_name: str) -> str:
    """The driver's positional parameter marker (pymysql takes %s)."""
    return "?" if dialect_name == "sqlite" else "%s"
