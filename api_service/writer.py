"""The group-commit writer: durable acknowledgements at little cost, fair between accounts.

Requests queue per account: on arrival, their points fold (in memory, per stat
and minute) into the account's last open chunk, up to ``commit_budget_cells``
rows to write. Each commit takes chunks round-robin across accounts, least
recently served first, until it holds that budget. So a commit's length is
bounded and a quiet account's request rides in the next commit, while a
flooding account's excess waits for later ones (its requests are all answered,
in order). With both lanes free, small chunks commit apart from large ones, so a
one-point post does not wait out a flood's thousands of cells in the same commit.
Folding on arrival overlaps the commit in flight, as a single open batch did. A
request's points are never split: a chunk and a batch take requests whole, so
either may end over budget by one request. A request is answered
only after its batch has committed; a failed commit answers every request in it
with 503 and writes nothing, since the whole batch is one transaction.

Memory: past ``max_queued_points`` queued, the account with the most queued is
answered 503 (nothing recorded, retry), never another account. The per-account
rate limit does not bound the queue: it allows every account its rate at once.

Commits run on ``COMMIT_LANES`` threads, each commit taking only accounts no
other commit in flight holds (so an account's requests are written in order): a
quiet account need not wait for a flood's commit in flight. MariaDB runs them at
once; SQLite, one writer at a time, takes them in turn through a lock (not its
busy handler's back-off sleeps) that hands the turn to the smallest waiting work
(``WriteTurns``), so the quiet request's commit holds only its own points and
waits for at most the transaction in progress.

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
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, NoResultFound

from aerie.commit_batches import (
    PRUNE_CHUNK,
    batch_committed,
    new_batch_id,
    prune_batches,
    record_batch,
)
from aerie.contracts import RECEIVED_MARK_SECONDS
from aerie.errors import BadRequest, Unavailable
from aerie.monitor import Metrics
from aerie.readiness import one_line
from aerie.rollups import (
    CellOverflow,
    Cells,
    Sums,
    add_points,
    cell_sums,
    merge_cells,
    stored_sums,
    write_cells,
)
from aerie.stats import mark_data_received, stat_by_id
from aerie.transactions import CommitOutcomeUnknown, retry_seconds, run_transaction
from api_service.checkpoints import WalCheckpoints
from api_service.kept_connection import KeptConnection
from api_service.write_turns import WriteTurns

log = logging.getLogger("aerie.writer")
T = TypeVar("T")

# Overflow decisions taken again when another process's writes keep changing the sums.
_ATTEMPTS = 3
PRUNE_EVERY_SECONDS = 60.0  # how often old batch ids are deleted
# /readyz reports a failed commit this long; past it, with no commit tried since
# (a balancer sends no traffic to a copy that is not ready), it is ready again.
FAILURE_MEMORY_SECONDS = 30.0
# A commit takes requests until it holds this many minute cells (rows to upsert at
# each resolution): a commit's cost is its cells, as points to one stat and minute
# fold into one. Measured here: a 1,000-cell commit takes 10-40 ms on SQLite.
COMMIT_BUDGET_CELLS = 4000
COMMIT_LANES = 2  # commits in flight at once, of different accounts
# Chunks up to this many cells (a few requests of a few points) commit apart from larger
# ones when two lanes are free (see _start_commits).
SMALL_CHUNK_CELLS = 100
# Queued points beyond which the account with the most queued is turned away
# (about 100 bytes a point: some 25 MB; bench/ingest.py keeps 64,000 queued).
MAX_QUEUED_POINTS = 250_000
UNKNOWN_OUTCOME = ("the database stopped answering during the commit, so whether it was "
                   "recorded is unknown; retrying may count it twice")
BUSY = "the API is busy with this account's earlier posts; nothing was recorded, retry shortly"

Rows = list[tuple[int, float, float]]  # (stat_id, t, x)
Marks = list[tuple[int, int]]  # (stat_id, data_received_at) to write


@dataclass
class Request:
    """One request's points, and the future its sender waits on (the commit's number)."""

    account: int
    rows: Rows
    received_at: int
    done: asyncio.Future[int]


@dataclass
class Batch:
    sequence: int = 0  # once committing: 1 for the writer's first commit, and so on
    cells: Cells = field(default_factory=dict)
    received: dict[int, int] = field(default_factory=dict)  # stat id -> unix time
    points: int = 0
    requests: list[Request] = field(default_factory=list)
    conflicts: int = 0  # transactions run again for it (deadlocks, certification failures)

    def take(self, request: Request) -> None:
        add_points(self.cells, request.rows)
        self.received.update(dict.fromkeys([row[0] for row in request.rows], request.received_at))
        self.points += len(request.rows)
        self.requests.append(request)

    def merge(self, chunk: Batch) -> None:
        """Fold another account's chunk in (cell by cell: it costs little, as a stat has
        one owner and two accounts' chunks share no cell)."""
        merge_cells(self.cells, chunk.cells)
        for stat_id, at in chunk.received.items():
            self.received[stat_id] = max(at, self.received.get(stat_id, 0))
        self.points += chunk.points
        self.requests.extend(chunk.requests)


