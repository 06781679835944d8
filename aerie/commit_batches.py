"""Group-commit batch ids: how a writer learns whether a commit it lost the answer to
went through.

The writer inserts its batch's id in the batch's own transaction, so the row exists
exactly when the batch's points do. After the connection drops during COMMIT it asks
a connection that answers (another Galera node, or the same server once reachable);
on Galera with ``wsrep_sync_wait`` on, so that node has applied every write set the
cluster ordered before the question. Ids older than ``KEEP_SECONDS`` are pruned: a
lookup comes within seconds of its commit.
"""

from __future__ import annotations

import functools
import secrets
import time

from sqlalchemy import Connection, Engine, delete, insert, select, text
from sqlalchemy.exc import DBAPIError

from aerie.driver_sql import positional_sql
from aerie.schema import commit_batches
from aerie.transactions import backoff

KEEP_SECONDS = 3600
PRUNE_CHUNK = 1000  # ids deleted a transaction


def new_batch_id() -> str:
    return secrets.token_hex(16)


def record_batch(conn: Connection, batch_id: str, now: int) -> None:
    """In the batch's own transaction: its id, for a later ``batch_committed``."""
    conn.exec_driver_sql(_insert_sql(conn.dialect.name), (batch_id, now))


@functools.cache
def _insert_sql(dialect_name: str) -> str:
    """Compiled once: every group commit runs it."""
    return positional_sql(dialect_name, insert(commit_batches), ("id", "committed_at"))


def batch_committed(engine: Engine, batch_id: str, deadline_seconds: float) -> bool:
    """Whether the batch ``batch_id`` was committed, asked of a connection that answers,
    again with back-off until ``deadline_seconds`` have passed; raises the last error if
    no connection answered by then."""
    give_up_at = time.monotonic() + deadline_seconds
    attempt = 0
    while True:
        try:
            with engine.connect() as conn:
                query = select(commit_batches.c.id).where(commit_batches.c.id == batch_id)
                if conn.dialect.name == "sqlite":
                    return conn.execute(query).first() is not None
                # On Galera: this node first applies what the cluster ordered before the
                # question (a plain MariaDB has the variable too, and ignores it).
                conn.execute(text("SET SESSION wsrep_sync_wait = 1"))
                found = conn.execute(query).first() is not None
                conn.execute(text("SET SESSION wsrep_sync_wait = 0"))  # the pool's next user
                return found
        except DBAPIError:
            pause = backoff(attempt)
            if time.monotonic() + pause > give_up_at:
                raise
            attempt += 1
            time.sleep(pause)


def prune_batches(conn: Connection, now: int, limit: int = PRUNE_CHUNK) -> int:
    """Delete up to ``limit`` ids older than KEEP_SECONDS, oldest first; returns how many
    (fewer than ``limit``: none is left). Bounded, so a busy hour's ids (hundreds of
    thousands at a few hundred commits a second) never make one long transaction."""
    cutoff = now - KEEP_SECONDS
    ids = conn.execute(select(commit_batches.c.id).where(commit_batches.c.committed_at < cutoff)
                       .order_by(commit_batches.c.committed_at).limit(limit)).scalars().all()
    if ids:
        conn.execute(delete(commit_batches).where(commit_batches.c.id.in_(ids)))
    return len(ids)
