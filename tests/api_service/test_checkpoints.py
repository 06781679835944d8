"""On SQLite, the API's commits never copy the write-ahead log into the database file
themselves (whichever commit crossed 1,000 pages used to pay for everyone's pages): a
thread beside the commit lanes checkpoints instead, and the data reaches the file all
the same, with the lanes in the commit process or on the API's own threads."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from aerie import db
from aerie.db import make_engine
from aerie.migrate import upgrade
from aerie.settings import Settings
from api_service.commit_lanes import Lanes, ThreadLanes
from api_service.commit_process import ProcessLanes
from api_service.keycache import looked_up
from api_service.writer import GroupCommitWriter
from tests.conftest import make_account, make_stat

COMMITS, STATS = 20, 200


def _rows_in_the_file(path: Path) -> int:
    """Minute rows in the database file itself, ignoring the log (``immutable``)."""
    with sqlite3.connect(f"file:{path}?immutable=1", uri=True) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM stat_minutes").fetchone()[0])


async def _write_then_wait(engine: Engine, writer: GroupCommitWriter, path: Path,
                           stat_keys: dict[int, str], account: int,
                           wait_seconds: float) -> tuple[int, int]:
    """Commit COMMITS minutes of every stat; returns the commits' autocheckpoint setting and
    the rows in the file once all are there or ``wait_seconds`` have passed, with the
    writer still running."""
    await writer.start()
    start = int(time.time()) // 60 * 60 - COMMITS * 60
    for minute in range(COMMITS):
        await writer.add([(sid, start + minute * 60, 1.0) for sid in stat_keys],
                         int(time.time()), account, stat_keys)
    with engine.connect() as conn:
        autocheckpoint = int(conn.execute(text("PRAGMA wal_autocheckpoint")).scalar_one())
    deadline = time.monotonic() + wait_seconds  # the thread's interval is 0.5 s
    while (in_file := _rows_in_the_file(path)) < COMMITS * STATS and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await writer.stop()
    return autocheckpoint, in_file


@pytest.fixture(params=["process", "threads"])
def lanes_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _setup(path: Path, lanes_kind: str, checkpoint_interval: float = 0.5
           ) -> tuple[Engine, GroupCommitWriter, dict[int, str], int]:
    settings = Settings(database_url=f"sqlite:///{path}")
    engine = make_engine(settings)
    upgrade(engine)
    engine.dispose()  # as in the API, the writer is made before any connection is
    lanes: Lanes = (ProcessLanes(settings, engine, checkpoint_interval) if lanes_kind == "process"
                    else ThreadLanes(engine, checkpoint_interval))
    writer = GroupCommitWriter(engine, lanes=lanes)
    account = make_account(engine)
    stat_keys = looked_up(make_stat(engine, account, f"s{i}", "value") for i in range(STATS))
    return engine, writer, stat_keys, account.user.id


def test_commits_leave_checkpoints_to_the_writers_thread_which_copies_every_row(
        tmp_path: Path, lanes_kind: str) -> None:
    engine, writer, stat_keys, account = _setup(tmp_path / "aerie.db", lanes_kind)
    autocheckpoint, in_file = asyncio.run(
        _write_then_wait(engine, writer, tmp_path / "aerie.db", stat_keys, account, 30))
    engine.dispose()
    assert autocheckpoint == 0
    assert in_file == COMMITS * STATS


def test_without_the_thread_the_rows_would_stay_in_the_log(tmp_path: Path,
                                                          lanes_kind: str) -> None:
    """The control: the same commits with the thread idle leave the file without them,
    so the test above sees the thread's work, not the commits'."""
    engine, writer, stat_keys, account = _setup(tmp_path / "aerie.db", lanes_kind, 3600)
    _autocheckpoint, in_file = asyncio.run(
        _write_then_wait(engine, writer, tmp_path / "aerie.db", stat_keys, account, 1.5))
    engine.dispose()
    assert in_file == 0  # three of the thread's intervals would have checkpointed them


def test_the_log_is_cut_back_once_checkpointed(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # (the limit is this process's: the lanes run here, as the write that cuts it back)
    """A flood grows the write-ahead log; once a checkpoint has copied all of it, the
    next commit starts it over, no larger than the limit (before, it kept its size)."""
    limit = 64 * 1024
    monkeypatch.setattr(db, "WAL_SIZE_LIMIT_BYTES", limit)
    path = tmp_path / "aerie.db"
    engine, writer, stat_keys, account = _setup(path, "threads")
    _autocheckpoint, in_file = asyncio.run(
        _write_then_wait(engine, writer, path, stat_keys, account, 30))
    grown = Path(f"{path}-wal").stat().st_size
    with engine.begin() as conn:  # one more write, of a page or two
        conn.execute(text("UPDATE users SET timezone = 'Europe/Berlin' WHERE id = :id"),
                     {"id": account})
    after = Path(f"{path}-wal").stat().st_size  # (closing the last connection removes it)
    engine.dispose()
    assert in_file == COMMITS * STATS  # all of the log was checkpointed
    assert grown > limit
    assert after <= limit
