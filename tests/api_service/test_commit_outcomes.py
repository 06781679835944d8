"""A group commit counts each point once, whatever the database does to the transaction.

Conflicts (MySQL 1213/1205: a deadlock, or a Galera certification failure) roll the
transaction back, so the writer runs the whole batch again, for as long as its retry
deadline allows. A COMMIT whose answer is lost may or may not have gone through: the
batch id written in the same transaction says which, so a committed batch is
acknowledged (the sender must not retry it) and only an absent one answers 503.
Faults are injected at the driver's edge: a conflict raised by the driver, a COMMIT
whose answer is replaced by a lost connection, and (on MariaDB) the connection killed
from another session just before COMMIT.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import pymysql
import pytest
from sqlalchemy import Engine, create_engine, event, func, insert, select, text

from aerie.commit_batches import KEEP_SECONDS, prune_batches
from aerie.errors import Unavailable
from aerie.schema import commit_batches
from aerie.stats import Stat, stats_by_names
from aerie.transactions import RETRY_SECONDS_OPTION
from api_service import writer as writer_module
from api_service.keycache import KeyCache, looked_up
from api_service.writer import GroupCommitWriter
from tests.conftest import Account, make_stat
from tests.security.test_fairness import minute_totals


def post(engine: Engine, owner: Account, stat: Stat, points: int) -> list[object]:
    """Post ``points`` single-point requests at once through a writer; each request's
    outcome: its commit number, or the exception it was answered with."""
    now = int(time.time())

    async def run() -> list[object]:
        group = GroupCommitWriter(engine)
        await group.start()
        try:
            waiting = [group.add([(stat.id, float(now), 1.0)], now, owner.user.id,
                      looked_up([stat]))
                       for _ in range(points)]
            return list(await asyncio.gather(*waiting, return_exceptions=True))
        finally:
            await group.stop()

    return asyncio.run(run())


def conflicts_on_batch_id(engine: Engine, times: int, code: int = 1213) -> list[int]:
    """Make the driver refuse the batch id's INSERT ``times`` times with MySQL error
    ``code``, as Galera refuses a transaction that lost certification; returns a list
    that grows by one per refusal."""
    refused: list[int] = []

    @event.listens_for(engine, "before_cursor_execute")
    def refuse(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT INTO commit_batches") and len(refused) < times:
            refused.append(code)
            raise pymysql.err.OperationalError(code, "Deadlock found when trying to get lock; "
                                                     "try restarting transaction")

    return refused


def lose_commit_answer(engine: Engine, monkeypatch: pytest.MonkeyPatch, commit_first: bool,
                       before: Callable[[Any], None] | None = None) -> None:
    """Make the next COMMIT fail as a dropped connection does: after committing
    (``commit_first``: the answer was lost) or without committing (rolled back)."""
    real = engine.dialect.do_commit
    lost = pymysql.err.OperationalError(2013, "Lost connection to server during query")
    if engine.dialect.name == "sqlite":
        lost = sqlite3.OperationalError("disk I/O error")
    state = {"done": False}

    def commit(dbapi_connection: Any) -> None:
        if state["done"]:
            real(dbapi_connection)
            return
        state["done"] = True
        if before is not None:
            before(dbapi_connection)
        if commit_first:
            real(dbapi_connection)
        else:
            engine.dialect.do_rollback(dbapi_connection)
        raise lost

    monkeypatch.setattr(engine.dialect, "do_commit", commit)


def test_conflicts_beyond_three_are_run_again_and_counted_once(
    engine: Engine, owner: Account
) -> None:
    """Six conflicts in a row (the old writer gave up after three) cost no request: all
    are acknowledged, each point stored once."""
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time: no deadlocks, no certification")
    stat = make_stat(engine, owner, "contended", "counter")
    refused = conflicts_on_batch_id(engine, 6)
    outcomes = post(engine, owner, stat, 20)
    assert len(refused) == 6
    assert all(isinstance(o, int) for o in outcomes), outcomes
    assert minute_totals(engine, [stat]) == (20, 20.0)


def test_conflicts_past_the_deadline_answer_503_and_record_nothing(
    engine: Engine, owner: Account
) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time: no deadlocks, no certification")
    stat = make_stat(engine, owner, "always contended", "counter")
    conflicts_on_batch_id(engine, 10_000, code=1205)
    outcomes = post(engine.execution_options(**{RETRY_SECONDS_OPTION: 0.3}), owner, stat, 3)
    assert all(isinstance(o, Unavailable) for o in outcomes), outcomes
    assert minute_totals(engine, [stat]) == (0, 0.0)


@pytest.mark.parametrize("applied", [True, False], ids=["went through", "rolled back"])
def test_a_commit_whose_answer_was_lost_is_acknowledged_only_if_it_went_through(
    engine: Engine, owner: Account, monkeypatch: pytest.MonkeyPatch, applied: bool
) -> None:
    """Went through: the sender hears 200, so it does not post again and the points
    count once. Rolled back: only then "nothing was recorded, retry" (503)."""
    stat = make_stat(engine, owner, f"answer lost {applied}", "counter")
    lose_commit_answer(engine, monkeypatch, commit_first=applied)
    outcomes = post(engine, owner, stat, 5)
    if applied:
        assert all(isinstance(o, int) for o in outcomes), outcomes
        assert minute_totals(engine, [stat]) == (5, 5.0)
    else:
        assert all(isinstance(o, Unavailable) for o in outcomes), outcomes
        assert "nothing was recorded" in str(outcomes[0])
        assert minute_totals(engine, [stat]) == (0, 0.0)


def test_connection_killed_just_before_commit_answers_503_and_records_nothing(
    engine: Engine, owner: Account
) -> None:
    """On MariaDB, for real: another session KILLs the writer's connection as its COMMIT
    is about to go out; the server rolled the transaction back, so the batch is absent."""
    if engine.dialect.name == "sqlite":
        pytest.skip("a MariaDB connection killed from another session")
    stat = make_stat(engine, owner, "killed", "counter")
    admin = create_engine(engine.url)
    killed: list[int] = []

    @event.listens_for(engine, "commit")
    def kill(conn: Any) -> None:
        if killed:
            return
        thread_id = conn.connection.dbapi_connection.thread_id()
        killed.append(thread_id)
        with admin.connect() as other:
            other.execute(text(f"KILL CONNECTION {int(thread_id)}"))

    try:
        outcomes = post(engine, owner, stat, 5)
    finally:
        admin.dispose()
    assert killed
    assert all(isinstance(o, Unavailable) for o in outcomes), outcomes
    assert minute_totals(engine, [stat]) == (0, 0.0)
    again = post(engine, owner, stat, 2)  # the pool's dead connection is left behind
    assert all(isinstance(o, int) for o in again), again
    assert minute_totals(engine, [stat]) == (2, 2.0)


def test_batch_ids_are_kept_a_while_then_pruned(engine: Engine, owner: Account) -> None:
    stat = make_stat(engine, owner, "pruned", "counter")
    post(engine, owner, stat, 1)
    now = int(time.time())
    with engine.begin() as conn:
        assert prune_batches(conn, now) == 0
        kept = conn.execute(select(func.count()).select_from(commit_batches)).scalar_one()
        assert kept >= 1
        pruned = [prune_batches(conn, now + KEEP_SECONDS + 60)]
        while pruned[-1]:
            pruned.append(prune_batches(conn, now + KEEP_SECONDS + 60))
        assert sum(pruned) >= 1
        assert conn.execute(select(func.count()).select_from(commit_batches).where(
            commit_batches.c.committed_at >= now - 1)).scalar_one() == 0


def test_a_new_stat_whose_commit_answer_was_lost_is_read_back_not_refused(
    engine: Engine, owner: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stat creation runs again after a lost COMMIT answer; the stats it did create are
    read back, so the post is not turned away and no stat is made twice."""
    lose_commit_answer(engine, monkeypatch, commit_first=True)
    names = {"new after lost answer": "counter", "and its neighbour": "counter"}

    async def run() -> dict[str, Stat]:
        writer = GroupCommitWriter(engine)
        await writer.start()
        try:
            # room for exactly these two: the run again must not count them twice
            keys = KeyCache(engine, 30, writer, max_stats=2)
            return await keys.stats_for_names(owner.user.id, names, int(time.time()))
        finally:
            await writer.stop()

    found = asyncio.run(run())
    with engine.connect() as conn:
        named = stats_by_names(conn, owner.user.id, list(names))
    assert {name: stat.id for name, stat in found.items()} == {
        name: stat.id for name, stat in named.items()}
    assert len(named) == 2


