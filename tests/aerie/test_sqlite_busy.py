"""Two processes on one SQLite file: a transaction that finds the write lock held past
its busy timeout wrote nothing, so it runs again until the deadline instead of failing."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from aerie.db import make_engine
from aerie.settings import Settings
from aerie.transactions import run_transaction


def _engine(path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(Settings(database_url=f"sqlite:///{path}", db_timeout_seconds=0.1))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
    return engine


def _hold_the_write_lock(path: Path, seconds: float) -> threading.Thread:
    """Another process's writer, as another connection: BEGIN IMMEDIATE, then hold."""
    held = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        held.set()
        threading.Event().wait(seconds)
        conn.execute("COMMIT")
        conn.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(10)
    return thread


def test_a_lock_held_past_the_busy_timeout_is_waited_out_within_the_deadline(
        tmp_path: Path) -> None:
    engine = _engine(tmp_path / "a.db")
    holder = _hold_the_write_lock(tmp_path / "a.db", 0.6)  # six busy timeouts
    try:
        run_transaction(engine, lambda conn: conn.execute(text("INSERT INTO t VALUES (1)")), 10)
    finally:
        holder.join()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM t")).scalar_one() == 1  # once
    engine.dispose()


def test_past_the_deadline_the_lock_error_is_raised(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "a.db")
    holder = _hold_the_write_lock(tmp_path / "a.db", 1.5)
    try:
        with pytest.raises(OperationalError, match="locked"):
            run_transaction(engine, lambda conn: conn.execute(text("INSERT INTO t VALUES (1)")),
                            0.3)
    finally:
        holder.join()
    engine.dispose()
