"""Commit lanes in a process of their own (``AERIE_COMMIT_PROCESS=true``):
``ProcessLanes``, and that process's main.

On threads of the API's process (``api_service.commit_lanes.ThreadLanes``, the
default), a commit's Python work (SQLAlchemy, the driver) takes the interpreter
lock from the event loop, and each time the commit thread comes back from the
database it waits for the loop to let go of it: a ``/c`` commit of 16-31 posts
spent 580-770 µs waiting to start and 780-1,110 µs running, for 380-450 µs of its
own CPU. In a process of their own, commits take none of the loop's lock: ``/c``
made 15,400-16,400 posts/s against 9,200-9,700 at 64 connections (bench/ingest.py,
alternating, bench/README.md). The price, on a two-core machine that also runs the
clients: while one account floods, another's posts wait longer at the tail
(bench/fairness.py: p99 55-57 ms against 33), as the process's threads compete
for the two cores; hence off by default.

The API sends each batch (``CommitJob``) down a pipe as one length-prefixed pickle
and hears back its ``Outcome`` on another, read on the event loop; neither side
trusts anything but the other. The process runs one thread per lane with a kept
connection, SQLite's ``WriteTurns`` and its WAL checkpoints, and one thread for the
API's other writes (new stats, pruning: ``run``), sent as pickled functions of the
engine, so that their SQLite turn is held by a thread that never waits for the
event loop. The process ignores SIGINT and SIGTERM: it stops when the API says
so, after the API's last commit, or when the API is gone (its pipe ends). If it
dies, whatever it was committing is settled by batch id, as a lost COMMIT answer
is (acknowledged only if stored), and the next commit starts a new one.
"""

from __future__ import annotations

import asyncio
import fcntl
import itertools
import logging
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine

from aerie.db import make_engine
from aerie.errors import AerieError, Unavailable
from aerie.settings import Settings
from aerie.transactions import retry_seconds
from api_service.checkpoints import (
    INTERVAL_SECONDS,
    WalCheckpoints,
    leave_checkpoints_to_the_writer,
)
from api_service.commit_lanes import Done
from api_service.committer import (
    COMMIT_LANES,
    UNKNOWN_OUTCOME,
    CommitJob,
    Committer,
    Outcome,
    settle_lost_commit,
)

log = logging.getLogger("aerie.writer")
T = TypeVar("T")

_LENGTH = struct.Struct("!I")
_READ_BYTES = 1 << 16
_PIPE_BYTES = 1 << 20
# How long the API waits for the process to end once told to stop (its last commits
# are done by then) or once its pipe has ended, before killing it.
STOP_SECONDS = 30.0
GONE = "the commit process stopped; nothing in flight was recorded unless acknowledged"
_PROJECT = Path(__file__).resolve().parent.parent  # the process imports this same code


def _frame(message: object) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(payload)) + payload


class _Frames:
    """Messages out of a byte stream of length-prefixed pickles."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        self._buffer += data
        messages = []
        while len(self._buffer) >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(self._buffer)
            end = _LENGTH.size + size
            if len(self._buffer) < end:
                break
            messages.append(pickle.loads(self._buffer[_LENGTH.size:end]))  # noqa: S301 - our child
            del self._buffer[:end]
        return messages


@dataclass
class _Child:
    """One commit process, seen from the API's event loop."""

    process: subprocess.Popen[bytes]
    to_child: int  # non-blocking write end
    from_child: int  # non-blocking read end
    ready: asyncio.Future[None]  # done once it takes commits, or is gone
    frames: _Frames = field(default_factory=_Frames)
    unsent: bytearray = field(default_factory=bytearray)
    pending: dict[int, tuple[CommitJob, Done]] = field(default_factory=dict)
    working: dict[int, asyncio.Future[Any]] = field(default_factory=dict)  # run()s in flight
    stopping: bool = False
    gone: bool = False


class ProcessLanes:
    """Commit lanes in a child process, started with ``start`` and again after it dies."""

    def __init__(self, settings: Settings, engine: Engine,
                 checkpoint_interval: float = INTERVAL_SECONDS) -> None:
        """``engine``: this process's, to settle what a lost child was committing."""
        self._settings = settings
        self._engine = engine
        self._checkpoint_interval = checkpoint_interval
        if engine.dialect.name == "sqlite":  # the child checkpoints; our writes leave it to it
            leave_checkpoints_to_the_writer(engine)
        self._ids = itertools.count()
        self._child: _Child | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._settling: set[asyncio.Task[None]] = set()
        self._stopped = False

    @property
    def pid(self) -> int | None:
        """The running child's process id, if one runs."""
        return self._child.process.pid if self._child else None

    async def start(self) -> None:
        """Start the process and wait until it takes commits (an API that cannot commit
        fails at start, saying why, rather than at its first post)."""
        self._loop = asyncio.get_running_loop()
        child = self._running()
        await child.ready
        if child.gone:
            raise RuntimeError(f"the commit process ended at start (exit code "
                               f"{child.process.wait()}); its error is above")

    async def stop(self) -> None:
        self._stopped = True
        child = self._child
        if child is not None:
            child.stopping = True
            self._send(child, ("stop",))
            await asyncio.to_thread(_wait_or_kill, child.process)
            self._read(child)  # whatever it said last, then its end
            self._lost(child)
        if self._settling:
            await asyncio.gather(*self._settling)

    def submit(self, lane: int, job: CommitJob, done: Done) -> None:
        child = self._running()
        job_id = next(self._ids)
        child.pending[job_id] = (job, done)
        self._send(child, ("commit", lane, job_id, job))

    async def run(self, work: Callable[[Engine], T]) -> T:
        child = self._running()
        await child.ready
        if child.gone:
            raise Unavailable(GONE)
        work_id = next(self._ids)
        result: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        child.working[work_id] = result
        self._send(child, ("work", work_id, work))
        return await result

    def _running(self) -> _Child:
        if self._stopped:
            raise Unavailable("the API is shutting down; retry on another copy")
        if self._child is None or self._child.gone:
            self._child = self._spawn()
        return self._child

    def _spawn(self) -> _Child:
        loop = self._loop
        assert loop is not None, "start() the lanes first"
        jobs_read, jobs_write = os.pipe()
        answers_read, answers_write = os.pipe()
        theirs = (jobs_read, answers_write)
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "api_service.commit_process", *map(str, theirs)],
                pass_fds=theirs, cwd=_PROJECT, stdin=subprocess.DEVNULL,
            )
        finally:
            for fd in theirs:
                os.close(fd)
        os.set_blocking(jobs_write, False)
        os.set_blocking(answers_read, False)
        _widen(jobs_write)
        child = _Child(process, jobs_write, answers_read, loop.create_future())
        loop.add_reader(answers_read, self._read, child)
        self._send(child, (self._settings, self._checkpoint_interval))
        return child

    def _send(self, child: _Child, message: object) -> None:
        if child.gone:
            return
        if child.unsent:
            child.unsent += _frame(message)
            return
        data = _frame(message)
        try:
            sent = os.write(child.to_child, data)
        except BlockingIOError:
            sent = 0
        except BrokenPipeError:
            self._lost(child)
            return
        if sent < len(data):
            child.unsent += data[sent:]
            assert self._loop is not None
            self._loop.add_writer(child.to_child, self._flush, child)

    def _flush(self, child: _Child) -> None:
        try:
            sent = os.write(child.to_child, child.unsent)
        except BlockingIOError:
            return
        except BrokenPipeError:
            self._lost(child)
            return
        del child.unsent[:sent]
        if not child.unsent:
            assert self._loop is not None
            self._loop.remove_writer(child.to_child)

    def _read(self, child: _Child) -> None:
        while not child.gone:
            try:
                data = os.read(child.from_child, _READ_BYTES)
            except BlockingIOError:
                return
            if not data:
                self._lost(child)
                return
            for message in child.frames.feed(data):
                if message[0] == "done":
                    _kind, job_id, outcome = message
                    _job, done = child.pending.pop(job_id)
                    done(outcome)
                elif message[0] == "worked":
                    _kind, work_id, result, error = message
                    future = child.working.pop(work_id)
                    if error is None:
                        future.set_result(result)
                    else:
                        future.set_exception(error)
                elif message[0] == "ready":
                    child.ready.set_result(None)

    def _lost(self, child: _Child) -> None:
        """The child's pipe ended: settle its commits in flight; its other writes in
        flight fail (a retry finds any stats they made)."""
        if child.gone:
            return
        child.gone = True
        if not child.ready.done():
            child.ready.set_result(None)
        assert self._loop is not None
        self._loop.remove_reader(child.from_child)
        self._loop.remove_writer(child.to_child)
        os.close(child.from_child)
        os.close(child.to_child)
        if not child.stopping:
            log.warning("the commit process (pid %d) ended with %d commits in flight",
                        child.process.pid, len(child.pending))
        for result in child.working.values():
            if not result.done():
                result.set_exception(Unavailable(GONE))
        child.working.clear()
        if child.pending:
            task = self._loop.create_task(self._settle(child))
            self._settling.add(task)
            task.add_done_callback(self._settling.discard)

    async def _settle(self, child: _Child) -> None:
        """Once the lost child has ended (no commit of its can land later), answer each
        of its commits by whether its batch id is stored."""
        await asyncio.to_thread(_wait_or_kill, child.process)
        seconds = retry_seconds(self._engine)
        for job, done in child.pending.values():
            try:
                stored = await asyncio.to_thread(settle_lost_commit, self._engine, job.batch_id,
                                                 seconds)
            except Unavailable:
                done(Outcome(error=UNKNOWN_OUTCOME, why=f"the last commit failed: {GONE}"))
                continue
            done(Outcome() if stored else Outcome(error=Unavailable.default_message,
                                                  why=f"the last commit failed: {GONE}"))


