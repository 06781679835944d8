"""The group-commit writer: durable acknowledgements at little cost.

Requests fold their points into the open batch, in memory, per stat and
minute, and wait for the batch's commit. One commit runs at a time, in a
dedicated thread; while it is in flight the next batch fills up, and the next
commit takes all of it at once. A request is answered only after its batch has
committed; a failed commit answers every request in it with 503 and writes
nothing, since the whole batch is one transaction.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from aerie.contracts import RECEIVED_MARK_SECONDS
from aerie.errors import Unavailable
from aerie.monitor import Metrics
from aerie.rollups import Cells, add_point, write_cells
from aerie.stats import mark_data_received

log = logging.getLogger("aerie.writer")

# MySQL's "deadlock found" and "lock wait timeout": the transaction was rolled
# back whole, so running it again cannot count anything twice.
_RETRYABLE_MYSQL_ERRORS = {1213, 1205}
_ATTEMPTS = 3
# data_received_at is kept to RECEIVED_MARK_SECONDS (the graph server's render cache
# relies on it); writing it more often costs a row update per stat.


@dataclass
class Batch:
    cells: Cells = field(default_factory=dict)
    received: dict[int, int] = field(default_factory=dict)  # stat id -> unix time
    points: int = 0
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class GroupCommitWriter:
    def __init__(self, engine: Engine, commit_interval: float = 0.0,
                 metrics: Metrics | None = None) -> None:
        self._engine = engine
        self._metrics = metrics or Metrics("api")
        self._interval = commit_interval
        self._open: Batch | None = None
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aerie-commit")
        self._marked: dict[int, int] = {}  # stat id -> data_received_at last written

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="aerie-group-commit")

    async def stop(self) -> None:
        """Commit whatever is still open, then stop."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        self._thread.shutdown(wait=True)

    def add(self, points: list[tuple[int, float, float]], received_at: int) -> asyncio.Future[None]:
        """Fold ``(stat_id, t, x)`` points into the open batch; the future resolves on commit.

        Runs without awaiting, so a request's points always land in one batch whole.
        """
        if self._closing:
            raise Unavailable("the API is shutting down; retry on another copy")
        batch = self._open
        if batch is None:
            batch = self._open = Batch()
            self._wakeup.set()
        for stat_id, t, x in points:
            add_point(batch.cells, stat_id, t, x)
            batch.received[stat_id] = received_at
        batch.points += len(points)
        return batch.done

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if self._interval and not self._closing:
                await asyncio.sleep(self._interval)
            batch, self._open = self._open, None
            if batch is None:
                if self._closing:
                    return
                continue
            started = time.perf_counter()
            try:
                await loop.run_in_executor(self._thread, self._commit, batch)
            except Exception as exc:  # noqa: BLE001 - whatever failed, no waiter may hang
                log.warning("group commit of %d points failed: %s", batch.points, exc)
                self._metrics.count("aerie api commit failures")
                batch.done.set_exception(Unavailable(Unavailable.default_message))
                batch.done.exception()  # mark retrieved: waiters may all have gone
            else:
                batch.done.set_result(None)
                self._record_commit(batch.points, time.perf_counter() - started)
            if self._open is not None:
                self._wakeup.set()

    def _record_commit(self, points: int, seconds: float) -> None:
        """On the event loop, after the commit thread is done: Metrics takes no locks."""
        metrics = self._metrics
        metrics.count("aerie api points ingested", points)
        metrics.count("aerie api commits")
        metrics.observe("aerie api commit points", points)
        metrics.observe("aerie api commit ms", seconds * 1000)

    def _commit(self, batch: Batch) -> None:
        marks = [
            (sid, at) for sid, at in batch.received.items()
            if at - self._marked.get(sid, 0) >= RECEIVED_MARK_SECONDS
        ]
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with self._engine.begin() as conn:
                    write_cells(conn, batch.cells)
                    mark_data_received(conn, marks)
                break
            except DBAPIError as exc:
                code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
                if code not in _RETRYABLE_MYSQL_ERRORS or attempt == _ATTEMPTS:
                    raise
                log.info("group commit retried after MySQL error %s", code)
        self._marked.update(marks)
