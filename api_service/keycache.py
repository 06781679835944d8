"""In-process caches of key lookups, so the hot path seldom queries for keys.

Entries live ``ttl`` seconds, which bounds how long a change made elsewhere
(a stat renamed in the web app, an ezkey changed) takes to reach this process. A
stat deleted meanwhile is caught by the writer at commit (``StatGone``), and its
entries forgotten.
Each cache holds at most ``max_entries``; past that the least recently used
entry makes room (``ExpiringLru``), so a flood of new keys never empties
the cache of the ones in use. Misses are looked up off the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from functools import partial

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from aerie import accounts
from aerie.accounts import User
from aerie.db import reading
from aerie.digests import note_new_stat, note_new_stats
from aerie.errors import Conflict, NotAllowed
from aerie.stats import (
    CREATE_CHUNK,
    Stat,
    check_point_kind,
    check_room_for_stats,
    classic_stat,
    create_stat,
    create_stats,
    stats_by_names,
)
from aerie.transactions import CommitOutcomeUnknown, retry_seconds, run_transaction
from api_service.expiring_lru import ExpiringLru
from api_service.writer import GroupCommitWriter

MAX_ENTRIES = 200_000
INVALID_KEYS = "invalid keys"  # StatHat's words for keys that match nothing
NO_ACCOUNT = f"{INVALID_KEYS}: no account has this ezkey"


class KeyCache:
    """Users by ezkey, stats by classic key, and stats by (user, name)."""

    def __init__(
        self, engine: Engine, ttl: float, writer: GroupCommitWriter, max_stats: int = 0,
        *, max_entries: int = MAX_ENTRIES, timer: Callable[[], float] = time.monotonic,
    ) -> None:
        """``writer`` runs stat creation between its commits; ``max_stats``: how many
        stats an account may have (0: no limit). ``timer`` reads seconds for expiry."""
        self._engine = engine
        self._writer = writer
        self._max_stats = max_stats
        self._creating = asyncio.Lock()
        self._users: ExpiringLru[str, User] = ExpiringLru(max_entries, ttl, timer)
        self._classic: ExpiringLru[str, tuple[Stat, str]] = ExpiringLru(max_entries, ttl, timer)
        self._named: ExpiringLru[tuple[int, str], Stat] = ExpiringLru(max_entries, ttl, timer)

    def cached_user_by_ezkey(self, ezkey: str) -> User | None:
        """``user_by_ezkey`` if its answer is cached, else None (no database read)."""
        return self._users.get(ezkey)

    async def user_by_ezkey(self, ezkey: str) -> User | None:
        user = self._users.get(ezkey)
        if user is None:
            user = await run_in_threadpool(self._query_user, ezkey)
            if user is not None:
                self._users[ezkey] = user
        return user

    def _query_user(self, ezkey: str) -> User | None:
        """The account with this ezkey; failing that, for a key with spaces, the account
        whose key has ``+`` there. npm's ``stathat`` module sends its form body
        unencoded, so the ``+`` of a plus-addressed ezkey (``you+stats@example.com``)
        arrives as a space; an account whose key really has the space comes first."""
        with reading(self._engine) as conn:
            user = accounts.user_by_ezkey(conn, ezkey)
            if user is None and " " in ezkey:
                user = accounts.user_by_ezkey(conn, ezkey.replace(" ", "+"))
            return user

    def cached_classic_stat(self, key: str) -> tuple[Stat, str] | None:
        """``classic_stat`` if its answer is cached, else None: a known key's post then
        makes no coroutine for it."""
        return self._classic.get(key)

    async def classic_stat(self, key: str) -> tuple[Stat, str] | None:
        """The stat with this classic key and its owner's ukey, or None."""
        found = self.cached_classic_stat(key)
        if found is None:
            found = await run_in_threadpool(self._query_classic, key)
            if found is not None:
                self._classic[key] = found
        return found

    def _query_classic(self, key: str) -> tuple[Stat, str] | None:
        with reading(self._engine) as conn:
            return classic_stat(conn, key)

    def forget(self, stale: Iterable[Stat]) -> None:
        """Drop the entries of stats the writer found gone, so the next post looks them up."""
        for stat in stale:
            self._classic.discard(stat.classic_key)
            self._named.discard((stat.user_id, stat.name))

    async def stats_for_names(
        self, user_id: int, kinds: dict[str, str], now_unix: int, max_stats: int = 0
    ) -> dict[str, Stat]:
        """The user's stats by name, creating missing ones with the given kinds (EZ).

        Raises BadRequest, creating nothing, if an existing stat has another kind.
        ``max_stats``: a tighter stat limit for this user (a pending account's), held
        like the cache's own: in the transaction that creates the stats.
        """
        limit = min(filter(None, (self._max_stats, max_stats)), default=0)
        found: dict[str, Stat] = {}
        missing: dict[str, str] = {}
        cached = self._named.get_many([(user_id, name) for name in kinds])
        for (name, kind), stat in zip(kinds.items(), cached, strict=True):
            if stat is None:
                missing[name] = kind
            else:
                check_point_kind(stat, kind)
                found[name] = stat
        if missing:
            fetched = await self._find_or_create(user_id, missing, now_unix, limit)
            for name, stat in fetched.items():
                self._named[(user_id, name)] = stat
            found.update(fetched)
        return found

    async def _find_or_create(
        self, user_id: int, kinds: dict[str, str], now: int, limit: int
    ) -> dict[str, Stat]:
        """Read the named stats, then create the missing ones ``CREATE_CHUNK`` per transaction,
        so a request naming many new stats never holds SQLite's write lock for long.

        The read runs on the writer's thread for lookups (``read_between_commits``) and
        each chunk of creations where the commits run, in a writer turn
        (``run_between_commits``), one in line at a time (``_creating`` is first come,
        first served), so on SQLite a commit waits behind at most one chunk, and
        accounts creating stats take turns chunk by chunk. The read is a read
        transaction (``aerie.db.reading``), which takes no writer turn, and refuses at
        once a request whose new names would pass the stat limit: a flood of
        never-used names past its limit had queued two transactions a request for
        SQLite's writer, ahead of other accounts' commits.
        Raises BadRequest (a kind mismatch) or NotAllowed (the stat limit) before
        creating anything; only a database failure or a concurrent creator's race
        past the limit can leave part of a request's new stats created, and a
        retry finds them.
        """
        async with self._creating:
            found = await self._writer.read_between_commits(
                partial(self._find, user_id, kinds, limit))
        missing = sorted(kinds.keys() - found.keys())
        for start in range(0, len(missing), CREATE_CHUNK):
            chunk = {name: kinds[name] for name in missing[start : start + CREATE_CHUNK]}
            # all of the request's stats still to create count: past the limit, none are
            work = partial(create_stats_chunk, user_id=user_id, kinds=chunk,
                           to_create=len(missing) - start, now=now, limit=limit)
            async with self._creating:
                found.update(await self._writer.run_between_commits(work))
        return found

    def _find(self, user_id: int, kinds: dict[str, str], limit: int) -> dict[str, Stat]:
        """The named stats that exist, their kinds checked; NotAllowed if creating the
        others would pass the stat limit (checked again when they are created)."""
        with reading(self._engine) as conn:
            found = stats_by_names(conn, user_id, kinds)
            for name, stat in found.items():
                check_point_kind(stat, kinds[name])
            check_room_for_stats(conn, user_id, len(kinds) - len(found), limit)
        return found


