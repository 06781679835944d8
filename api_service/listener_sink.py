"""Where the StatsD and Graphite listeners put their points: one account's stats, by name,
through the same key cache, stat limit, rate limit and group-commit writer as the HTTP API.

A listener serves one account (``--user EMAIL``), so there is no key in its protocol: the
metric name is the stat name. Points that cannot be taken (a name of the wrong kind, the
account's stat limit) are counted and skipped, never fatal to the listener.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from aerie import accounts
from aerie.accounts import User
from aerie.db import make_engine
from aerie.errors import BadRequest, NotAllowed, NotFound, Unavailable
from aerie.monitor import Metrics, Reporter
from aerie.settings import Settings
from aerie.stats import Stat
from api_service.keycache import KeyCache, looked_up
from api_service.parsing import Limits, Point
from api_service.rate_limit import PointRateLimit, RateLimited
from api_service.writer import BUSY, GroupCommitWriter, StatGone

log = logging.getLogger("aerie.listeners")


class AccountSink:
    """Records named points into one account's stats; call from the event loop's thread."""

    def __init__(self, user: User, keys: KeyCache, writer: GroupCommitWriter,
                 rate_limit: PointRateLimit, metrics: Metrics) -> None:
        self._user = user
        self._keys = keys
        self._writer = writer
        self._rate_limit = rate_limit
        self._metrics = metrics

    @property
    def metrics(self) -> Metrics:
        return self._metrics

    async def record(self, points: list[Point], now: float, *, wait_for_rate: bool = False
                     ) -> asyncio.Future[int] | None:
        """Queue ``points`` in the group-commit writer; the future resolves on commit.

        Over the account's rate the points are dropped (counted), or with
        ``wait_for_rate`` (a TCP sender that can be slowed down) waited for; so is a
        full writer queue, which otherwise raises Unavailable. None when nothing was
        left to write. Points to a stat deleted since the key cache found it are
        written once more, to the stat looked up (made) anew.
        """
        if not points:
            return None
        while True:
            try:
                self._rate_limit.take(self._user.id, len(points))
                break
            except RateLimited as exc:
                if not wait_for_rate:
                    self._metrics.count(f"aerie {self._metrics.role} rate-limited points",
                                        len(points))
                    return None
                await asyncio.sleep(min(exc.retry_after, 1))
        written = await self._write(points, now, wait_for_rate)
        if written is None:
            return None
        return asyncio.ensure_future(self._again_if_gone(*written, points, now, wait_for_rate))

    async def _again_if_gone(self, written: asyncio.Future[int], stats: list[Stat],
                             points: list[Point], now: float, wait_for_rate: bool) -> int:
        """The commit's number; after StatGone, that of the points' second writing."""
        try:
            return await written
        except StatGone:
            self._keys.forget(stats)
            again = await self._write(points, now, wait_for_rate)
            return await again[0] if again is not None else 0

    async def _write(self, points: list[Point], now: float, wait_for_rate: bool
                     ) -> tuple[asyncio.Future[int], list[Stat]] | None:
        """Queue the points whose names can be taken; the commit's future and the stats."""
        stats = await self._stats(points, int(now))
        rows = [(stat.id, p.t, p.x) for p in points
                if (stat := stats.get(p.stat)) is not None and stat.kind == p.kind]
        if len(rows) < len(points):
            self._metrics.count(f"aerie {self._metrics.role} refused points",
                                len(points) - len(rows))
        if not rows:
            return None
        while True:
            try:
                written = self._writer.add(rows, int(now), self._user.id,
                                           looked_up(stats.values()))
                return written, list(stats.values())
            except Unavailable as exc:  # the writer's queue is full, or it is stopping
                if not wait_for_rate or exc.message != BUSY:
                    self._metrics.count(f"aerie {self._metrics.role} dropped points", len(rows))
                    raise
                await asyncio.sleep(0.05)

    async def _stats(self, points: list[Point], now: int) -> dict[str, Stat]:
        """The stats named by ``points``, created on first use; a name whose stat has the
        other kind, or that the stat limit leaves out, is logged and missing from the answer."""
        kinds = {point.stat: point.kind for point in reversed(points)}  # each name's first
        try:
            return await self._keys.stats_for_names(self._user.id, kinds, now)
        except (BadRequest, NotAllowed):
            pass  # some name is refused: take the others one at a time
        found: dict[str, Stat] = {}
        for name, kind in kinds.items():
            try:
                found.update(await self._keys.stats_for_names(self._user.id, {name: kind}, now))
            except (BadRequest, NotAllowed) as exc:
                log.warning("%s: %r skipped: %s", self._metrics.role, name, exc.message)
        return found


@asynccontextmanager
async def account_sink(settings: Settings, email: str, role: str) -> AsyncIterator[AccountSink]:
    """A sink for the account with ``email``, with its own writer and self-monitoring;
    on leaving, whatever is still open is committed. Raises NotFound for no such account."""
    engine = make_engine(settings)
    try:
        user = await run_in_threadpool(_user_by_email, engine, email)
        metrics = Metrics(role)
        writer = GroupCommitWriter(engine, settings.commit_interval_ms / 1000, metrics)
        keys = KeyCache(engine, settings.key_cache_seconds, writer,
                        settings.max_stats_per_account)
        reporter = Reporter(metrics, settings, engine)
        await writer.start()
        await reporter.start()
        try:
            yield AccountSink(user, keys, writer, PointRateLimit(settings.rate_limit_points),
                              metrics)
        finally:
            await reporter.stop()
            await writer.stop()
    finally:
        engine.dispose()


def _user_by_email(engine: Engine, email: str) -> User:
    with engine.connect() as conn:
        user = accounts.user_by_email(conn, email)
    if user is None:
        raise NotFound(f"no account has the e-mail {email!r}; create it with "
                       f"`aerie user create {email}` or set another --user")
    return user


def point_limits(settings: Settings) -> Limits:
    """The API's limits on a point's time, which timestamped protocols (Graphite) keep to."""
    return Limits(settings.batch_limit, settings.max_future_seconds,
                  settings.max_past_days * 86400)


def run_until_signalled(serve: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run ``serve(stop)`` on uvloop; SIGINT or SIGTERM sets ``stop``, and ``serve`` is
    expected to finish its work (a last flush) and return."""
    import uvloop

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve(stop)

    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    uvloop.run(main())
