"""Statements compiled once into their driver's own SQL, for ``exec_driver_sql``.

SQLAlchemy compiles a Core statement from its cache on every execution, and
processes each row's parameters; for statements the group commit runs on every
batch, that cost more than the database's own work (bench/ingest.py). Compiled
here with positional parameters, they run with rows of plain tuples.
"""

from __future__ import annotations

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
