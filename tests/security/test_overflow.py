"""Numbers too large to add up are refused alone: no infinite totals, no innocent 503s."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from sqlalchemy import Engine, select

from aerie.schema import ROLLUPS
from aerie.settings import Settings
from aerie.stats import Stat, stat_by_id, stat_by_name
from api_service.app import create_app
from tests.conftest import Account, make_stat, put_points
from tests.servers import RunningServer, serve

HUGE = "1e308"  # finite, but two of them add up past the largest double


def stored(engine: Engine, stat: Stat) -> list[tuple[int, float, float, float]]:
    """Every rollup row of the stat at every resolution: (n, sum, min, max)."""
    with engine.connect() as conn:
        return [
            (row.n, row.sum, row.min, row.max)
            for _res, table in ROLLUPS
            for row in conn.execute(select(table).where(table.c.stat_id == stat.id))
        ]


def count(api: RunningServer, account: Account, stat: Stat, x: str, t: int) -> httpx.Response:
    return httpx.post(
        api.url + "/c", data={"ukey": account.ukey, "key": stat.classic_key, "count": x, "t": str(t)}
    )


def test_count_that_would_overflow_the_stored_total_is_refused_alone(
    engine: Engine, owner: Account, api: RunningServer
) -> None:
    stat = make_stat(engine, owner, "huge counter", "counter")
    t = int(time.time()) - 60
    assert count(api, owner, stat, HUGE, t).status_code == 200
    answer = count(api, owner, stat, HUGE, t)
    assert answer.status_code == 400
    assert "huge counter" in answer.json()["msg"] and "too large" in answer.json()["msg"]
    # The first point stands, whole, at every resolution; the second left no trace.
    assert stored(engine, stat) == [(1, 1e308, 1e308, 1e308)] * 3
    assert count(api, owner, stat, "5", t).status_code == 200


def test_value_overflowing_a_day_total_from_another_minute_is_refused(
    engine: Engine, owner: Account, api: RunningServer
) -> None:
    stat = make_stat(engine, owner, "huge value", "value")
    today = int(time.time()) // 86400 * 86400
    put_points(engine, stat, [(today, -1.5e308)])
    answer = httpx.post(api.url + "/v", data={
        "ukey": owner.ukey, "key": stat.classic_key, "value": "-1.5e308", "t": str(today + 60),
    })
    assert answer.status_code == 400, answer.text
    assert [row[0] for row in stored(engine, stat)] == [1, 1, 1]


def test_ez_batch_whose_own_points_overflow_writes_and_creates_nothing(
    engine: Engine, owner: Account, api: RunningServer
) -> None:
    body = {"ezkey": owner.ezkey, "data": [
        {"stat": "fine", "count": 1}, {"stat": "blown", "count": 1e308}, {"stat": "blown", "count": 1e308},
    ]}
    answer = httpx.post(api.url + "/ez", json=body)
    assert answer.status_code == 400
    assert "'blown'" in answer.json()["msg"]
    with engine.connect() as conn:
        assert stat_by_name(conn, owner.user.id, "blown") is None
        assert stat_by_name(conn, owner.user.id, "fine") is None


async def _post_together(url: str, requests: list[dict[str, Any]]) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30) as client:
        return await asyncio.gather(*(client.post(url + "/c", data=data) for data in requests))


def test_attackers_overflow_in_a_group_commit_fails_only_the_attacker(
    settings: Settings, engine: Engine, owner: Account, outsider: Account
) -> None:
    """The attacker (``outsider``) overflows a stored total and, twice in the batch, an
    empty one; ``owner``'s posts in the same batch are committed and acknowledged."""
    t = int(time.time()) - 60
    stored_huge = make_stat(engine, outsider, "attack stored", "counter")
    put_points(engine, stored_huge, [(t, 1e308)])
    fresh = make_stat(engine, outsider, "attack fresh", "counter")
    innocent = [make_stat(engine, owner, f"innocent {i}", "counter") for i in range(4)]

    def post(account: Account, stat: Stat, x: str) -> dict[str, Any]:
        return {"ukey": account.ukey, "key": stat.classic_key, "count": x, "t": str(t)}

    requests = [post(owner, stat, "3") for stat in innocent[:2]]
    requests += [post(outsider, stored_huge, HUGE), post(outsider, fresh, HUGE), post(outsider, fresh, HUGE)]
    requests += [post(owner, stat, "3") for stat in innocent[2:]]
    # A long commit interval gathers every request of the burst into one batch.
    with serve(create_app(settings.model_copy(update={"commit_interval_ms": 500}))) as api:
        answers = asyncio.run(_post_together(api.url, requests))
    statuses = [answer.status_code for answer in answers]
    assert statuses[:2] + statuses[5:] == [200] * 4, [a.text for a in answers]
    assert statuses[2] == 400
    assert sorted(statuses[3:5]) == [200, 400]  # the fresh stat takes the first 1e308 only
    for stat in innocent:
        assert stored(engine, stat) == [(1, 3.0, 3.0, 3.0)] * 3
    assert stored(engine, stored_huge) == [(1, 1e308, 1e308, 1e308)] * 3
    assert stored(engine, fresh) == [(1, 1e308, 1e308, 1e308)] * 3
    with engine.connect() as conn:  # the innocents' stats know data arrived
        assert all(stat_by_id(conn, stat.id).data_received_at for stat in innocent)
