"""A connection a commit lane keeps from one commit to the next.

Taking a connection from SQLAlchemy's pool and giving it back (with the pool's
reset ROLLBACK) cost as much as a small commit's own statements: a 32-post ``/c``
commit on SQLite took 370-390 µs of CPU through the pool, 220-250 µs on a kept
connection (in process, 300 commits). After any error the connection is given back
and the next use takes a fresh one, so a server restart or a Galera node lost costs
one failed attempt, which ``run_transaction`` runs again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

log = logging.getLogger("aerie.writer")


class KeptConnection:
    """One connection, used by one thread at a time (a commit lane's own)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """The kept connection (a new one if there is none), kept open on leaving."""
        if self._conn is None:
            self._conn = self._engine.connect()
        conn = self._conn
        try:
            yield conn
        except BaseException:
            # Whatever failed (a lost server, a COMMIT whose answer was lost, which leaves
            # SQLAlchemy's transaction object behind, refusing every later begin()), the
            # next use starts on a clean connection from the pool.
            self.close()
            raise
        if conn.get_transaction() is not None or conn.invalidated:
            self.close()

    def close(self) -> None:
        """Give the connection back to the pool (from the thread that used it)."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.close()
        except DBAPIError as exc:  # a connection already broken: the pool drops it
            log.info("closing a commit lane's connection: %s", exc)
