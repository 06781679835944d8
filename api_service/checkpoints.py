"""SQLite checkpoints off the commit path.

By default the commit that takes SQLite's write-ahead log past 1,000 pages then copies
the log into the database file, and syncs it, before it returns. Whichever commit
crosses that line pays: under a flood it is often a quiet account's one-point commit,
waiting for the flood's pages to be copied. The API's connections turn that off and a
thread of the writer's checkpoints every ``INTERVAL_SECONDS`` instead. A PASSIVE
checkpoint never blocks a writer, and commits in the meantime append to the log.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import Engine, event

log = logging.getLogger("aerie.checkpoints")

INTERVAL_SECONDS = 0.5


class WalCheckpoints:
    """Checkpoints ``engine``'s SQLite database from a thread of its own while running."""

    def __init__(self, engine: Engine, interval: float = INTERVAL_SECONDS) -> None:
        self._engine = engine
        self._interval = interval
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        leave_checkpoints_to_the_writer(engine)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="aerie-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        self.checkpoint()  # what the last commits wrote, before the process ends

    def checkpoint(self) -> None:
        """Copy what the log holds into the database file, as far as readers allow."""
        raw = self._engine.raw_connection()  # autocommit (aerie.db): no BEGIN around it
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
            cursor.close()
        finally:
            raw.close()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self.checkpoint()
            except Exception as exc:  # noqa: BLE001 - the next turn tries again
                log.warning("checkpoint failed: %s", exc)


def leave_checkpoints_to_the_writer(engine: Engine) -> None:
    """Make every connection ``engine`` opens from now on leave checkpoints to
    ``WalCheckpoints`` (call before its first connection)."""
    event.listen(engine, "connect", _no_autocheckpoint)


def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()
