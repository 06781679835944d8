"""The ingestion API's key cache: changes made elsewhere arrive within its time to live,
and a full cache makes room one entry at a time instead of forgetting every key."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select

from aerie import accounts
from aerie import stats as stats_module
from aerie.schema import new_stat_notices
from api_service.keycache import KeyCache
from api_service.writer import GroupCommitWriter
from tests.conftest import Account, make_account, make_stat

pytestmark = pytest.mark.anyio

TTL = 60.0


class FakeTimer:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def key_cache(engine: Engine, timer: FakeTimer, max_entries: int = 100) -> KeyCache:
    return KeyCache(engine, TTL, GroupCommitWriter(engine), max_entries=max_entries, timer=timer)


def give_up_ezkey(engine: Engine, account: Account) -> None:
    """Change the account's EZ key in the database, as the web app's settings page does."""
    with engine.begin() as conn:
        accounts.update_ezkey(conn, account.user, ezkey=f"new-{account.user.id}@example.com",
                              enabled=True, now=2_000_000_000)


async def test_a_changed_ezkey_still_works_until_the_entry_expires(engine: Engine) -> None:
    account = make_account(engine)
    timer = FakeTimer()
    cache = key_cache(engine, timer)
    assert await cache.user_by_ezkey(account.ezkey) is not None
    give_up_ezkey(engine, account)

    timer.now += TTL - 1
    assert await cache.user_by_ezkey(account.ezkey) is not None  # still cached

    timer.now += 2
    assert await cache.user_by_ezkey(account.ezkey) is None  # looked up again: gone


async def test_a_full_cache_drops_only_the_least_recently_used_key(engine: Engine) -> None:
    first, second, third = (make_account(engine, f"user{i}") for i in range(3))
    timer = FakeTimer()
    cache = key_cache(engine, timer, max_entries=2)
    assert await cache.user_by_ezkey(first.ezkey) is not None
    assert await cache.user_by_ezkey(second.ezkey) is not None
    assert await cache.user_by_ezkey(third.ezkey) is not None  # full: makes room
    give_up_ezkey(engine, first)
    give_up_ezkey(engine, second)

    # The second key is still answered from the cache; the first was dropped to make room,
    # so its lookup reaches the database, where the key is gone.
    assert await cache.user_by_ezkey(second.ezkey) is not None
    assert await cache.user_by_ezkey(first.ezkey) is None


async def test_new_stats_are_made_together_and_one_by_one_when_a_key_collides(
    engine: Engine, owner: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fan-out's new names are made in one INSERT; when a drawn public id is taken
    already, that INSERT writes nothing and they are made one at a time: every name
    once, each noted once for its owner's digest."""
    taken = make_stat(engine, owner, "already here", "counter").public_id
    drawn = iter([taken])
    real = stats_module.public_stat_id
    monkeypatch.setattr(stats_module, "public_stat_id", lambda: next(drawn, None) or real())
    writer = GroupCommitWriter(engine)
    await writer.start()
    try:
        cache = KeyCache(engine, TTL, writer)
        names = {f"fan {i}": "counter" for i in range(5)}
        made = await cache.stats_for_names(owner.user.id, names, 2_000_000_000)
        together = await cache.stats_for_names(
            owner.user.id, {f"wave {i}": "value" for i in range(5)}, 2_000_000_000)
    finally:
        await writer.stop()
    with engine.connect() as conn:
        stored = stats_module.stats_by_names(conn, owner.user.id, [*names, *together])
        noted = conn.execute(select(new_stat_notices.c.stat_id).where(
            new_stat_notices.c.user_id == owner.user.id)).scalars().all()
    assert {name: stat.id for name, stat in made.items()} == {
        name: stored[name].id for name in names}
    assert len({stat.public_id for stat in stored.values()} | {taken}) == 11
    assert sorted(noted) == sorted(stat.id for stat in stored.values())