def test_a_sender_that_stops_waiting_leaves_the_commit_and_the_others_answers_alone(
    engine: Engine, owner: Account
) -> None:
    """A request's task cancelled while it waits (its client gone, the server stopping)
    drops only its own wait: its points are in the batch already and are written,
    and every other request in the batch is answered."""
    stat = make_stat(engine, owner, "waited", "counter")
    now = int(time.time())

    async def run() -> list[object]:
        group = GroupCommitWriter(engine)
        await group.start()
        try:
            waits = [asyncio.ensure_future(group.add([(stat.id, float(now), 1.0)], now,
                                                     owner.user.id, looked_up([stat]))) for _ in range(5)]
            waits[2].cancel()
            return list(await asyncio.gather(*waits, return_exceptions=True))
        finally:
            await group.stop()

    answers = asyncio.run(run())
    assert isinstance(answers[2], asyncio.CancelledError)
    assert all(isinstance(answer, int) for i, answer in enumerate(answers) if i != 2)
    assert minute_totals(engine, [stat]) == (5, 5.0)


def test_a_lane_connection_lost_between_commits_costs_no_post(
    engine: Engine, owner: Account
) -> None:
    """Each commit lane keeps its connection from commit to commit. When it dies while
    idle (MariaDB: killed from another session, as a server restart or a Galera node
    leaving would; SQLite: closed underneath), the next commit runs again on a new
    connection: every post is acknowledged and stored once."""
    stat = make_stat(engine, owner, "kept connection", "counter")
    used: list[Any] = []  # the DBAPI connection of each commit

    @event.listens_for(engine, "commit")
    def remember(conn: Any) -> None:
        used.append(conn.connection.dbapi_connection)

    def lose(dbapi_connection: Any) -> None:
        if engine.dialect.name == "sqlite":
            dbapi_connection.close()
            return
        admin = create_engine(engine.url)
        try:
            with admin.connect() as other:
                other.execute(text(f"KILL CONNECTION {int(dbapi_connection.thread_id())}"))
        finally:
            admin.dispose()

    now = int(time.time())

    async def run() -> list[object]:
        group = GroupCommitWriter(engine)
        await group.start()
        try:
            first = [await group.add([(stat.id, float(now), 1.0)], now, owner.user.id,
                      looked_up([stat]))
                     for _ in range(3)]
            lose(used[-1])
            second = [group.add([(stat.id, float(now), 1.0)], now, owner.user.id,
                      looked_up([stat]))
                      for _ in range(3)]
            return first + list(await asyncio.gather(*second, return_exceptions=True))
        finally:
            await group.stop()

    outcomes = asyncio.run(run())
    assert all(isinstance(o, int) for o in outcomes), outcomes
    assert len({id(c) for c in used[:3]}) == 1  # one lane, one connection, three commits
    assert used[-1] is not used[0]
    assert minute_totals(engine, [stat]) == (6, 6.0)


