"""What every page use case is given, and how blocking work leaves the event loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine

from aerie.clock import Clock, system_clock
from aerie.mail import AccountMail
from aerie.passwords import Passwords
from aerie.transactions import write
from aerie.webhook_targets import AllowList
from rpc.clients import AnalysisClient, GraphClient

T = TypeVar("T")


@dataclass(frozen=True)
class Services:
    """The database, the app servers' typed RPC clients, the clock (unix seconds) and
    what the use cases need besides: password hashing, the webhook targets allowed
    inside, the stats one account may have (0: no limit), and the wording of account mail
    (None in a process that sends none: the command line)."""

    engine: Engine
    graph: GraphClient
    analysis: AnalysisClient
    clock: Clock = system_clock
    webhook_allow: AllowList = field(default_factory=AllowList)
    passwords: Passwords = field(default_factory=lambda: Passwords(time_cost=3, memory_kib=65536))
    max_stats_per_account: int = 0
    signups_per_hour: int = 10  # from one client address (0: no limit)
    account_mail: AccountMail | None = None
    # where page reads go (a replica that keeps up, see aerie.replicas); None: the engine
    reads: Callable[[], Engine] | None = None

    def read_engine(self) -> Engine:
        """The engine for a page's reads: never for sessions, log-ins or changes, which
        stay on ``engine`` (the primary). Blocking: call it in the worker thread."""
        return self.engine if self.reads is None else self.reads()

    def now(self) -> int:
        return int(self.clock())


async def off_loop(work: Callable[[], T]) -> T:
    """Run blocking work (SQL, argon2) in a worker thread so the loop keeps serving."""
    return await anyio.to_thread.run_sync(work)


async def in_transaction(svc: Services, work: Callable[[Connection], T]) -> T:
    """Run ``work`` in one write transaction on the primary, in a worker thread, again
    from the start after a conflict (``aerie.transactions.write``): so ``work`` does
    database work only, with no mail, RPC or change to its caller's state."""
    return await off_loop(lambda: write(svc.engine, work))
