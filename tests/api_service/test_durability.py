"""Acknowledged means committed: outages, shutdowns and two API processes lose nothing."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

from aerie.schema import stat_days, stat_hours, stat_minutes
from aerie.settings import Settings
from aerie.stats import Stat, stat_by_name
from api_service.app import create_app
from tests.conftest import Account, make_stat
from tests.proxy import cuttable_proxy
from tests.servers import api_process, serve


@dataclass
class Outage:
    """A way to take the database away from the API and give it back."""

    url: str
    begin: Callable[[], None]
    end: Callable[[], None]


@contextmanager
def outage_switch(database_url: str) -> Iterator[Outage]:
    """MariaDB: a proxy that drops every connection. SQLite: a write lock held elsewhere."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        holder: dict[str, sqlite3.Connection] = {}

        def lock() -> None:
            conn = sqlite3.connect(url.database, isolation_level=None, check_same_thread=False)
            conn.execute("BEGIN IMMEDIATE")
            holder["conn"] = conn

        def unlock() -> None:
            conn = holder.pop("conn")
            conn.rollback()
            conn.close()

        yield Outage(database_url, lock, unlock)
        return
    with cuttable_proxy((url.host or "127.0.0.1", url.port or 3306)) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        yield Outage(proxied, proxy.cut, proxy.restore)


def minute_counts(engine: Engine, stat: Stat) -> dict[int, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(stat_minutes.c.bucket, stat_minutes.c.n).where(stat_minutes.c.stat_id == stat.id)
        )
        return {bucket: n for bucket, n in rows}


def rollup_totals(engine: Engine, stat: Stat) -> list[float]:
    with engine.connect() as conn:
        return [
            conn.execute(select(func.coalesce(func.sum(t.c.sum), 0)).where(t.c.stat_id == stat.id))
            .scalar_one()
            for t in (stat_minutes, stat_hours, stat_days)
        ]


async def post_minutes(
    url: str, account: Account, stat: Stat, base: int, count: int,
    during: Callable[[int], None] = lambda done: None,
) -> dict[int, int]:
    """Post ``count=1`` to one minute per request, 12 at a time; return each minute's status.

    ``during(done)`` is called after every answer, so a test can act mid-load.
    """
    statuses: dict[int, int] = {}
    queue = list(range(count))

    async def worker(client: httpx.AsyncClient) -> None:
        while queue:
            i = queue.pop(0)
            t = base - i * 60
            try:
                answer = await client.post(
                    url + "/c", data={"ukey": account.ukey, "key": stat.classic_key, "count": "1", "t": str(t)}
                )
                statuses[t] = answer.status_code
                if answer.status_code != 200:
                    assert answer.json()["status"] == answer.status_code
                    assert "database" in answer.json()["msg"] or "shutting down" in answer.json()["msg"]
            except httpx.TransportError:
                statuses[t] = 0  # never answered: not acknowledged
            during(len(statuses))

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(12)))
    return statuses


def assert_exactly_the_acknowledged(engine: Engine, stat: Stat, statuses: dict[int, int]) -> None:
    stored = minute_counts(engine, stat)
    acknowledged = [t for t, status in statuses.items() if status == 200]
    assert all(stored.get(t) == 1 for t in acknowledged), "an acknowledged point was lost"
    assert all(n == 1 for n in stored.values()), "a point was counted twice"
    # Whatever is stored is stored at every resolution: no half-written batch.
    assert rollup_totals(engine, stat) == [len(stored)] * 3


def test_database_outage_answers_503_and_loses_nothing_acknowledged(
    database_url: str, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "outage counter", "counter")
    base = int(time.time()) // 60 * 60 - 60
    with outage_switch(database_url) as outage:
        # a commit retries 1 s, not 10, before its 503: the outage passes in seconds
        settings = Settings(database_url=outage.url, db_timeout_seconds=0.5, db_retry_seconds=1.0)
        with serve(create_app(settings)) as api:
            phase = {"outage": False, "over": False}

            def cut_midway(done: int) -> None:
                # From the 60th answer to the 140th the database is gone.
                if done >= 60 and not phase["outage"]:
                    phase["outage"] = True
                    outage.begin()
                elif done >= 140 and not phase["over"]:
                    phase["over"] = True
                    outage.end()

            statuses = asyncio.run(post_minutes(api.url, owner, stat, base, 300, cut_midway))
    answers = sorted(set(statuses.values()))
    assert 503 in answers, f"the outage produced no 503 (answers: {answers})"
    assert set(answers) <= {200, 503}
    # The API recovered once the database came back.
    recovered = [t for t in sorted(statuses, reverse=True)[150:] if statuses[t] == 200]
    assert recovered, "no point was acknowledged after the outage ended"
    assert_exactly_the_acknowledged(engine, stat, statuses)


def test_sigterm_mid_load_keeps_every_acknowledged_point(
    database_url: str, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "shutdown counter", "counter")
    base = int(time.time()) // 60 * 60 - 60
    with api_process(database_url) as (api, process):
        def stop_midway(done: int) -> None:
            if done == 100:
                process.send_signal(signal.SIGTERM)

        statuses = asyncio.run(post_minutes(api.url, owner, stat, base, 300, stop_midway))
        # uvicorn finishes in-flight requests, then re-raises the signal it caught.
        assert process.wait(timeout=20) in (0, -signal.SIGTERM)
    assert sum(1 for s in statuses.values() if s == 200) >= 100
    assert_exactly_the_acknowledged(engine, stat, statuses)


def test_two_api_processes_share_one_database_without_losing_or_doubling(
    database_url: str, engine: Engine, owner: Account
) -> None:
    names = [f"shared {i:02d}" for i in range(50)]
    batch = {"ezkey": owner.ezkey, "data": [{"stat": n, "count": 1} for n in names]}

    async def load(urls: list[str]) -> list[int]:
        async with httpx.AsyncClient(timeout=30) as client:
            # Both processes create the same 50 stats at the same moment first.
            answers = await asyncio.gather(
                *(client.post(urls[i % 2] + "/ez", json=batch) for i in range(40))
            )
        return [a.status_code for a in answers]

    with api_process(database_url) as (first, _), api_process(database_url) as (second, _):
        statuses = asyncio.run(load([first.url, second.url]))
    assert statuses == [200] * 40
    with engine.connect() as conn:
        stats = [stat_by_name(conn, owner.user.id, n) for n in names]
    assert all(s is not None and s.kind == "counter" for s in stats)
    for stat in stats:
        assert stat is not None
        assert rollup_totals(engine, stat) == [40, 40, 40]