def test_old_batch_ids_go_a_thousand_a_transaction_oldest_first(engine: Engine) -> None:
    """A busy hour leaves hundreds of thousands of ids: each pruning transaction takes a
    thousand, the oldest first."""
    now = int(time.time())
    oldest = now - KEEP_SECONDS - 100_000  # older than any other test's ids
    ids = [f"old-{secrets.token_hex(8)}-{i:04d}" for i in range(2500)]
    with engine.begin() as conn:
        conn.execute(insert(commit_batches), [
            {"id": batch_id, "committed_at": oldest + i} for i, batch_id in enumerate(ids)])
    left = []
    for _ in range(3):
        with engine.begin() as conn:
            prune_batches(conn, now)
            left.append(conn.execute(select(commit_batches.c.id).where(
                commit_batches.c.id.in_(ids))).scalars().all())
    assert sorted(left[0]) == sorted(ids[1000:])  # the oldest thousand went first
    assert [len(now_left) for now_left in left] == [1500, 500, 0]


def test_the_writer_prunes_old_batch_ids_beside_its_commits(
    engine: Engine, owner: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "PRUNE_EVERY_SECONDS", 0.0)
    stale = f"stale-{secrets.token_hex(8)}"
    with engine.begin() as conn:
        conn.execute(insert(commit_batches).values(
            id=stale, committed_at=int(time.time()) - KEEP_SECONDS - 10))
    stat = make_stat(engine, owner, "pruning beside", "counter")
    outcomes = post(engine, owner, stat, 3)
    assert all(isinstance(o, int) for o in outcomes), outcomes
    with engine.connect() as conn:
        assert conn.execute(select(commit_batches.c.id).where(
            commit_batches.c.id == stale)).first() is None


@pytest.mark.parametrize("applied", [True, False], ids=["went through", "rolled back"])
def test_after_a_lost_commit_answer_the_next_posts_are_acknowledged(
    engine: Engine, owner: Account, monkeypatch: pytest.MonkeyPatch, applied: bool
) -> None:
    """A COMMIT whose answer was lost leaves the lane's connection in no state to begin
    again; the writer must take a fresh one, not answer 503 from then on."""
    stat = make_stat(engine, owner, f"after a lost answer {applied}", "counter")
    lose_commit_answer(engine, monkeypatch, commit_first=applied)
    now = int(time.time())

    async def run() -> list[object]:
        group = GroupCommitWriter(engine)
        await group.start()
        try:
            outcomes: list[object] = []
            for _ in range(3):  # one at a time: three commits on the same lane
                try:
                    outcomes.append(await group.add([(stat.id, float(now), 1.0)], now,
                                                    owner.user.id, looked_up([stat])))
                except Unavailable as exc:
                    outcomes.append(exc)
            return outcomes
        finally:
            await group.stop()

    outcomes = asyncio.run(run())
    assert all(isinstance(o, int) for o in outcomes[1:]), outcomes
    assert isinstance(outcomes[0], int) == applied, outcomes
    stored = 3 if applied else 2
    assert minute_totals(engine, [stat]) == (stored, float(stored))
