"""Another writer holding a lock a little longer than a connection waits for one: what
makes a write fail with SQLite's BUSY ("database is locked") or MariaDB's 1205 (lock
wait timeout), for tests that show such a write is run again instead of failing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from aerie.settings import Settings

LOCK_WAIT_SECONDS = 1  # MariaDB's innodb_lock_wait_timeout counts whole seconds
HOLD_SECONDS = 2.5  # past two waits: the write fails at least twice before it succeeds


def impatient(settings: Settings) -> Settings:
    """``settings`` whose connections give up waiting for a lock after LOCK_WAIT_SECONDS:
    SQLite's busy timeout, or MariaDB's innodb_lock_wait_timeout set on each connection
    (50 s by default, which would hide the failure behind a long wait)."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        return settings.model_copy(update={"db_timeout_seconds": LOCK_WAIT_SECONDS})
    wait = f"SET SESSION innodb_lock_wait_timeout = {LOCK_WAIT_SECONDS}"
    impatient_url = url.update_query_dict({"init_command": wait})
    return settings.model_copy(
        update={"database_url": impatient_url.render_as_string(hide_password=False)})


@contextmanager
def lock_held(engine: Engine, statement: str, **params: object) -> Iterator[None]:
    """Run the block while another connection holds a write lock for HOLD_SECONDS: on
    SQLite the database's (its transactions begin IMMEDIATE), on MariaDB the rows
    ``statement`` updates. The lock is let go by the time the block ends."""
    held = threading.Event()

    def hold() -> None:
        with engine.begin() as conn:
            conn.execute(text(statement), params)
            held.set()
            threading.Event().wait(HOLD_SECONDS)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(10), "the other writer never took its lock"
        yield
    finally:
        holder.join()
