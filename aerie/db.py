"""The database engine: SQLite (embedded default) or MySQL/MariaDB through pymysql."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, ExceptionContext, create_engine, event
from sqlalchemy.engine import URL, make_url

from aerie.settings import Settings
from aerie.transactions import NODE_NOT_READY, RETRY_SECONDS_OPTION, mysql_error_code

log = logging.getLogger("aerie.db")

# The execution option ``reading`` sets: this connection's transactions only read.
READ_ONLY = "aerie_read_only"
# SQLite's write-ahead log is cut back to this size whenever it starts over (after a
# checkpoint that copied all of it): a flood had grown it to 110 MB, kept for good,
# beside a 4 MB database.
WAL_SIZE_LIMIT_BYTES = 16 * 1024 * 1024


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


class Connects(Protocol):
    """An Engine, or whatever picks one for a read (``aerie.replicas.ReadRouting``)."""

    def connect(self) -> Connection: ...


def reading(engine: Connects) -> Connection:
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
    """Build the engine for the primary: ``settings.database_nodes``.

    SQLite runs in WAL mode with ``synchronous=FULL`` so that a committed
    transaction survives a power cut: acknowledgements promise durability.
    MySQL runs at READ COMMITTED, which takes fewer gap locks on upserts. Given
    several nodes (a Galera cluster), the engine connects to one and moves to the
    next that answers when it goes away (see ``_fail_over``). Its writes
    (``aerie.transactions.write``) run again after conflicts for
    ``settings.db_retry_seconds``.
    """
    nodes = settings.database_nodes
    url = make_url(nodes[0])
    if url.get_backend_name() == "sqlite":
        engine = _sqlite_engine(settings, url)
    else:
        engine = server_engine(settings, nodes)
    engine.update_execution_options(**{RETRY_SECONDS_OPTION: settings.db_retry_seconds})
    return engine


def server_engine(settings: Settings, nodes: list[str], *, pre_ping: bool = False) -> Engine:
    """An engine for one MariaDB server, or for the first of several ``nodes`` that answers;
    ``pre_ping``: check a pooled connection before use even with one node (a replica
    that may go away while others can serve)."""
    connect_args: dict[str, Any] = {
        "connect_timeout": max(1, int(settings.db_timeout_seconds)),
        "read_timeout": max(5, int(settings.db_timeout_seconds * 6)),
        "write_timeout": max(5, int(settings.db_timeout_seconds * 6)),
        "charset": "utf8mb4",
    }
    engine = create_engine(
        make_url(nodes[0]),
        connect_args=connect_args,
        isolation_level="READ COMMITTED",
        pool_recycle=3600,
        pool_size=5,
        max_overflow=10,
        # with somewhere to move to, a pooled connection to a node that died is found
        # out at checkout rather than by the page or commit that uses it
        pool_pre_ping=pre_ping or len(nodes) > 1,
    )
    event.listen(engine, "handle_error", _node_not_ready_is_a_disconnect)
    if len(nodes) > 1:
        _fail_over(engine, [make_url(node) for node in nodes])
    return engine


def _node_not_ready_is_a_disconnect(context: ExceptionContext) -> None:
    """Galera's 1047 (the node left the primary component): drop the pool's connections,
    as for a lost server, so the next ones go to a node that is in the cluster."""
    if mysql_error_code(context.original_exception) == NODE_NOT_READY:
        context.is_disconnect = True


def _fail_over(engine: Engine, urls: list[URL]) -> None:
    """Connect to the node last used, or else to the next one, in order, that answers and
    is ready (on Galera, ``wsrep_ready``): a node that went away costs the connections
    it held (the pool drops them all on a disconnect), not a restart."""
    dialect = engine.dialect
    nodes = [dialect.create_connect_args(url)[1] for url in urls]
    current = [0]

    @event.listens_for(engine, "do_connect")
    def connect(_dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        first = current[0]
        failure: Exception | None = None
        for step in range(len(nodes)):
            i = (first + step) % len(nodes)
            try:
                connection = dialect.loaded_dbapi.connect(*cargs, **{**cparams, **nodes[i]})
            except dialect.loaded_dbapi.Error as exc:
                failure = exc
                continue
            if not _ready(connection):
                connection.close()
                failure = dialect.loaded_dbapi.OperationalError(
                    NODE_NOT_READY, f"node {urls[i].host}:{urls[i].port} is not ready (wsrep_ready)"
                )
                continue
            if i != first:
                log.warning("database node %s:%s answers; using it", urls[i].host, urls[i].port)
            current[0] = i
            return connection
        assert failure is not None
        raise failure


def _ready(connection: Any) -> bool:
    """Whether a node takes queries: a Galera node in the primary component, or any
    server without Galera."""
    cursor = connection.cursor()
    try:
        # a server built with Galera but not running it says wsrep_ready OFF too
        cursor.execute("SHOW VARIABLES LIKE 'wsrep_on'")
        row = cursor.fetchone()
        if row is None or str(row[1]).upper() != "ON":
            return True
        cursor.execute("SHOW STATUS LIKE 'wsrep_ready'")
        row = cursor.fetchone()
    finally:
        cursor.close()
    return row is not None and str(row[1]).upper() == "ON"


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
        cursor.execute(f"PRAGMA journal_size_limit={int(WAL_SIZE_LIMIT_BYTES)}")
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
