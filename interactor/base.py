"""What every page use case is given, and how blocking work leaves the event loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio.to_thread
from sqlalchemy import Engine

from aerie.clock import Clock, system_clock
from rpc.clients import AnalysisClient, GraphClient

T = TypeVar("T")


@dataclass(frozen=True)
class Services:
    """The database, the app servers' typed RPC clients and the clock (unix seconds)."""

    engine: Engine
    graph: GraphClient
    analysis: AnalysisClient
    clock: Clock = system_clock

    def now(self) -> int:
        return int(self.clock())


async def off_loop(work: Callable[[], T]) -> T:
    """Run blocking work (SQL, argon2) in a worker thread so the loop keeps serving."""
    return await anyio.to_thread.run_sync(work)
