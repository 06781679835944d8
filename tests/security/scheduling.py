"""Schedulers for security tests: real ones, on the test's database, against a real relay."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from sqlalchemy import Engine

from aerie.secret_key import load_rpc_secret
from aerie.settings import Settings
from app_servers.scheduler import Scheduler
from presenters.mail import TemplateMail
from rpc.clients import GraphClient

Make = Callable[..., Scheduler]


@asynccontextmanager
async def schedulers(engine: Engine, clock: Callable[[], float]) -> AsyncIterator[Make]:
    """Makes schedulers on ``engine`` for given settings (each with its own graph client,
    closed at the end), all reading the same clock."""
    clients: list[GraphClient] = []

    def make(settings: Settings) -> Scheduler:
        clients.append(GraphClient(settings.graph_replicas,
                                   secret=load_rpc_secret(settings), timeout=10))
        return Scheduler(settings, engine, clients[-1], clock, mail=TemplateMail(settings))

    try:
        yield make
    finally:
        for client in clients:
            await client.aclose()


def clear_scheduler_work(engine: Engine) -> None:
    """Schedulers judge every alert, send every digest and report, and deliver every queued
    item in the database, whichever test made it: start a test with none."""
    from aerie.schema import (
        alert_events,
        alerts,
        leases,
        new_stat_notices,
        outbox,
        users,
        webhook_deliveries,
    )

    with engine.begin() as conn:
        for table in (webhook_deliveries, alert_events, alerts, leases, new_stat_notices, outbox):
            conn.execute(table.delete())
        conn.execute(users.update().values(report_hour=None))
        # accounts EZ sign-up made in earlier tests are no longer any scheduler's to tend
        conn.execute(users.update().values(pending_until=None))
