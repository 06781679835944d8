"""A group commit's transaction: what a commit lane runs, wherever the lane is.

The writer (``api_service.writer``) gathers requests into batches on the event loop;
a ``Committer`` writes one batch as one transaction on a lane's kept connection, runs
it again after conflicts, settles a COMMIT whose answer was lost by its batch id,
and refuses only the requests whose sums would overflow. It runs on the lanes'
threads, in the commit process (``api_service.commit_process``) or in the API's own
process (``api_service.commit_lanes.ThreadLanes``), so what it takes and gives
back (``CommitJob``, ``Outcome``) is plain data.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, NoResultFound

from aerie.commit_batches import batch_committed, record_batch
from aerie.contracts import RECEIVED_MARK_SECONDS
from aerie.errors import Unavailable
from aerie.readiness import one_line
from aerie.rollups import CellOverflow, Cells, Sums, add_points, cell_sums, stored_sums, write_cells
from aerie.stats import mark_data_received, stat_by_id, stats_gone
from aerie.transactions import CommitOutcomeUnknown, retry_seconds, run_transaction
from api_service.kept_connection import KeptConnection
from api_service.write_turns import WriteTurns

log = logging.getLogger("aerie.writer")
T = TypeVar("T")

COMMIT_LANES = 2  # commits in flight at once, of different accounts
# Overflow decisions taken again when another process's writes keep changing the sums.
_ATTEMPTS = 3
UNKNOWN_OUTCOME = ("the database stopped answering during the commit, so whether it was "
                   "recorded is unknown; retrying may count it twice")

Rows = list[tuple[int, float, float]]  # (stat_id, t, x)
Marks = list[tuple[int, int]]  # (stat_id, data_received_at) to write


@dataclass
class CommitJob:
    """One batch to write: its cells, when each stat last got data and, once the cells
    overflow a sum, each request's rows (in batch order) to refuse those that do.
    (Rows only then: they cost the event loop a third more to send.)"""

    batch_id: str  # the same on every attempt: one batch, one count
    cells: Cells
    received: dict[int, int]
    looked_up: dict[int, str]  # stat id -> public id, as the key cache found the stat
    requests: list[Rows] | None = None


@dataclass
class Outcome:
    """How a commit ended. ``error`` set: nothing was written, and every sender is told
    it (``why`` is for the log). Otherwise all was written but ``refused``: request
    index -> why that request (alone) was left out, and ``gone``: the requests left
    out because a stat they name was deleted since it was looked up."""

    refused: dict[int, str] = field(default_factory=dict)
    gone: list[int] = field(default_factory=list)
    conflicts: int = 0  # transactions run again (deadlocks, certification failures)
    needs_rows: bool = False  # nothing written: refusals to make; send again with rows
    error: str | None = None
    why: str = ""


class Committer:
    """Writes batches on ``lanes`` kept connections, one thread a lane."""

    def __init__(self, engine: Engine, lanes: int = COMMIT_LANES) -> None:
        self._engine = engine
        # how long a commit retries conflicts (and a lost answer's lookup) before its
        # requests are answered 503: the engine's AERIE_DB_RETRY_SECONDS
        self._retry_seconds = retry_seconds(engine)
        self._kept = [KeptConnection(engine) for _ in range(lanes)]
        self._turns = WriteTurns() if engine.dialect.name == "sqlite" else None
        self._serial: AbstractContextManager[object] = self._turns or nullcontext()
        self._marked: dict[int, int] = {}  # stat id -> data_received_at last written

    def in_turn(self, work: Callable[[Engine], T]) -> T:
        """``work(engine)`` in SQLite's writer turn (at once on MariaDB)."""
        with self._serial:
            return work(self._engine)

    def close(self, lane: int) -> None:
        """Give the lane's connection back (on the lane's thread)."""
        self._kept[lane].close()

    def commit(self, lane: int, job: CommitJob) -> Outcome:
        """Write ``job`` on ``lane``'s connection; never raises."""
        outcome = Outcome()

        def count_retry(_exc: BaseException) -> None:
            outcome.conflicts += 1

        marks = _marks(job.received, self._marked)
        kept = self._kept[lane]
        try:
            # on SQLite, a small commit takes the writer's turn before larger work
            with self._turns.costing(len(job.cells)) if self._turns else nullcontext():
                try:
                    self._in_transaction(
                        kept, job.batch_id, count_retry,
                        lambda conn: _write_all(conn, job.cells, marks, job.looked_up))
                except (CellOverflow, _StatsGone):
                    if job.requests is None:
                        outcome.needs_rows = True
                        return outcome
                    outcome.refused, outcome.gone, marks = self._commit_refusing(
                        kept, job, marks, count_retry)
        except Exception as exc:  # noqa: BLE001 - whatever failed, every sender is answered
            outcome.error = exc.message if isinstance(exc, Unavailable) else Unavailable.default_message
            outcome.why = f"the last commit failed: {one_line(exc)}"
            log.warning("group commit of %d cells failed: %s", len(job.cells), exc)
            return outcome
        self._marked.update(marks)
        return outcome

    def _commit_refusing(
        self, kept: KeptConnection, job: CommitJob, marks: Marks,
        count_retry: Callable[[BaseException], None],
    ) -> tuple[dict[int, str], list[int], Marks]:
        """Write the requests whose stats are still there and whose points keep every sum
        finite; refuse the others.

        Requests are taken in the batch's order (each account's in arrival order)
        against the stored sums, read in the same transaction; each is kept only if,
        added to the stored sums and to the requests kept before it, no sum at any
        resolution overflows. A stat has one owner, so
        only its owner's requests can be refused for it. Another process may add to
        the same rows between the read and the write: then the write overflows again
        and the whole decision is taken again. Returns the refusals (overflows, then
        requests naming gone stats) and the marks written.
        """
        assert job.requests is not None
        requests = job.requests
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return self._in_transaction(
                    kept, job.batch_id, count_retry,
                    lambda conn: _write_refusing(conn, requests, marks, job.looked_up))
            except CellOverflow:
                if attempt == _ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def _in_transaction(self, kept: KeptConnection, batch_id: str,
                        count_retry: Callable[[BaseException], None],
                        work: Callable[[Connection], T]) -> T:
        """Run ``work`` and record ``batch_id`` in one transaction, run again whole after a
        conflict until the retry deadline. When COMMIT's answer is lost, the batch id
        says whether it went through: committed, the batch is answered as committed;
        not found, Unavailable (nothing was recorded, so the sender's retry is safe)."""

        def with_id(conn: Connection) -> T:
            result = work(conn)
            record_batch(conn, batch_id, int(time.time()))
            return result

        try:
            return run_transaction(kept, with_id, self._retry_seconds,
                                   lock=self._serial, on_retry=count_retry)
        except CommitOutcomeUnknown as unknown:
            log.warning("the answer to a group commit was lost (%s); looking its batch up",
                        unknown.__cause__)
            if settle_lost_commit(self._engine, batch_id, self._retry_seconds):
                result: T = unknown.result
                return result
            raise Unavailable(Unavailable.default_message) from unknown


