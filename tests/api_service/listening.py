"""Helpers for the StatsD and Graphite listener tests: read back what was committed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, select

from aerie.schema import stat_minutes
from aerie.stats import stat_by_name

DEADLINE_SECONDS = 20.0


@dataclass(frozen=True)
class Stored:
    """A stat's minute rollups: how many points, their sum, min and max, per minute."""

    kind: str
    minutes: dict[int, tuple[int, float, float, float]]

    @property
    def n(self) -> int:
        return sum(n for n, _s, _lo, _hi in self.minutes.values())

    @property
    def total(self) -> float:
        return sum(s for _n, s, _lo, _hi in self.minutes.values())

    @property
    def low(self) -> float:
        return min(lo for _n, _s, lo, _hi in self.minutes.values())

    @property
    def high(self) -> float:
        return max(hi for _n, _s, _lo, hi in self.minutes.values())


def stored(engine: Engine, user_id: int, name: str) -> Stored | None:
    """The stat called ``name`` and its rollups, or None if there is no such stat."""
    with engine.connect() as conn:
        stat = stat_by_name(conn, user_id, name)
        if stat is None:
            return None
        rows = conn.execute(select(stat_minutes).where(stat_minutes.c.stat_id == stat.id))
        return Stored(stat.kind, {r.bucket: (r.n, r.sum, r.min, r.max) for r in rows})


async def eventually(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` on the event loop until it holds, or fail naming ``what``."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
