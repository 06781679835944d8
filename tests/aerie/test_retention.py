"""Pruning deletes exactly the expired rollup rows, a small batch per transaction."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from aerie.retention import prune_expired
from aerie.schema import DAY, stat_hours, stat_minutes
from aerie.settings import Settings
from aerie.stats import Stat
from tests.conftest import Account, make_stat, put_points

BATCH = 7


@pytest.fixture
def deletes(engine: Engine) -> Iterator[list[tuple[str, int]]]:
    """Every DELETE the engine runs, as (statement's first words, rows it deleted), and
    a ("COMMIT", 0) for every commit."""
    seen: list[tuple[str, int]] = []

    def after_execute(_conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            seen.append((" ".join(statement.split()[:3]), cursor.rowcount))

    def on_commit(_conn: Any) -> None:
        seen.append(("COMMIT", 0))

    event.listen(engine, "after_cursor_execute", after_execute)
    event.listen(engine, "commit", on_commit)
    yield seen
    event.remove(engine, "after_cursor_execute", after_execute)
    event.remove(engine, "commit", on_commit)


def buckets(engine: Engine, stat: Stat, table: Any = stat_minutes) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(
            select(table.c.bucket).where(table.c.stat_id == stat.id).order_by(table.c.bucket)
        ).scalars())


def test_prune_deletes_exactly_the_expired_minutes_in_small_batches(
    engine: Engine, settings: Settings, owner: Account, deletes: list[tuple[str, int]]
) -> None:
    now = int(time.time()) // 3600 * 3600
    cutoff = now - 30 * DAY
    many = make_stat(engine, owner, "many expired", "counter")
    exact = make_stat(engine, owner, "two batches exactly", "counter")
    fresh = make_stat(engine, owner, "nothing expired", "counter")
    put_points(engine, many, [(cutoff - 60 * k, 1.0) for k in range(1, 51)]
               + [(cutoff + 60 * k, 1.0) for k in range(10)])
    put_points(engine, exact, [(cutoff - 60 * k, 1.0) for k in range(1, 2 * BATCH + 1)])
    put_points(engine, fresh, [(now - 60 * k, 1.0) for k in range(5)])
    hours_before = buckets(engine, many, stat_hours)

    deleted = prune_expired(engine, settings.model_copy(update={"retention_minutes_days": 30}),
                            now, batch_rows=BATCH, pause=False)  # sizes, not pacing

    assert buckets(engine, many) == [cutoff + 60 * k for k in range(10)]
    assert buckets(engine, exact) == []
    assert buckets(engine, fresh) == [now - 60 * k for k in range(4, -1, -1)]
    assert buckets(engine, many, stat_hours) == hours_before  # hours are kept two years
    assert deleted["stat_minutes"] >= 50 + 2 * BATCH
    # Rows deleted per transaction: never more than a batch, and so many transactions.
    batches, rows_in_open = [], 0
    for what, rows in deletes:
        if what == "COMMIT" and rows_in_open:
            batches.append(rows_in_open)
            rows_in_open = 0
        elif what == "DELETE FROM stat_minutes":
            rows_in_open += rows
    assert sum(batches) == deleted["stat_minutes"]
    assert max(batches) <= BATCH
    assert len(batches) >= (50 + 2 * BATCH) // BATCH


def test_prune_keeps_everything_when_retention_is_forever(
    engine: Engine, settings: Settings, owner: Account
) -> None:
    now = int(time.time()) // 3600 * 3600
    old = make_stat(engine, owner, "very old", "value")
    points = [(now - 400 * DAY + 60 * k, 2.0) for k in range(3)]
    put_points(engine, old, points)

    forever = settings.model_copy(update={"retention_minutes_days": 0, "retention_hours_days": 0})
    deleted = prune_expired(engine, forever, now, batch_rows=BATCH, pause=False)

    assert "stat_minutes" not in deleted and "stat_hours" not in deleted
    assert buckets(engine, old) == [t for t, _ in points]
