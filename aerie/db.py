"""The database engine: SQLite (embedded default) or MySQL/MariaDB through pymysql."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from aerie.settings import Settings

# The execution option ``reading`` sets: this connection's transactions only read.
READ_ONLY = "aerie_read_only"


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def reading(engine: Engine) -> Connection:
    """A connection whose transactions only read (use it as ``with reading(engine) as conn``).

    On SQLite its transactions begin DEFERRED: in WAL mode a reader takes no lock,
    sees the last commit and never waits for a writer, so pages never queue behind
    the API's group commit. Every other transaction begins IMMEDIATE (see
    ``make_engine``). Writing on such a connection could fail with "database is
    locked" where a write transaction would have waited: never write on one. On
    MySQL/MariaDB it is an ordinary connection.
    """
    return engine.connect().execution_options(**{READ_ONLY: True})


def make_engine(settings: Settings) -> Engine:
    """Build the engine for ``settings.database_url``.

    SQLite runs in WAL mode with ``synchronous=FULL`` so that a committed
    transaction survives a power cut: acknowledgements promise durability.
    MySQL runs at READ COMMITTED, which takes fewer gap locks on upserts.
    """
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(settings, url)
    connect_args: dict[str, Any] = {
        "connect_timeout": max(1, int(settings.db_timeout_seconds)),
        "read_timeout": max(5, int(settings.db_timeout_seconds * 6)),
        "write_timeout": max(5, int(settings.db_timeout_seconds * 6)),
        "charset": "utf8mb4",
    }
    return create_engine(
        url,
        connect_args=connect_args,
        isolation_level="READ COMMITTED",
        pool_recycle=3600,
        pool_size=5,
        max_overflow=10,
    )


def _sqlite_engine(settings: Settings, url: Any) -> Engine:
    database = url.database
    # a "file:" URI names its path itself (mode=ro and the like); no directory to make
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"timeout": settings.db_timeout_seconds, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling defers BEGIN; take control of it
        # so that BEGIN IMMEDIATE (below) takes the write lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # A write transaction takes the write lock up front, so one that reads first
        # cannot fail when another commit lands before its first write; one opened by
        # ``reading`` takes none, so it never waits for a writer.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine
