"""Transactions that outlive a database cluster's hiccups.

On Galera a certification conflict arrives as MySQL error 1213 on COMMIT or on a
later statement, and the transaction was rolled back whole; so was one that lost
its connection before COMMIT was sent. Either is safe to run again from the start,
which ``run_transaction`` does, with back-off and jitter until a deadline (conflicts
come in bursts: a fixed count of quick retries runs out during one). A COMMIT that
fails any other way has an unknown outcome: the server may have committed before
the answer was lost. That is ``CommitOutcomeUnknown``, for the caller to settle
(the group-commit writer looks up the batch id it wrote in the transaction).

Every other write (the web app's, the scheduler's, the command line's) goes through
``write``: the same policy, for as long as the engine's ``AERIE_DB_RETRY_SECONDS``.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Generic, Protocol, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

log = logging.getLogger("aerie.transactions")
T = TypeVar("T")

# MySQL's "deadlock found" (Galera's certification failure too) and "lock wait timeout".
CONFLICTS = frozenset({1213, 1205})
# Galera's "WSREP has not yet prepared node for application use": a node out of the
# primary component; the connection is dropped so the next one goes to another node.
NODE_NOT_READY = 1047
# The engine option (set by ``aerie.db.make_engine`` from AERIE_DB_RETRY_SECONDS) that
# says how long ``write`` runs a transaction again.
RETRY_SECONDS_OPTION = "aerie_retry_seconds"
DEFAULT_RETRY_SECONDS = 10.0
RETRY_FIRST_SLEEP = 0.005
RETRY_LONGEST_SLEEP = 0.5


class ConnectionSource(Protocol):
    """An Engine (a pooled connection per use), or whatever keeps one connection for its
    user (``api_service.kept_connection.KeptConnection``)."""

    def connect(self) -> AbstractContextManager[Connection]: ...


class CommitOutcomeUnknown(Exception, Generic[T]):
    """COMMIT failed without saying the transaction was rolled back: it may have been
    committed. ``result`` is what the transaction's work returned."""

    def __init__(self, result: T, cause: BaseException) -> None:
        super().__init__(f"the commit's outcome is unknown: {cause}")
        self.result = result


def mysql_error_code(exc: BaseException) -> int | None:
    """The MySQL error number of ``exc`` (SQLAlchemy's or the driver's own), or None
    (SQLite, or not a database error)."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    args = getattr(orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def may_run_again(exc: BaseException) -> bool:
    """Whether ``exc``, raised before or by COMMIT, leaves nothing of the transaction
    behind: a conflict, SQLite's lock held by another process past the busy timeout
    (another API process under load), or a connection lost (or a node not ready)
    mid-transaction."""
    if not isinstance(exc, DBAPIError):
        return False
    sqlite_busy = getattr(exc.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY
    return mysql_error_code(exc) in CONFLICTS or sqlite_busy or exc.connection_invalidated


def backoff(attempt: int) -> float:
    """Seconds to sleep before attempt ``attempt + 1``: "full jitter" (a random share of
    a doubling ceiling), so writers that collided do not collide again in step."""
    ceiling = min(RETRY_LONGEST_SLEEP, RETRY_FIRST_SLEEP * 2 ** min(attempt, 16))
    return random.uniform(0, ceiling)  # noqa: S311 - spreading retries, not a secret


def run_transaction(
    connections: ConnectionSource,
    work: Callable[[Connection], T],
    deadline_seconds: float,
    *,
    lock: AbstractContextManager[object] | None = None,
    on_retry: Callable[[BaseException], None] | None = None,
) -> T:
    """Run ``work`` in one transaction and commit it, again from the start after a
    conflict or a connection lost mid-transaction, until ``deadline_seconds`` have passed.

    ``lock`` is held around each attempt (not while sleeping). Raises the last error
    when the deadline passes, any other error at once, and CommitOutcomeUnknown when
    COMMIT itself failed in a way that does not prove a rollback.
    """
    give_up_at = time.monotonic() + deadline_seconds
    attempt = 0
    while True:
        try:
            with lock if lock is not None else nullcontext():
                return _once(connections, work)
        except DBAPIError as exc:
            pause = backoff(attempt)
            if not may_run_again(exc) or time.monotonic() + pause > give_up_at:
                raise
            attempt += 1
            log.info("transaction run again (attempt %d) after: %s", attempt + 1, exc.orig)
            if on_retry is not None:
                on_retry(exc)
            time.sleep(pause)


def _once(connections: ConnectionSource, work: Callable[[Connection], T]) -> T:
    with connections.connect() as conn:
        transaction = conn.begin()
        try:
            result = work(conn)
        except BaseException:
            transaction.rollback()
            raise
        try:
            transaction.commit()
        except DBAPIError as exc:
            if may_run_again(exc) and not exc.connection_invalidated:
                raise  # a conflict refused at COMMIT: rolled back, certainly
            raise CommitOutcomeUnknown(result, exc) from exc
        return result


def retry_seconds(engine: Engine) -> float:
    """How long a transaction on ``engine`` is run again after conflicts before its
    error stands (AERIE_DB_RETRY_SECONDS, put on the engine by ``make_engine``)."""
    seconds: float = engine.get_execution_options().get(RETRY_SECONDS_OPTION,
                                                        DEFAULT_RETRY_SECONDS)
    return seconds


def write(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run ``work`` in one transaction and commit it, as ``run_transaction`` does, until
    the engine's retry deadline (AERIE_DB_RETRY_SECONDS) has passed: a deadlock, lock
    wait timeout, certification failure or SQLite BUSY costs a user a moment, not a 503.

    ``work`` may run more than once, so it does database work only: no mail, RPC or
    change to its caller's state. A COMMIT whose outcome is unknown raises its database
    error, as it did before any retry (the web app answers it 503).
    """
    try:
        return run_transaction(engine, work, retry_seconds(engine))
    except CommitOutcomeUnknown as exc:
        raise exc.__cause__ or exc from None
