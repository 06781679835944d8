"""The group-commit writer: durable acknowledgements at little cost.

Requests fold their points into the open batch, in memory, per stat and
minute, and wait for the batch's commit. One commit runs at a time, in a
dedicated thread; while it is in flight the next batch fills up, and the next
commit takes all of it at once. A request is answered only after its batch has
committed; a failed commit answers every request in it with 503 and writes
nothing, since the whole batch is one transaction.

One request's numbers must not fail the others': when a batch would make a
stored sum overflow, the batch is written again without the requests that
overflow, which alone are refused with 400 (see ``_commit_refusing_overflows``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, NoResultFound

from aerie.contracts import RECEIVED_MARK_SECONDS
from aerie.errors import BadRequest, Unavailable
from aerie.monitor import Metrics
from aerie.readiness import one_line
from aerie.rollups import CellOverflow, Cells, Sums, add_point, cell_sums, stored_sums, write_cells
from aerie.stats import mark_data_received, stat_by_id

log = logging.getLogger("aerie.writer")
T = TypeVar("T")

# MySQL's "deadlock found" and "lock wait timeout": the transaction was rolled
# back whole, so running it again cannot count anything twice.
_RETRYABLE_MYSQL_ERRORS = {1213, 1205}
_ATTEMPTS = 3
# /readyz reports a failed commit this long; past it, with no commit tried since
# (a balancer sends no traffic to a copy that is not ready), it is ready again.
FAILURE_MEMORY_SECONDS = 30.0

Rows = list[tuple[int, float, float]]  # (stat_id, t, x)
Marks = list[tuple[int, int]]  # (stat_id, data_received_at) to write


@dataclass
class Request:
    """One request's points in a batch, and the future its sender waits on."""

    rows: Rows
    done: asyncio.Future[None]


