"""The scheduler role's loop: the lease, each tick's steps, and the ``status`` it serves.

Each minute it judges alerts (``alerts``), queues and delivers mail and webhooks
(``notify``), queues digests and daily reports (``reports``), and invites or deletes
the accounts EZ sign-up made (``pending_accounts``), under one database lease.

Any number of schedulers may run; the one holding the lease acts, the others
wait and take over within ``LEASE_SECONDS`` of its death. Everything a pass
does is idempotent across a handover: an alert records the minute it was last
judged, an event records whether its mail went out, and the mail and webhook
outboxes record each delivery. So a new holder never repeats what the old one
finished, and finishes what it left half done.

Each alert, event, digest, report, mail and webhook is its own error boundary:
what one of them raises is logged (and recorded on it where it has a status),
and the pass goes on with the rest. The holder renews its lease between items,
and stops the pass the moment it finds the lease taken; every delivery is
claimed atomically and has a deadline far shorter than a claim, so two copies
never deliver one event twice.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import ClassVar

import anyio
import anyio.to_thread
from sqlalchemy import Engine
from starlette.applications import Starlette

from aerie import outbox
from aerie.clock import Clock, system_clock
from aerie.contracts import SCHEDULER_METHODS, PassFigures, StatusResult
from aerie.db import make_engine, reading
from aerie.health_dashboard import ensure_health_dashboard
from aerie.keys import random_key
from aerie.leases import release_lease, take_lease
from aerie.mail import MailComposer
from aerie.monitor import Metrics, Reporter
from aerie.secret_key import load_rpc_secret
from aerie.settings import Settings
from aerie.system_account import ensure_system_account
from aerie.transactions import write
from app_servers.scheduler import alerts, notify, pending_accounts, reports
from app_servers.scheduler.jobs import Job, LeaseLost
from rpc.clients import GraphClient
from rpc.server import create_rpc_app

log = logging.getLogger("aerie.scheduler")

LEASE = "scheduler"
LEASE_SECONDS = 30.0
RENEW_SECONDS = 10.0  # renew between items once this old: a long pass never lets it lapse
TICK_SECONDS = 5.0
HEALTH_DASHBOARD_SECONDS = 60  # how often the lease holder adds cards for new system stats


# What one tick did: the same figures ``status`` answers with.
Pass = PassFigures


class Scheduler:
    """One copy of the scheduler; ``mail`` words its mail (``presenters.mail.TemplateMail``,
    wired in by the entry module)."""

    def __init__(self, settings: Settings, engine: Engine, graph: GraphClient,
                 clock: Clock = system_clock, holder: str | None = None,
                 metrics: Metrics | None = None, *, mail: MailComposer) -> None:
        self._settings = settings
        self._metrics = metrics or Metrics("scheduler")
        self._dashboard_at = 0.0
        self._engine = engine
        self._clock = clock
        self._job = Job(settings, engine, graph, clock, mail, self._keep_lease)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{random_key(6)}"
        self._renewed_at = 0.0
        self.last_pass: Pass | None = None
        self.last_pass_at: float | None = None
        self.failed_passes = 0  # since start: an operator (or a test) sees an outage in status

    async def run(self, stop: anyio.Event) -> None:
        """Tick until ``stop`` is set, then give the lease up so a twin takes over at once."""
        try:
            while not stop.is_set():
                try:
                    self.last_pass = await self.tick()
                    self.last_pass_at = self._clock()
                except Exception:
                    # the database down, a bug in one pass: log it and try again next
                    # tick; the loop must outlive any one pass
                    self.failed_passes += 1
                    log.exception("scheduler pass failed; trying again in %.0f s", TICK_SECONDS)
                with anyio.move_on_after(TICK_SECONDS):
                    await stop.wait()
        finally:
            await anyio.to_thread.run_sync(self._release)

    async def tick(self) -> Pass:
        now = int(self._clock())
        if not await anyio.to_thread.run_sync(self._take_lease):
            return Pass(leader=False)
        try:
            judged, events = await anyio.to_thread.run_sync(alerts.judge_alerts, self._job, now)
            if judged:
                self._metrics.observe("aerie scheduler alert lag s",
                                      self._clock() - (now - now % 60))
            await notify.notify_pending(self._job)
            digests = await anyio.to_thread.run_sync(reports.send_digests, self._job, now)
            reported = await reports.send_reports(self._job, now)
            await anyio.to_thread.run_sync(pending_accounts.tend_pending_accounts, self._job, now)
            await anyio.to_thread.run_sync(self._keep_lease)
            mailed = await notify.deliver(self._job)
        except LeaseLost:
            log.warning("another scheduler took the lease; this one stops its pass")
            return Pass(leader=False)
        depth = await anyio.to_thread.run_sync(self._watch_itself, now)
        if depth is not None:
            self._metrics.observe("aerie scheduler outbox depth", depth)
        return Pass(leader=True, judged=judged, events=events, digests=digests,
                    reports=reported, mailed=mailed)

    def _watch_itself(self, now: int) -> int | None:
        """With self-monitoring on: the outbox depth (None when off) and, once a minute, a
        card on the health dashboard for each new system stat. Runs in a worker thread;
        the caller records the depth on the event loop (Metrics takes no locks)."""
        if self._settings.monitor_seconds <= 0:
            return None
        with reading(self._engine) as conn:
            depth = outbox.pending_count(conn)
        if now - self._dashboard_at >= HEALTH_DASHBOARD_SECONDS:
            self._dashboard_at = now
            try:
                write(self._engine, lambda conn: ensure_health_dashboard(
                    conn, ensure_system_account(conn, self._settings, now), now))
            except Exception:  # the dashboard must never cost a pass its work
                log.exception("could not update the health dashboard; trying again in a minute")
        return depth

    def _take_lease(self) -> bool:
        at = self._clock()
        taken = write(self._engine, lambda conn: take_lease(conn, LEASE, self.holder, at,
                                                            LEASE_SECONDS))
        if taken:
            self._renewed_at = at
        return taken

    def _keep_lease(self) -> None:
        """Renew the lease if it is getting old; LeaseLost if another copy took it."""
        if self._clock() - self._renewed_at >= RENEW_SECONDS and not self._take_lease():
            raise LeaseLost

    def _release(self) -> None:
        write(self._engine, lambda conn: release_lease(conn, LEASE, self.holder))


class SchedulerStatus:
    """What the scheduler role serves over JSON-RPC: its state, never its controls."""

    rpc_methods: ClassVar[tuple[str, ...]] = ("status",)

    def __init__(self, scheduler: Scheduler, engine: Engine) -> None:
        self._scheduler = scheduler
        self.engine = engine  # /readyz checks the database through it

    async def status(self) -> StatusResult:
        """Who this copy is, whether it held the lease at its last pass, and what it did."""
        last = self._scheduler.last_pass
        return StatusResult(holder=self._scheduler.holder, leader=bool(last and last.leader),
                            last_pass_at=self._scheduler.last_pass_at,
                            last_pass=last,
                            failed_passes=self._scheduler.failed_passes)


def create_app(settings: Settings, mail: MailComposer) -> Starlette:
    """The scheduler role: its loop runs for the app's lifetime; ``status`` over JSON-RPC.
    ``mail`` words its mail (the entry module passes ``presenters.mail.TemplateMail``)."""
    engine = make_engine(settings)
    secret = load_rpc_secret(settings)
    graph = GraphClient(settings.graph_replicas, secret=secret,
                        timeout=settings.rpc_timeout_seconds)
    metrics = Metrics("scheduler")
    scheduler = Scheduler(settings, engine, graph, metrics=metrics, mail=mail)
    app = create_rpc_app(SchedulerStatus(scheduler, engine), name="scheduler", secret=secret,
                         on_shutdown=engine.dispose, contracts=SCHEDULER_METHODS,
                         reporter=Reporter(metrics, settings, engine))
    served = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with served(app):  # disposes the engine last, after the loop let go
            stop = anyio.Event()
            try:
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(scheduler.run, stop)
                    try:
                        yield
                    finally:
                        stop.set()
            finally:
                await graph.aclose()

    app.router.lifespan_context = lifespan
    return app