class GroupCommitWriter:
    def __init__(self, engine: Engine, commit_interval: float = 0.0,
                 metrics: Metrics | None = None, commit_budget_cells: int = COMMIT_BUDGET_CELLS,
                 max_queued_points: int = MAX_QUEUED_POINTS) -> None:
        self._engine = engine
        # how long a commit retries conflicts (and a lost answer's lookup) before its
        # requests are answered 503: the engine's AERIE_DB_RETRY_SECONDS
        self._retry_seconds = retry_seconds(engine)
        self._metrics = metrics or Metrics("api")
        self._interval = commit_interval
        self._budget = commit_budget_cells
        self._max_queued = max_queued_points
        # account -> chunks of its requests in arrival order; least recently served first
        self._queues: OrderedDict[int, deque[Batch]] = OrderedDict()
        self._queued: dict[int, int] = {}  # account -> points queued
        self._queued_total = 0
        self._commits = 0
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        # the loop, once started: asyncio.get_running_loop() makes a getpid() system call,
        # which was 5% of a /c post's CPU here
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lanes = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"aerie-commit-{i}")
                       for i in range(COMMIT_LANES)]
        self._kept = [KeptConnection(engine) for _ in range(COMMIT_LANES)]  # one a lane
        self._free_lanes = list(range(COMMIT_LANES))
        self._others = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aerie-between")
        self._busy: set[int] = set()  # accounts with a commit in flight
        sqlite = engine.dialect.name == "sqlite"
        self._turns = WriteTurns() if sqlite else None
        self._checkpoints = WalCheckpoints(engine) if sqlite else None
        self._serial: AbstractContextManager[object] = self._turns or nullcontext()
        self._marked: dict[int, int] = {}  # stat id -> data_received_at last written
        self._failure: tuple[float, str] | None = None  # (monotonic time, why) of the last commit
        self._pruned_at = time.monotonic()
        self._pruning: asyncio.Task[None] | None = None

    def recent_failure(self) -> str | None:
        """Why the most recent commit failed, if it did in the last FAILURE_MEMORY_SECONDS."""
        if self._failure is None or time.monotonic() - self._failure[0] > FAILURE_MEMORY_SECONDS:
            return None
        return self._failure[1]

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="aerie-group-commit")
        if self._checkpoints is not None:
            self._checkpoints.start()

    async def stop(self) -> None:
        """Commit whatever is still open, then stop."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        if self._pruning is not None:
            await self._pruning
        loop = asyncio.get_running_loop()
        for lane, kept in zip(self._lanes, self._kept, strict=True):
            await loop.run_in_executor(lane, kept.close)
        for executor in [*self._lanes, self._others]:
            executor.shutdown(wait=True)
        if self._checkpoints is not None:
            await asyncio.to_thread(self._checkpoints.stop)

    async def run_between_commits(self, work: Callable[[], T], *, reads_only: bool = False) -> T:
        """Run ``work`` on a thread of its own; on SQLite, between two group commits.

        For other writes (new stats) and key lookups. On SQLite they take turns with
        the commits through the same lock instead of polling for SQLite's lock, where
        a commit could wait many back-off sleeps behind a stream of short
        transactions. Not on a commit lane: a quiet account's commit must not queue
        behind a flood's stat creation. ``reads_only`` work (in read transactions,
        ``aerie.db.reading``) takes no turn, as it never waits for SQLite's writer,
        but keeps to the same one thread: a flood's lookups then cost one thread's
        share of the interpreter, not a pool's.
        """
        return await asyncio.get_running_loop().run_in_executor(
            self._others, work if reads_only else partial(self._serially, work)
        )

    def _serially(self, work: Callable[[], T]) -> T:
        with self._serial:
            return work()

    def add(self, points: Rows, received_at: int, account: int) -> asyncio.Future[int]:
        """Queue ``account``'s ``(stat_id, t, x)`` points; the future resolves on commit,
        to the number of the commit that wrote them.

        The points land in one batch whole. Raises Unavailable when the queue is full
        and ``account`` has the most queued. The future raises Unavailable if the commit
        failed, or BadRequest if these points (and only these) would make a stored sum
        overflow. Await it bare, not through ``asyncio.shield`` (3 µs of a post's 23): a
        cancelled wait ends only itself, as the points are in the batch already and an
        answer to a waiter that is gone is skipped.
        """
        if self._closing:
            raise Unavailable("the API is shutting down; retry on another copy")
        queued = self._queued.get(account, 0)
        if self._queued_total + len(points) > self._max_queued and queued >= max(
            self._queued.values(), default=0
        ):
            self._metrics.count("aerie api busy refusals")
            raise Unavailable(BUSY)
        queue = self._queues.get(account)
        if queue is None:
            queue = self._queues[account] = deque()
            self._queues.move_to_end(account, last=False)  # not served lately: first in turn
        if not queue or len(queue[-1].cells) >= self._budget:
            queue.append(Batch())
        done: asyncio.Future[int] = (self._loop or asyncio.get_running_loop()).create_future()
        queue[-1].take(Request(account, points, received_at, done))
        self._queued[account] = queued + len(points)
        self._queued_total += len(points)
        if self._free_lanes and account not in self._busy:  # else a commit's end wakes it
            self._wakeup.set()
        return done

    def _next_batch(self, small_only: bool = False) -> Batch | None:
        """Take queued chunks round-robin across accounts with no commit in flight,
        until the batch holds the budget of cells; None if there are none.

        Each round takes the next chunk of every account in turn; an account served
        moves to the back, so accounts left out when the batch filled come first in
        the next commit. The largest chunk is the batch, the others merge into it.
        ``small_only``: take only chunks of at most SMALL_CHUNK_CELLS cells.
        """
        chunks: list[Batch] = []
        cells = 0
        took = True
        while took and cells < self._budget:
            took = False
            for account in list(self._queues):
                if account in self._busy or cells >= self._budget:
                    continue
                queue = self._queues[account]
                if small_only and len(queue[0].cells) > SMALL_CHUNK_CELLS:
                    continue
                chunk = queue.popleft()
                chunks.append(chunk)
                cells += len(chunk.cells)
                took = True
                self._queued_total -= chunk.points
                if queue:
                    self._queued[account] -= chunk.points
                    self._queues.move_to_end(account)
                else:
                    del self._queues[account], self._queued[account]
        if not chunks:
            return None
        batch = max(chunks, key=lambda chunk: len(chunk.cells))
        for chunk in chunks:
            if chunk is not batch:
                batch.merge(chunk)
        self._commits += 1
        batch.sequence = self._commits
        return batch

    async def _run(self) -> None:
        """Start a commit on every free lane that has queued requests to take."""
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if self._interval and not self._closing:
                await asyncio.sleep(self._interval)
            self._start_commits()
            if self._closing and not self._queues and len(self._free_lanes) == COMMIT_LANES:
                return

    def _start_commits(self) -> None:
        """Hand a batch to every free lane while there are requests to take."""
        while self._free_lanes:
            # With a lane to spare, small chunks go first and alone: a quiet account's
            # post then does not ride in (and wait for) a flood's thousands of cells,
            # which take the other lane at once.
            batch = (len(self._free_lanes) > 1 and self._next_batch(small_only=True)
                     or self._next_batch())
            if batch is None:
                return
            self._start_commit(self._free_lanes.pop(), batch)

    def _start_commit(self, lane: int, batch: Batch) -> None:
        loop = self._loop
        assert loop is not None, "start() the writer first"
        self._busy.update(request.account for request in batch.requests)
        started = time.perf_counter()

        def done(work: Future[dict[int, BadRequest]]) -> None:  # on the lane's thread
            loop.call_soon_threadsafe(self._committed, lane, batch, started, work)

        self._lanes[lane].submit(self._commit, batch, self._kept[lane]).add_done_callback(done)

    def _committed(self, lane: int, batch: Batch, started: float,
                   work: Future[dict[int, BadRequest]]) -> None:
        """On the loop, as soon as a lane's commit is done: answer its requests and give
        the lane its next batch at once. (Through a task and the wake-up event, as
        before, a commit's end reached the next commit's start three loop turns later:
        with 64 posters on one account, the loop then sat idle a fifth of the time.)"""
        try:
            try:
                refused = work.result()
            except Exception as exc:  # noqa: BLE001 - whatever failed, no waiter may hang
                log.warning("group commit of %d points failed: %s", batch.points, exc)
                self._failure = (time.monotonic(), f"the last commit failed: {one_line(exc)}")
                self._metrics.count("aerie api commit failures")
                message = exc.message if isinstance(exc, Unavailable) else Unavailable.default_message
                for request in batch.requests:
                    _answer(request.done, Unavailable(message), batch.sequence)
            else:
                self._failure = None
                for i, request in enumerate(batch.requests):
                    _answer(request.done, refused.get(i), batch.sequence)
                written = batch.points - sum(len(batch.requests[i].rows) for i in refused)
                self._record_commit(written, time.perf_counter() - started)
                self._prune_now_and_then()
            if batch.conflicts:
                self._metrics.count("aerie api commits retried", batch.conflicts)
        finally:
            self._busy.difference_update(request.account for request in batch.requests)
            self._free_lanes.append(lane)
            if self._interval or self._closing:
                self._wakeup.set()  # _run waits the interval, or sees the last commit end
            else:
                self._start_commits()

    def _record_commit(self, points: int, seconds: float) -> None:
        """On the event loop, after the commit thread is done: Metrics takes no locks."""
        metrics = self._metrics
        metrics.count("aerie api points ingested", points)
        metrics.count("aerie api commits")
        metrics.observe("aerie api commit points", points)
        metrics.observe("aerie api commit ms", seconds * 1000)

    def _commit(self, batch: Batch, kept: KeptConnection) -> dict[int, BadRequest]:
        """Write the batch on a lane's connection; returns the refusals of requests left
        out, by index in the batch."""
        marks = _marks(batch.received, self._marked)
        refused: dict[int, BadRequest] = {}
        batch_id = new_batch_id()  # the same id on every attempt: one batch, one count
        # on SQLite, a small commit takes the writer's turn before larger work
        with self._turns.costing(len(batch.cells)) if self._turns else nullcontext():
            try:
                self._in_transaction(kept, batch, batch_id,
                                     lambda conn: _write(conn, batch.cells, marks))
            except CellOverflow:
                refused, marks = self._commit_refusing_overflows(kept, batch, batch_id, marks)
        self._marked.update(marks)
        return refused

    def _commit_refusing_overflows(
        self, kept: KeptConnection, batch: Batch, batch_id: str, marks: Marks
    ) -> tuple[dict[int, BadRequest], Marks]:
        """Write the requests whose points keep every sum finite; refuse the others.

        Requests are taken in the batch's order (each account's in arrival order)
        against the stored sums, read in the same transaction; each is kept only if,
        added to the stored sums and to the requests kept before it, no sum at any
        resolution overflows. A stat has one owner, so
        only its owner's requests can be refused for it. Another process may add to
        the same rows between the read and the write: then the write overflows again
        and the whole decision is taken again. Returns the refusals and the marks written.
        """
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return self._in_transaction(
                    kept, batch, batch_id, lambda conn: _write_without_overflows(conn, batch, marks)
                )
            except CellOverflow:
                if attempt == _ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def _in_transaction(self, kept: KeptConnection, batch: Batch, batch_id: str,
                        work: Callable[[Connection], T]) -> T:
        """Run ``work`` and record ``batch_id`` in one transaction, run again whole after a
        conflict until the retry deadline. When COMMIT's answer is lost, the batch id
        says whether it went through: committed, the batch is answered as committed;
        not found, Unavailable (nothing was recorded, so the sender's retry is safe)."""

        def with_id(conn: Connection) -> T:
            result = work(conn)
            record_batch(conn, batch_id, int(time.time()))
            return result

        def count_retry(_exc: BaseException) -> None:
            batch.conflicts += 1

        try:
            return run_transaction(kept, with_id, self._retry_seconds,
                                   lock=self._serial, on_retry=count_retry)
        except CommitOutcomeUnknown as unknown:
            log.warning("the answer to a group commit was lost (%s); looking its batch up",
                        unknown.__cause__)
            try:
                committed = batch_committed(self._engine, batch_id, self._retry_seconds)
            except DBAPIError as exc:
                raise Unavailable(UNKNOWN_OUTCOME) from exc
            if committed:
                result: T = unknown.result
                return result
            raise Unavailable(Unavailable.default_message) from unknown

    def _prune_now_and_then(self) -> None:
        """On the loop after a commit: every PRUNE_EVERY_SECONDS, start deleting old batch
        ids, PRUNE_CHUNK a transaction, on the thread for work between commits (not on a
        lane: a commit would wait for it; on SQLite each chunk takes a writer turn)."""
        if self._pruning is not None or time.monotonic() - self._pruned_at < PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = time.monotonic()
        self._pruning = asyncio.get_running_loop().create_task(self._prune())

    async def _prune(self) -> None:
        def chunk() -> int:
            return run_transaction(self._engine,
                                   lambda conn: prune_batches(conn, int(time.time())),
                                   self._retry_seconds)

        try:
            while not self._closing and await self.run_between_commits(chunk) == PRUNE_CHUNK:
                pass
        except Exception as exc:  # noqa: BLE001 - old ids cost room, not correctness
            log.warning("pruning old batch ids failed: %s", exc)
        finally:
            self._pruning = None


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
        add_points(kept, request.rows)
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
    add_points(cells, rows)
    return cell_sums(cells)


def _marks(received: dict[int, int], marked: dict[int, int]) -> Marks:
    """The data_received_at marks worth writing: kept to RECEIVED_MARK_SECONDS (the graph
    server's render cache relies on it), as writing more often costs a row per stat."""
    return [
        (sid, at) for sid, at in received.items()
        if at - marked.get(sid, 0) >= RECEIVED_MARK_SECONDS
    ]


def _answer(done: asyncio.Future[int], error: Exception | None, sequence: int) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(sequence)
        return
    done.set_exception(error)
    done.exception()  # mark retrieved: its sender may have gone

