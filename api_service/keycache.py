"""In-process caches of key lookups, so the hot path seldom queries for keys.

Entries live ``ttl`` seconds, which bounds how long a change made elsewhere
(a stat deleted in the web app, an ezkey changed) takes to reach this process.
Misses are looked up off the event loop.
"""

from __future__ import annotations

import time
from typing import Generic, TypeVar

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from aerie import accounts
from aerie.accounts import User
from aerie.digests import note_new_stat
from aerie.errors import Conflict
from aerie.stats import Stat, check_point_kind, classic_stat, create_stat, stats_by_names

K = TypeVar("K")
V = TypeVar("V")

MAX_ENTRIES = 200_000


class TTLCache(Generic[K, V]):
    """A dict whose entries expire; cleared whole when it grows past its bound."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K, now: float) -> V | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < now:
            return None
        return entry[1]

    def put(self, key: K, value: V, now: float) -> None:
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (now + self._ttl, value)


class KeyCache:
    """Users by ezkey, stats by classic key, and stats by (user, name)."""

    def __init__(self, engine: Engine, ttl: float) -> None:
        self._engine = engine
        self._users: TTLCache[str, User] = TTLCache(ttl)
        self._classic: TTLCache[str, tuple[Stat, str]] = TTLCache(ttl)
        self._named: TTLCache[tuple[int, str], Stat] = TTLCache(ttl)

    async def user_by_ezkey(self, ezkey: str) -> User | None:
        now = time.monotonic()
        user = self._users.get(ezkey, now)
        if user is None:
            user = await run_in_threadpool(self._query_user, ezkey)
            if user is not None:
                self._users.put(ezkey, user, now)
        return user

    def _query_user(self, ezkey: str) -> User | None:
        with self._engine.connect() as conn:
            return accounts.user_by_ezkey(conn, ezkey)

    async def classic_stat(self, key: str) -> tuple[Stat, str] | None:
        """The stat with this classic key and its owner's ukey, or None."""
        now = time.monotonic()
        found = self._classic.get(key, now)
        if found is None:
            found = await run_in_threadpool(self._query_classic, key)
            if found is not None:
                self._classic.put(key, found, now)
        return found

    def _query_classic(self, key: str) -> tuple[Stat, str] | None:
        with self._engine.connect() as conn:
            return classic_stat(conn, key)

    async def stats_for_names(
        self, user_id: int, kinds: dict[str, str], now_unix: int
    ) -> dict[str, Stat]:
        """The user's stats by name, creating missing ones with the given kinds (EZ).

        Raises BadRequest, creating nothing, if an existing stat has another kind.
        """
        now = time.monotonic()
        found: dict[str, Stat] = {}
        missing: dict[str, str] = {}
        for name, kind in kinds.items():
            stat = self._named.get((user_id, name), now)
            if stat is None:
                missing[name] = kind
            else:
                check_point_kind(stat, kind)
                found[name] = stat
        if missing:
            fetched = await run_in_threadpool(self._find_or_create, user_id, missing, now_unix)
            for name, stat in fetched.items():
                self._named.put((user_id, name), stat, now)
            found.update(fetched)
        return found

    def _find_or_create(self, user_id: int, kinds: dict[str, str], now: int) -> dict[str, Stat]:
        with self._engine.begin() as conn:
            found = stats_by_names(conn, user_id, kinds)
            # Refuse before creating anything: a refused request leaves no new stats.
            for name, stat in found.items():
                check_point_kind(stat, kinds[name])
            for name in sorted(kinds.keys() - found.keys()):
                # Another process may create the same stat at the same moment;
                # create_stat then raises Conflict and the row is read back.
                try:
                    found[name] = create_stat(conn, user_id, name, kinds[name], now)
                    note_new_stat(conn, found[name], now)  # its owner hears of it by mail
                except Conflict:
                    again = stats_by_names(conn, user_id, [name]).get(name)
                    if again is None:
                        raise
                    check_point_kind(again, kinds[name])
                    found[name] = again
        return found
