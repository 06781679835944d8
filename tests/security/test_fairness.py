"""One account's flood must not hold up another account's posts (fair group commit).

The writer queues requests per account and fills each commit round-robin across
accounts up to a budget of cells, so a quiet account's request rides in the
next commit instead of behind everything a flood has queued; with two lanes free,
small requests commit apart from large ones.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import Engine, func, select

from aerie.errors import Unavailable
from aerie.schema import ROLLUPS
from aerie.stats import Stat
from api_service.keycache import looked_up
from api_service.writer import GroupCommitWriter, Rows
from tests.conftest import Account, make_stat

FLOOD_REQUESTS = 30
FLOOD_STATS = 20
FLOOD_MINUTES = 50  # 20 stats x 50 minutes: 1,000 points (and cells) a request


def flood_rows(stats: list[Stat], now: int, request: int) -> Rows:
    """The ``request``-th flood request: minutes of its own, so no two requests share
    a cell (a commit's budget counts cells)."""
    first = request * FLOOD_MINUTES
    return [(stat.id, float(now - (first + minute) * 60), 1.0)
            for stat in stats for minute in range(FLOOD_MINUTES)]


def minute_totals(engine: Engine, stats: list[Stat]) -> tuple[int, float]:
    """Points stored at minute resolution for these stats: (count, sum)."""
    table = ROLLUPS[0][1]
    with engine.connect() as conn:
        n, total = conn.execute(
            select(func.coalesce(func.sum(table.c.n), 0), func.coalesce(func.sum(table.c.sum), 0))
            .where(table.c.stat_id.in_([stat.id for stat in stats]))
        ).one()
    return int(n), float(total)


def test_quiet_request_rides_in_one_of_the_next_two_commits_behind_a_flood(
    engine: Engine, owner: Account, outsider: Account
) -> None:
    """30 requests of 1,000 points from the flood account are queued, then one quiet
    point: the quiet point is committed in the first or second commit, while the flood
    needs later commits too; every flood point is stored, in the order sent."""
    flood = [make_stat(engine, outsider, f"flood {i}", "counter") for i in range(FLOOD_STATS)]
    quiet = make_stat(engine, owner, "quiet", "counter")
    now = int(time.time())

    async def run() -> tuple[list[int], int]:
        writer = GroupCommitWriter(engine)
        await writer.start()
        try:
            floods = [writer.add(flood_rows(flood, now, i), now, outsider.user.id,
                                  looked_up(flood))
                      for i in range(FLOOD_REQUESTS)]
            quiet_done = writer.add([(quiet.id, float(now), 1.0)], now, owner.user.id,
                                    looked_up([quiet]))
            return list(await asyncio.gather(*floods)), await quiet_done
        finally:
            await writer.stop()

    flood_commits, quiet_commit = asyncio.run(run())
    first = flood_commits[0]
    assert quiet_commit <= first + 1, (quiet_commit, flood_commits)
    assert flood_commits[-1] > quiet_commit + 1, flood_commits  # the flood waited, not the quiet
    assert flood_commits == sorted(flood_commits)  # each account's requests stay in order
    points = FLOOD_REQUESTS * FLOOD_STATS * FLOOD_MINUTES
    assert minute_totals(engine, flood) == (points, float(points))  # stored == acknowledged
    assert minute_totals(engine, [quiet]) == (1, 1.0)


def test_a_quiet_point_commits_apart_from_a_floods_thousand_cells(
    engine: Engine, owner: Account, outsider: Account
) -> None:
    """A 1,000-cell flood request and one quiet point queued together, both lanes free:
    the quiet point gets a commit of its own (on SQLite it takes the writer first; on
    MariaDB it runs beside the flood's) instead of riding in the flood's, which it
    would wait out."""
    flood = [make_stat(engine, outsider, f"flood {i}", "counter") for i in range(FLOOD_STATS)]
    quiet = make_stat(engine, owner, "quiet", "counter")
    now = int(time.time())

    async def run() -> tuple[int, int]:
        writer = GroupCommitWriter(engine)
        await writer.start()
        try:
            flood_done = writer.add(flood_rows(flood, now, 0), now, outsider.user.id,
                                    looked_up(flood))
            quiet_done = writer.add([(quiet.id, float(now), 1.0)], now, owner.user.id,
                                    looked_up([quiet]))
            return await flood_done, await quiet_done
        finally:
            await writer.stop()

    flood_commit, quiet_commit = asyncio.run(run())
    assert quiet_commit != flood_commit
    assert minute_totals(engine, [quiet]) == (1, 1.0)
    points = FLOOD_STATS * FLOOD_MINUTES
    assert minute_totals(engine, flood) == (points, float(points))


def test_full_queue_turns_away_only_the_account_with_the_most_queued(
    engine: Engine, owner: Account, outsider: Account
) -> None:
    """Past the queue's bound the flood account is told to retry (503, nothing recorded);
    the quiet account is still accepted, and everything accepted is stored."""
    flood = [make_stat(engine, outsider, f"flood {i}", "counter") for i in range(FLOOD_STATS)]
    quiet = make_stat(engine, owner, "quiet", "counter")
    now = int(time.time())

    async def run() -> None:
        writer = GroupCommitWriter(engine, max_queued_points=3000)
        accepted = [writer.add(flood_rows(flood, now, i), now, outsider.user.id,
                                  looked_up(flood)) for i in range(3)]
        with pytest.raises(Unavailable, match="retry"):
            writer.add(flood_rows(flood, now, 3), now, outsider.user.id, looked_up(flood))
        accepted.append(writer.add([(quiet.id, float(now), 1.0)], now, owner.user.id,
                                    looked_up([quiet])))
        await writer.start()
        try:
            await asyncio.gather(*accepted)
        finally:
            await writer.stop()

    asyncio.run(run())
    points = 3 * FLOOD_STATS * FLOOD_MINUTES
    assert minute_totals(engine, flood) == (points, float(points))
    assert minute_totals(engine, [quiet]) == (1, 1.0)