@dataclass
class Batch:
    cells: Cells = field(default_factory=dict)
    received: dict[int, int] = field(default_factory=dict)  # stat id -> unix time
    points: int = 0
    requests: list[Request] = field(default_factory=list)


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
        self._failure: tuple[float, str] | None = None  # (monotonic time, why) of the last commit

    def recent_failure(self) -> str | None:
        """Why the most recent commit failed, if it did in the last FAILURE_MEMORY_SECONDS."""
        if self._failure is None or time.monotonic() - self._failure[0] > FAILURE_MEMORY_SECONDS:
            return None
        return self._failure[1]

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="aerie-group-commit")

    async def stop(self) -> None:
        """Commit whatever is still open, then stop."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        self._thread.shutdown(wait=True)

    async def run_between_commits(self, work: Callable[[], T]) -> T:
        """Run ``work`` on the commit thread, between two group commits.

        For other writes (new stats): in one thread they take turns with the
        commits instead of polling for SQLite's lock, where a commit could wait
        many back-off sleeps behind a stream of short transactions.
        """
        return await asyncio.get_running_loop().run_in_executor(self._thread, work)

    def add(self, points: Rows, received_at: int) -> asyncio.Future[None]:
        """Fold ``(stat_id, t, x)`` points into the open batch; the future resolves on commit.

        Runs without awaiting, so a request's points always land in one batch whole.
        The future raises Unavailable if the commit failed, or BadRequest if these
        points (and only these) would make a stored sum overflow.
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
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        batch.requests.append(Request(points, done))
        return done

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
                refused = await loop.run_in_executor(self._thread, self._commit, batch)
            except Exception as exc:  # noqa: BLE001 - whatever failed, no waiter may hang
                log.warning("group commit of %d points failed: %s", batch.points, exc)
                self._failure = (time.monotonic(), f"the last commit failed: {one_line(exc)}")
                self._metrics.count("aerie api commit failures")
                for request in batch.requests:
                    _answer(request.done, Unavailable(Unavailable.default_message))
            else:
                self._failure = None
                for i, request in enumerate(batch.requests):
                    _answer(request.done, refused.get(i))
                written = batch.points - sum(len(batch.requests[i].rows) for i in refused)
                self._record_commit(written, time.perf_counter() - started)
            if self._open is not None:
                self._wakeup.set()

    def _record_commit(self, points: int, seconds: float) -> None:
        """On the event loop, after the commit thread is done: Metrics takes no locks."""
        metrics = self._metrics
        metrics.count("aerie api points ingested", points)
        metrics.count("aerie api commits")
        metrics.observe("aerie api commit points", points)
        metrics.observe("aerie api commit ms", seconds * 1000)

    def _commit(self, batch: Batch) -> dict[int, BadRequest]:
        """Write the batch; returns the refusals of requests left out, by index in the batch."""
        marks = _marks(batch.received, self._marked)
        refused: dict[int, BadRequest] = {}
        try:
            self._in_transaction(lambda conn: _write(conn, batch.cells, marks))
        except CellOverflow:
            refused, marks = self._commit_refusing_overflows(batch, marks)
        self._marked.update(marks)
        return refused

    def _commit_refusing_overflows(
        self, batch: Batch, marks: Marks
    ) -> tuple[dict[int, BadRequest], Marks]:
        """Write the requests whose points keep every sum finite; refuse the others.

        Requests are taken in arrival order against the stored sums, read in the same
        transaction; each is kept only if, added to the stored sums and to the requests
        kept before it, no sum at any resolution overflows. A stat has one owner, so
        only its owner's requests can be refused for it. Another process may add to
        the same rows between the read and the write: then the write overflows again
        and the whole decision is taken again. Returns the refusals and the marks written.
        """
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return self._in_transaction(
                    lambda conn: _write_without_overflows(conn, batch, marks)
                )
            except CellOverflow:
                if attempt == _ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def _in_transaction(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one transaction, again after a MySQL deadlock or lock timeout."""
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with self._engine.begin() as conn:
                    return work(conn)
            except DBAPIError as exc:
                code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
                if code not in _RETRYABLE_MYSQL_ERRORS or attempt == _ATTEMPTS:
                    raise
                log.info("group commit retried after MySQL error %s", code)
        raise AssertionError("unreachable")


def _write(conn: Connection, cells: Cells, marks: Marks) -> None:
    write_cells(conn, cells)
    mark_data_received(conn, marks)


def _write_without_overflows(
    conn: Connection, batch: Batch, marks: Marks
) -> tuple[dict[int, BadRequest], Marks]:
    """One transaction: the batch less the requests that overflow; returns their refusals
    and the marks written (those of stats a kept request wrote to)."""
    own = [_request_cells(request.rows) for request in batch.requests]
    keys = {key for sums in own for key in sums}
    totals: Sums = stored_sums(conn, keys)
    kept: Cells = {}
    overflowing: dict[int, int] = {}  # request index -> a stat it overflows
    for i, (request, sums) in enumerate(zip(batch.requests, own, strict=True)):
        trial = {key: totals.get(key, 0.0) + total for key, total in sums.items()}
        bad = next((key[1] for key, total in trial.items() if not math.isfinite(total)), None)
        if bad is not None:
            overflowing[i] = bad
            continue
        totals.update(trial)
        for stat_id, t, x in request.rows:
            add_point(kept, stat_id, t, x)
    written = {sid for sid, _bucket in kept}
    marks = [(sid, at) for sid, at in marks if sid in written]
    _write(conn, kept, marks)
    names = {sid: _stat_name(conn, sid) for sid in set(overflowing.values())}
    log.warning("group commit refused %d requests whose sums overflow", len(overflowing))
    refused = {
        i: BadRequest(
            f"stat {names[sid]!r} cannot take these numbers: its total would be too large "
            f"to store (beyond ±{sys.float_info.max:.4g}); nothing from this request was recorded"
        )
        for i, sid in overflowing.items()
    }
    return refused, marks


def _stat_name(conn: Connection, stat_id: int) -> str:
    try:
        return stat_by_id(conn, stat_id).name
    except NoResultFound:  # deleted since the request was checked
        return f"#{stat_id}"


def _request_cells(rows: Rows) -> Sums:
    cells: Cells = {}
    for stat_id, t, x in rows:
        add_point(cells, stat_id, t, x)
    return cell_sums(cells)


def _marks(received: dict[int, int], marked: dict[int, int]) -> Marks:
    """The data_received_at marks worth writing: kept to RECEIVED_MARK_SECONDS (the graph
    server's render cache relies on it), as writing more often costs a row per stat."""
    return [
        (sid, at) for sid, at in received.items()
        if at - marked.get(sid, 0) >= RECEIVED_MARK_SECONDS
    ]


def _answer(done: asyncio.Future[None], error: Exception | None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
        return
    done.set_exception(error)
    done.exception()  # mark retrieved: its sender may have gone

