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

Commits run on ``COMMIT_LANES`` lanes, each commit taking only accounts no other
commit in flight holds (so an account's requests are written in order): a quiet
account need not wait for a flood's commit in flight. The lanes are threads of
this process or, with ``AERIE_COMMIT_PROCESS=true``, of a process of their own
(``api_service.commit_lanes`` says which to choose, and ``api_service.committer``
what a lane does). MariaDB runs them at once; SQLite, one writer at a time, takes
them in turn through a lock (not its busy handler's back-off sleeps) that hands the
turn to the smallest waiting work (``WriteTurns``), so the quiet request's commit
holds only its own points and waits for at most the transaction in progress.

One request's numbers must not fail the others': when a batch would make a
stored sum overflow, or names a stat deleted since the key cache found it, the
batch is written again without those requests, which alone are refused (400, or
``StatGone``; see ``Committer``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from sqlalchemy import Engine

from aerie.commit_batches import PRUNE_CHUNK, new_batch_id, prune_batches
from aerie.errors import BadRequest, NotAllowed, Unavailable
from aerie.monitor import Metrics
from aerie.rollups import Cells, add_points, merge_cells
from aerie.transactions import retry_seconds, run_transaction
from api_service.commit_lanes import Lanes, ThreadLanes
from api_service.committer import COMMIT_LANES, CommitJob, Outcome, Rows

log = logging.getLogger("aerie.writer")
T = TypeVar("T")

PRUNE_EVERY_SECONDS = 60.0  # how often old batch ids are deleted
# /readyz reports a failed commit this long; past it, with no commit tried since
# (a balancer sends no traffic to a copy that is not ready), it is ready again.
FAILURE_MEMORY_SECONDS = 30.0
# A commit takes requests until it holds this many minute cells (rows to upsert at
# each resolution): a commit's cost is its cells, as points to one stat and minute
# fold into one. Measured here: a 1,000-cell commit takes 10-40 ms on SQLite.
COMMIT_BUDGET_CELLS = 4000
# Chunks up to this many cells (a few requests of a few points) commit apart from larger
# ones when two lanes are free (see _start_commits).
SMALL_CHUNK_CELLS = 100
# Queued points beyond which the account with the most queued is turned away
# (about 100 bytes a point: some 25 MB; bench/ingest.py keeps 64,000 queued).
MAX_QUEUED_POINTS = 250_000
BUSY = "the API is busy with this account's earlier posts; nothing was recorded, retry shortly"


class StatGone(NotAllowed):
    """These points name a stat deleted since it was looked up (its id may even be
    another stat's now): nothing of them was written; look the stat up again."""

    def __init__(self) -> None:
        super().__init__("a stat these points name was deleted; nothing was recorded")


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
    looked_up: dict[int, str] = field(default_factory=dict)  # stat id -> public id
    points: int = 0
    requests: list[Request] = field(default_factory=list)

    def take(self, request: Request, looked_up: dict[int, str]) -> None:
        add_points(self.cells, request.rows)
        self.received.update(dict.fromkeys([row[0] for row in request.rows], request.received_at))
        self.looked_up.update(looked_up)
        self.points += len(request.rows)
        self.requests.append(request)

    def merge(self, chunk: Batch) -> None:
        """Fold another account's chunk in (cell by cell: it costs little, as a stat has
        one owner and two accounts' chunks share no cell)."""
        merge_cells(self.cells, chunk.cells)
        for stat_id, at in chunk.received.items():
            self.received[stat_id] = max(at, self.received.get(stat_id, 0))
        self.looked_up.update(chunk.looked_up)
        self.points += chunk.points
        self.requests.extend(chunk.requests)


class GroupCommitWriter:
    def __init__(self, engine: Engine, commit_interval: float = 0.0,
                 metrics: Metrics | None = None, commit_budget_cells: int = COMMIT_BUDGET_CELLS,
                 max_queued_points: int = MAX_QUEUED_POINTS, lanes: Lanes | None = None) -> None:
        """``lanes``: where commits run; threads of this process unless given."""
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
        self._lanes = lanes or ThreadLanes(engine)
        self._free_lanes = list(range(COMMIT_LANES))
        self._others = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aerie-between")
        self._busy: set[int] = set()  # accounts with a commit in flight
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
        await self._lanes.start()
        self._task = asyncio.create_task(self._run(), name="aerie-group-commit")

    async def stop(self) -> None:
        """Commit whatever is still open, then stop."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        if self._pruning is not None:
            await self._pruning
        await self._lanes.stop()
        self._others.shutdown(wait=True)

    async def run_between_commits(self, work: Callable[[Engine], T]) -> T:
        """Run the write ``work(engine)`` where the commits run; on SQLite, in a writer turn
        between two of them.

        For writes other than commits (new stats, pruning). On SQLite they take turns
        with the commits through the same lock instead of polling for SQLite's lock,
        where a commit could wait many back-off sleeps behind a stream of short
        transactions. Not on a commit lane: a quiet account's commit must not queue
        behind a flood's stat creation. In the commit process, their Python work
        takes none of the event loop's interpreter lock either, so they hold the
        writer's turn no longer than they must. ``work`` goes there as a pickle: a
        module's function, or a ``functools.partial`` of one.
        """
        return await self._lanes.run(work)

    async def read_between_commits(self, work: Callable[[], T]) -> T:
        """Run ``work``, reads in read transactions (``aerie.db.reading``), on this
        process's one thread for lookups: it takes no writer turn, as it never waits for
        SQLite's writer, and a flood's lookups cost one thread's share of the
        interpreter, not a pool's."""
        return await asyncio.get_running_loop().run_in_executor(self._others, work)

    def add(self, points: Rows, received_at: int, account: int, looked_up: dict[int, str]
            ) -> asyncio.Future[int]:
        """Queue ``account``'s ``(stat_id, t, x)`` points; the future resolves on commit,
        to the number of the commit that wrote them. ``looked_up``: each of their stats'
        public id, as found when the request was checked.

        The points land in one batch whole. Raises Unavailable when the queue is full
        and ``account`` has the most queued. The future raises Unavailable if the commit
        failed, BadRequest if these points (and only these) would make a stored sum
        overflow, or StatGone if one of their stats is no longer the one looked up.
        Await it bare, not through ``asyncio.shield`` (3 µs of a post's 23): a cancelled
        wait ends only itself, as the points are in the batch already and an answer to
        a waiter that is gone is skipped.
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
        queue[-1].take(Request(account, points, received_at, done), looked_up)
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
        self._busy.update(request.account for request in batch.requests)
        job = CommitJob(new_batch_id(), batch.cells, batch.received, batch.looked_up)
        self._lanes.submit(lane, job, partial(self._committed, lane, batch, job,
                                              time.perf_counter()))

    def _committed(self, lane: int, batch: Batch, job: CommitJob, started: float,
                   outcome: Outcome) -> None:
        """On the loop, as soon as a lane's commit is done: answer its requests and give
        the lane its next batch at once. (Through a task and the wake-up event, as
        before, a commit's end reached the next commit's start three loop turns later:
        with 64 posters on one account, the loop then sat idle a fifth of the time.)"""
        if outcome.conflicts:
            self._metrics.count("aerie api commits retried", outcome.conflicts)
        if outcome.needs_rows:  # requests to refuse (gone stats, overflows): send the rows
            job.requests = [request.rows for request in batch.requests]
            self._lanes.submit(lane, job, partial(self._committed, lane, batch, job, started))
            return
        try:
            if outcome.error is not None:
                self._failure = (time.monotonic(), outcome.why)
                self._metrics.count("aerie api commit failures")
                for request in batch.requests:
                    _answer(request.done, Unavailable(outcome.error), batch.sequence)
            else:
                self._failure = None
                refused: dict[int, Exception] = {i: StatGone() for i in outcome.gone}
                refused.update((i, BadRequest(why)) for i, why in outcome.refused.items())
                for i, request in enumerate(batch.requests):
                    _answer(request.done, refused.get(i), batch.sequence)
                written = batch.points - sum(len(batch.requests[i].rows) for i in refused)
                self._record_commit(written, time.perf_counter() - started)
                self._prune_now_and_then()
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

    def _prune_now_and_then(self) -> None:
        """On the loop after a commit: every PRUNE_EVERY_SECONDS, start deleting old batch
        ids, PRUNE_CHUNK a transaction, on the thread for work between commits (not on a
        lane: a commit would wait for it; on SQLite each chunk takes a writer turn)."""
        if self._pruning is not None or time.monotonic() - self._pruned_at < PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = time.monotonic()
        self._pruning = asyncio.get_running_loop().create_task(self._prune())

    async def _prune(self) -> None:
        try:
            while (not self._closing
                   and await self.run_between_commits(_prune_chunk) == PRUNE_CHUNK):
                pass
        except Exception as exc:  # noqa: BLE001 - old ids cost room, not correctness
            log.warning("pruning old batch ids failed: %s", exc)
        finally:
            self._pruning = None


def _prune_chunk(engine: Engine) -> int:
    """Delete up to PRUNE_CHUNK old batch ids; how many went."""
    return run_transaction(engine, lambda conn: prune_batches(conn, int(time.time())),
                           retry_seconds(engine))


def _answer(done: asyncio.Future[int], error: Exception | None, sequence: int) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(sequence)
        return
    done.set_exception(error)
    done.exception()  # mark retrieved: its sender may have gone

