"""The ingestion API's key cache: changes made elsewhere arrive within its time to live,
and a full cache makes room one entry at a time instead of forgetting every key."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from aerie import accounts
from api_service.keycache import KeyCache
from api_service.writer import GroupCommitWriter
from tests.conftest import Account, make_account

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
