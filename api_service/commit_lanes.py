"""Where the writer's commits run: ``ThreadLanes``, threads of the API's own process.

The writer hands each batch to a lane (``submit``) and hears back on the event loop;
other writes (``run``) take turns with the commits. By default the lanes are
threads here; ``AERIE_COMMIT_PROCESS=true`` runs them in a process of their own
(``api_service.commit_process.ProcessLanes``), off the event loop's interpreter
lock: more posts a second, a longer tail under another account's flood on a
small machine (that module says how much).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol, TypeVar

from sqlalchemy import Engine

from aerie.errors import Unavailable
from aerie.readiness import one_line
from api_service.checkpoints import INTERVAL_SECONDS, WalCheckpoints
from api_service.committer import COMMIT_LANES, CommitJob, Committer, Outcome

Done = Callable[[Outcome], None]
T = TypeVar("T")


class Lanes(Protocol):
    async def start(self) -> None:
        """Get ready to take commits (on the event loop)."""

    async def stop(self) -> None:
        """Stop, once no commit is in flight."""

    def submit(self, lane: int, job: CommitJob, done: Done) -> None:
        """Write ``job`` on ``lane`` (one job a lane at a time); ``done(outcome)`` is
        called on the event loop when it is settled."""

    async def run(self, work: Callable[[Engine], T]) -> T:
        """``work(engine)``, a write that is not a commit, on a thread beside the lanes;
        on SQLite in a writer turn between commits."""


class ThreadLanes:
    """Commit lanes on threads of this process, each with its kept connection."""

    def __init__(self, engine: Engine, checkpoint_interval: float = INTERVAL_SECONDS) -> None:
        self._committer = Committer(engine)
        self._threads = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"aerie-commit-{i}")
                         for i in range(COMMIT_LANES)]
        self._between = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aerie-between")
        sqlite = engine.dialect.name == "sqlite"
        self._checkpoints = WalCheckpoints(engine, checkpoint_interval) if sqlite else None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._checkpoints is not None:
            self._checkpoints.start()

    async def stop(self) -> None:
        loop = asyncio.get_running_loop()
        for lane, thread in enumerate(self._threads):
            await loop.run_in_executor(thread, self._committer.close, lane)
            thread.shutdown(wait=True)
        self._between.shutdown(wait=True)
        if self._checkpoints is not None:
            await asyncio.to_thread(self._checkpoints.stop)

    def submit(self, lane: int, job: CommitJob, done: Done) -> None:
        loop = self._loop
        assert loop is not None, "start() the lanes first"

        def settled(work: Future[Outcome]) -> None:  # on the lane's thread
            try:
                outcome = work.result()
            except BaseException as exc:  # noqa: BLE001 - no sender may wait forever
                outcome = Outcome(error=Unavailable.default_message,
                                  why=f"the last commit failed: {one_line(exc)}")
            loop.call_soon_threadsafe(done, outcome)

        self._threads[lane].submit(self._committer.commit, lane, job).add_done_callback(settled)

    async def run(self, work: Callable[[Engine], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._between, self._committer.in_turn, work)