def _widen(pipe: int) -> None:
    """Let the jobs pipe take a flood's 1,000-cell batches whole (up to 1 MiB, where the
    system allows): with the default 64 KiB, the rest waited for the busy event loop
    to send it, and a quiet account's batch waited behind it (bench/fairness.py: its
    commits' trip to the process, p99 18-19 ms, against 15 once widened)."""
    with suppress(OSError):
        fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)


def _wait_or_kill(process: subprocess.Popen[bytes]) -> None:
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        log.warning("the commit process (pid %d) did not stop; killed", process.pid)
        process.kill()
        process.wait()


class _Answers:
    """The child's end of the answer pipe, written whole by one lane at a time."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()

    def send(self, message: object) -> None:
        data = memoryview(_frame(message))
        with self._lock:
            try:
                while data:
                    data = data[os.write(self._fd, data):]
            except BrokenPipeError:
                pass  # the API is gone: its pipe's end stops this process


def serve(jobs: int, replies: int) -> None:
    """The commit process: commit what the API sends until it says stop or is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the API stops it, after its last commit
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    frames = _Frames()
    incoming: list[Any] = []

    def next_message() -> Any:
        while not incoming:
            data = os.read(jobs, _READ_BYTES)
            if not data:
                return None
            incoming.extend(frames.feed(data))
        return incoming.pop(0)

    first = next_message()
    if first is None:
        return
    settings, checkpoint_interval = first
    engine = make_engine(settings)
    sqlite = engine.dialect.name == "sqlite"
    checkpoints = WalCheckpoints(engine, checkpoint_interval) if sqlite else None
    committer = Committer(engine)
    answers = _Answers(replies)
    lanes: list[queue.SimpleQueue[Any]] = [queue.SimpleQueue() for _ in range(COMMIT_LANES)]
    between: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def lane(number: int) -> None:
        while (item := lanes[number].get()) is not None:
            job_id, job = item
            answers.send(("done", job_id, committer.commit(number, job)))
        committer.close(number)

    def work_between() -> None:
        while (item := between.get()) is not None:
            work_id, work = item
            try:
                reply: tuple[object, ...] = ("worked", work_id, committer.in_turn(work), None)
            except AerieError as exc:
                reply = ("worked", work_id, None, exc)
            except Exception as exc:  # noqa: BLE001 - told as a 503, never lost
                log.warning("a write between commits failed: %s", exc)
                reply = ("worked", work_id, None, Unavailable(Unavailable.default_message))
            try:
                answers.send(reply)
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                log.warning("a write's answer could not be sent: %s", exc)
                answers.send(("worked", work_id, None, Unavailable(Unavailable.default_message)))

    threads = [threading.Thread(target=lane, args=(i,), name=f"aerie-commit-{i}")
               for i in range(COMMIT_LANES)]
    threads.append(threading.Thread(target=work_between, name="aerie-between"))
    for thread in threads:
        thread.start()
    if checkpoints is not None:
        checkpoints.start()
    answers.send(("ready",))
    while (message := next_message()) is not None and message[0] != "stop":
        if message[0] == "commit":
            _kind, number, job_id, job = message
            lanes[number].put((job_id, job))
        else:  # "work"
            between.put(message[1:])
    for waiting in [*lanes, between]:  # "stop", or the API is gone
        waiting.put(None)
    for thread in threads:
        thread.join()
    if checkpoints is not None:
        checkpoints.stop()
    engine.dispose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING,
                        format="%(levelname)s: [commit process] %(name)s: %(message)s")
    serve(int(sys.argv[1]), int(sys.argv[2]))
