"""Posts to a stat (or an account) deleted while the API's key cache still holds it (for
``AERIE_KEY_CACHE_SECONDS``): never acknowledged into the gone stat, nor into a stat
that took its id since."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import httpx
from sqlalchemy import Engine, update

from aerie.account_removal import remove_account
from aerie.db import reading
from aerie.schema import COUNTER, stats
from aerie.settings import Settings
from aerie.stats import Stat, delete_stat, stats_by_names
from api_service.listener_sink import account_sink
from api_service.parsing import Point
from tests.conftest import Account, make_account, make_stat
from tests.security.test_fairness import minute_totals
from tests.servers import RunningServer


def _delete(engine: Engine, stat: Stat) -> None:
    """As the web app and the export API delete a stat: with its data, at once."""
    with engine.begin() as conn:
        delete_stat(conn, stat)


def _named(engine: Engine, account: Account, name: str) -> Stat | None:
    with reading(engine) as conn:
        return stats_by_names(conn, account.user.id, [name]).get(name)


def _ez(api: RunningServer, account: Account, name: str, count: float) -> httpx.Response:
    return httpx.post(f"{api.url}/ez", data={"ezkey": account.ezkey, "stat": name,
                                             "count": str(count)})


def _classic(api: RunningServer, account: Account, stat: Stat, count: float) -> httpx.Response:
    return httpx.post(f"{api.url}/c", data={"ukey": account.ukey, "key": stat.classic_key,
                                            "count": str(count)})


def test_an_ez_post_to_a_deleted_stat_makes_the_stat_anew(
    api: RunningServer, engine: Engine, owner: Account
) -> None:
    assert _ez(api, owner, "short-lived", 1).status_code == 200  # now in the key cache
    first = _named(engine, owner, "short-lived")
    assert first is not None
    _delete(engine, first)

    again = _ez(api, owner, "short-lived", 5)

    assert again.status_code == 200, again.text
    second = _named(engine, owner, "short-lived")
    assert second is not None and second.id != first.id  # ids are never used again
    assert minute_totals(engine, [second]) == (1, 5.0)
    assert minute_totals(engine, [first]) == (0, 0.0)  # nothing under the gone id


def test_a_classic_post_to_a_deleted_stat_is_refused_and_stores_nothing(
    api: RunningServer, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "removed", "counter")
    assert _classic(api, owner, stat, 1).status_code == 200  # now in the key cache
    _delete(engine, stat)

    answers = [_classic(api, owner, stat, 3) for _ in range(2)]

    assert [a.status_code for a in answers] == [403, 403]
    assert all("invalid keys" in a.json()["msg"] for a in answers)
    assert minute_totals(engine, [stat]) == (0, 0.0)


def test_a_deleted_stats_id_taken_by_another_accounts_stat_gets_none_of_its_posts(
    api: RunningServer, engine: Engine, owner: Account, outsider: Account
) -> None:
    """The owner's stat is deleted and the outsider's next stat takes its id (as SQLite
    did before migration 0014, and a database restored or moved might): the owner's
    posts, still keyed to that id in the cache, go to a stat of the owner's own (EZ) or
    are refused (classic)."""
    assert _ez(api, owner, "mine", 1).status_code == 200
    mine = _named(engine, owner, "mine")
    assert mine is not None
    assert _classic(api, owner, mine, 1).status_code == 200
    _delete(engine, mine)
    made = make_stat(engine, outsider, "theirs", "counter")
    with engine.begin() as conn:
        conn.execute(update(stats).where(stats.c.id == made.id).values(id=mine.id))
    theirs = replace(made, id=mine.id)

    by_name = _ez(api, owner, "mine", 7)
    by_key = _classic(api, owner, mine, 11)

    assert by_name.status_code == 200 and by_key.status_code == 403
    assert minute_totals(engine, [theirs]) == (0, 0.0)
    mine_again = _named(engine, owner, "mine")
    assert mine_again is not None and minute_totals(engine, [mine_again]) == (1, 7.0)


def test_a_listeners_points_to_a_deleted_stat_go_to_the_stat_made_anew(
    settings: Settings, engine: Engine, owner: Account
) -> None:
    """StatsD and Graphite have no answer to refuse with: their points are written again,
    once, to the stat looked up (made) anew."""

    async def run() -> tuple[Stat, int]:
        async with account_sink(settings, owner.user.email, "statsd") as sink:
            first = await sink.record([Point("relayed", COUNTER, 1.0, time.time())], time.time())
            assert first is not None
            await first
            stat = _named(engine, owner, "relayed")
            assert stat is not None
            _delete(engine, stat)
            again = await sink.record([Point("relayed", COUNTER, 4.0, time.time())], time.time())
            assert again is not None
            return stat, await again

    gone, commit = asyncio.run(run())
    made = _named(engine, owner, "relayed")
    assert commit > 0 and made is not None and made.public_id != gone.public_id
    assert minute_totals(engine, [made]) == (1, 4.0)


def test_posts_from_a_deleted_accounts_cached_ezkey_are_refused(
    api: RunningServer, engine: Engine
) -> None:
    """The account is deleted while the API still holds its ezkey: its next posts, to a
    stat it had or a new name, are refused as keys that match nothing, not stored."""
    account = make_account(engine, f"leaving-{time.time_ns()}")
    assert _ez(api, account, "before", 1).status_code == 200  # ezkey and stat cached
    with engine.begin() as conn:
        remove_account(conn, account.user.id)

    answers = [_ez(api, account, name, 2) for name in ("before", "brand new")]

    assert [a.status_code for a in answers] == [403, 403], [a.text for a in answers]
    assert all("invalid keys" in a.json()["msg"] for a in answers)