def settle_lost_commit(engine: Engine, batch_id: str, seconds: float) -> bool:
    """Whether a batch whose COMMIT's answer never came went through (its id is stored);
    Unavailable(UNKNOWN_OUTCOME) when the database cannot say."""
    try:
        return batch_committed(engine, batch_id, seconds)
    except DBAPIError as exc:
        raise Unavailable(UNKNOWN_OUTCOME) from exc


class _StatsGone(Exception):
    """A stat the batch writes to was deleted since the API looked it up (the key cache
    keeps lookups for ``AERIE_KEY_CACHE_SECONDS``): its requests are to be refused."""


def _write_all(conn: Connection, cells: Cells, marks: Marks, looked_up: dict[int, str]) -> None:
    """The whole batch, if every stat it names is still the one looked up."""
    if stats_gone(conn, looked_up):
        raise _StatsGone
    _write(conn, cells, marks)


def _write(conn: Connection, cells: Cells, marks: Marks) -> None:
    write_cells(conn, cells)
    mark_data_received(conn, marks)


def _write_refusing(
    conn: Connection, requests: list[Rows], marks: Marks, looked_up: dict[int, str]
) -> tuple[dict[int, str], list[int], Marks]:
    """One transaction: the batch less the requests that name a gone stat or overflow;
    returns the overflows' refusals, the gone requests and the marks written (those of
    stats a kept request wrote to). The check of the stats runs in the transaction that
    writes: on SQLite no delete can come between; on MariaDB one that does leaves rows
    of an id no stat has, as ids are not used again."""
    gone_stats = stats_gone(conn, looked_up)
    gone = [i for i, rows in enumerate(requests) if any(row[0] in gone_stats for row in rows)]
    gone_requests = set(gone)
    own = [_request_cells(rows) for rows in requests]
    keys = {key for sums in own for key in sums}
    totals: Sums = stored_sums(conn, keys)
    kept: Cells = {}
    overflowing: dict[int, int] = {}  # request index -> a stat it overflows
    for i, (rows, sums) in enumerate(zip(requests, own, strict=True)):
        if i in gone_requests:
            continue
        trial = {key: totals.get(key, 0.0) + total for key, total in sums.items()}
        bad = next((key[1] for key, total in trial.items() if not math.isfinite(total)), None)
        if bad is not None:
            overflowing[i] = bad
            continue
        totals.update(trial)
        add_points(kept, rows)
    written = {sid for sid, _bucket in kept}
    marks = [(sid, at) for sid, at in marks if sid in written]
    _write(conn, kept, marks)
    names = {sid: _stat_name(conn, sid) for sid in set(overflowing.values())}
    if overflowing:
        log.warning("group commit refused %d requests whose sums overflow", len(overflowing))
    refused = {
        i: (f"stat {names[sid]!r} cannot take these numbers: its total would be too large "
            f"to store (beyond ±{sys.float_info.max:.4g}); nothing from this request was "
            "recorded")
        for i, sid in overflowing.items()
    }
    return refused, gone, marks


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
