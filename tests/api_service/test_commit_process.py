"""The API's commits run in a process of their own: what happens when it dies, is
signalled, or outlives the API."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from aerie.db import reading
from aerie.errors import Unavailable
from aerie.settings import Settings
from aerie.stats import stats_by_names
from api_service.app import create_app as api_app
from api_service.commit_lanes import Done
from api_service.commit_process import ProcessLanes
from api_service.committer import CommitJob
from api_service.keycache import looked_up
from api_service.writer import GroupCommitWriter
from tests.conftest import Account, make_stat
from tests.security.test_fairness import minute_totals
from tests.servers import serve

ROOT = Path(__file__).resolve().parents[2]


def _gone(pid: int, seconds: float) -> bool:
    """Whether process ``pid`` ended (or is a zombie) within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def test_a_killed_commit_process_loses_no_acknowledged_post_and_is_replaced(
    settings: Settings, engine: Engine, owner: Account
) -> None:
    """SIGKILL the process just as a batch goes down its pipe: that batch's posts are
    answered 503 and not stored; posts acknowledged before are stored; the next posts
    go to a new process and are acknowledged.

    The process is stopped before the batch is written, so it dies with the batch unread:
    otherwise it could commit the batch before the kill lands, and rightly acknowledge
    it."""
    stat = make_stat(engine, owner, "killed process", "counter")
    now = int(time.time())
    lanes = ProcessLanes(settings, engine)
    killed: list[int] = []
    real_submit = lanes.submit

    def submit_then_kill(lane: int, job: CommitJob, done: Done) -> None:
        pid = lanes.pid
        if killed or pid is None:
            real_submit(lane, job, done)
            return
        killed.append(pid)
        os.kill(pid, signal.SIGSTOP)
        real_submit(lane, job, done)
        os.kill(pid, signal.SIGKILL)

    async def run() -> tuple[list[object], list[object], list[object]]:
        writer = GroupCommitWriter(engine, lanes=lanes)
        await writer.start()
        try:
            before = [await writer.add([(stat.id, float(now), 1.0)], now, owner.user.id,
                      looked_up([stat]))
                      for _ in range(2)]
            lanes.submit = submit_then_kill  # type: ignore[method-assign]
            during = await asyncio.gather(
                *[writer.add([(stat.id, float(now), 1.0)], now, owner.user.id,
                      looked_up([stat]))
                  for _ in range(5)], return_exceptions=True)
            after = [await writer.add([(stat.id, float(now), 1.0)], now, owner.user.id,
                      looked_up([stat]))
                     for _ in range(3)]
            return before, list(during), after
        finally:
            await writer.stop()

    before, during, after = asyncio.run(run())
    assert killed and lanes.pid != killed[0]
    assert all(isinstance(o, int) for o in before + after), (before, after)
    assert during and all(isinstance(o, Unavailable) for o in during), during
    assert minute_totals(engine, [stat]) == (5, 5.0)  # stored == acknowledged


def test_the_commit_process_ignores_signals_and_stops_with_the_api(
    settings: Settings, engine: Engine, owner: Account
) -> None:
    """A Ctrl-C or a SIGTERM sent to the process group must not end the commits before
    the API's last one: the process stops when the API stops it."""
    stat = make_stat(engine, owner, "signalled process", "counter")
    now = int(time.time())
    lanes = ProcessLanes(settings, engine)

    async def run() -> tuple[int, int | None, list[int]]:
        writer = GroupCommitWriter(engine, lanes=lanes)
        await writer.start()
        first = lanes.pid
        assert first is not None
        try:
            await writer.add([(stat.id, float(now), 1.0)], now, owner.user.id,
                      looked_up([stat]))
            # a signal left at its default would end the process before it read another
            # batch: the next posts would be answered 503, or by a new process
            os.kill(first, signal.SIGTERM)
            os.kill(first, signal.SIGINT)
            answers = [await writer.add([(stat.id, float(now), 1.0)], now, owner.user.id,
                      looked_up([stat]))
                       for _ in range(3)]
            return first, lanes.pid, answers
        finally:
            await writer.stop()

    first, still, answers = asyncio.run(run())
    assert still == first  # the same process, alive after both signals
    assert len(answers) == 3
    assert minute_totals(engine, [stat]) == (4, 4.0)
    assert _gone(first, 10)


def test_the_commit_process_ends_when_the_api_is_gone(database_url: str) -> None:
    """An API killed outright leaves no commit process behind: its pipe ends, and so
    does the process."""
    script = textwrap.dedent("""
        import asyncio, os, sys
        from aerie.db import make_engine
        from aerie.settings import Settings
        from api_service.commit_process import ProcessLanes

        async def main():
            settings = Settings(database_url=sys.argv[1])
            lanes = ProcessLanes(settings, make_engine(settings))
            await lanes.start()
            print(lanes.pid, flush=True)
            await asyncio.sleep(60)

        asyncio.run(main())
    """)
    with subprocess.Popen([sys.executable, "-c", script, database_url], cwd=ROOT,
                          stdout=subprocess.PIPE, text=True) as api:
        try:
            assert api.stdout is not None
            child = int(api.stdout.readline())
            assert not _gone(child, 0.5)  # running while the API runs
        finally:
            api.kill()
    assert _gone(child, 10)


def test_an_api_whose_commit_process_cannot_start_fails_at_start(
    settings: Settings, engine: Engine
) -> None:
    """A process that cannot open the database stops the API's start, not its first post."""
    broken = settings.model_copy(update={"database_url": "mysql+nosuchdriver://127.0.0.1/x"})
    lanes = ProcessLanes(broken, engine)

    async def start() -> None:
        await lanes.start()

    with pytest.raises(RuntimeError, match="the commit process ended at start"):
        asyncio.run(start())


def test_an_api_with_its_commit_process_stores_what_it_acknowledges(
    settings: Settings, engine: Engine, owner: Account
) -> None:
    """With AERIE_COMMIT_PROCESS on, through HTTP: classic posts, and EZ batches naming
    new stats (made by the process between its commits) are stored, once each; the
    process ends with the API."""
    stat = make_stat(engine, owner, "classic in process", "counter")
    app = api_app(settings.model_copy(update={"commit_process": True}))
    with serve(app) as api:
        children = _children(os.getpid())
        with httpx.Client(base_url=api.url) as client:
            classic = [client.post("/c", data={"ukey": owner.ukey, "key": stat.classic_key,
                                                "count": "1"}) for _ in range(5)]
            batch = client.post("/ez", json={"ezkey": owner.ezkey, "data": [
                {"stat": f"made in process {i}", "count": 2} for i in range(60)]})
    assert [a.status_code for a in classic] == [200] * 5
    assert batch.status_code == 200, batch.text
    assert minute_totals(engine, [stat]) == (5, 5.0)
    with reading(engine) as conn:
        made = stats_by_names(conn, owner.user.id, [f"made in process {i}" for i in range(60)])
    assert len(made) == 60
    assert minute_totals(engine, list(made.values())) == (60, 120.0)
    assert children and all(_gone(pid, 10) for pid in children)


def _children(pid: int) -> list[int]:
    """The commit processes ``pid`` started."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in task.read_text().split():
            if "api_service.commit_process" in Path(f"/proc/{child}/cmdline").read_text():
                found.append(int(child))
    return found