def looked_up(stats: Iterable[Stat]) -> dict[int, str]:
    """What the writer checks the stats against at commit: each one's public id."""
    return {stat.id: stat.public_id for stat in stats}


def create_stats_chunk(engine: Engine, user_id: int, kinds: dict[str, str], to_create: int,
                       now: int, limit: int) -> dict[str, Stat]:
    """Create the named stats of one chunk (those stored already are read back): a
    writer's write between commits (``GroupCommitWriter.run_between_commits``)."""

    def create(conn: Connection) -> dict[str, Stat]:
        if accounts.user_by_id(conn, user_id) is None:  # deleted since the ezkey was cached
            raise NotAllowed(NO_ACCOUNT)
        # those of this chunk stored already (a run again after a COMMIT whose answer
        # was lost) are counted by the database, not again as still to create
        stored = stats_by_names(conn, user_id, kinds)
        check_room_for_stats(conn, user_id, to_create - len(stored), limit)
        for name, stat in stored.items():
            check_point_kind(stat, kinds[name])
        new = {name: kind for name, kind in kinds.items() if name not in stored}
        try:
            made = create_stats(conn, user_id, new, now)
        except IntegrityError:  # a name taken meanwhile, or a key collided
            made = {name: _create_or_read(conn, user_id, name, kind, now)
                    for name, kind in new.items()}
        else:
            note_new_stats(conn, made.values(), now)  # their owner hears of them by mail
        return {**stored, **made}

    # run again whole after a conflict: on Galera, another node's copy creating the
    # same stat fails certification here, and the next attempt reads it back. So
    # does a COMMIT whose answer was lost: stats it did create are read back.
    try:
        return run_transaction(engine, create, retry_seconds(engine))
    except CommitOutcomeUnknown:
        return run_transaction(engine, create, retry_seconds(engine))


def _create_or_read(conn: Connection, user_id: int, name: str, kind: str, now: int) -> Stat:
    """Create the stat, or read it back if another process created it at the same moment."""
    try:
        stat = create_stat(conn, user_id, name, kind, now)
    except Conflict:
        again = stats_by_names(conn, user_id, [name]).get(name)
        if again is None:
            raise
        check_point_kind(again, kind)
        return again
    note_new_stat(conn, stat, now)  # its owner hears of it by mail
    return stat
