"""The scheduler role: alerts each minute, mail from the outbox, under one database lease.

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

import asyncio
import base64
import logging
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import ClassVar

import anyio
import anyio.to_thread
from sqlalchemy import Connection, Engine, select
from starlette.applications import Starlette

from aerie import alerts, digests, outbox, reports, webhook_outbox
from aerie.accounts import user_by_id
from aerie.alert_notices import GRAPH_TIMEFRAMES, alert_mail, headline, webhook_body
from aerie.alert_rules import evaluate
from aerie.alerts import Alert, AlertEvent
from aerie.clock import Clock, system_clock
from aerie.contracts import SCHEDULER_METHODS, PassFigures, RenderParams, StatusResult
from aerie.db import make_engine
from aerie.delivery import deliver_due, deliver_webhooks
from aerie.errors import AerieError
from aerie.health_dashboard import ensure_health_dashboard
from aerie.keys import random_key
from aerie.leases import release_lease, take_lease
from aerie.monitor import Metrics, Reporter
from aerie.schema import alert_events
from aerie.secret_key import load_rpc_secret
from aerie.settings import Settings
from aerie.stats import Stat, stat_by_id
from aerie.system_account import ensure_system_account
from rpc.clients import GraphClient
from rpc.server import create_rpc_app

log = logging.getLogger("aerie.scheduler")

LEASE = "scheduler"
LEASE_SECONDS = 30.0
RENEW_SECONDS = 10.0  # renew between items once this old: a long pass never lets it lapse
TICK_SECONDS = 5.0
PENDING = "pending"
HEALTH_DASHBOARD_SECONDS = 60  # how often the lease holder adds cards for new system stats


@dataclass(frozen=True)
class Pass:
    """What one tick did: whether it held the lease, alerts judged, events, mail sent."""

    leader: bool
    judged: int = 0
    events: int = 0
    digests: int = 0
    reports: int = 0
    mailed: int = 0


class LeaseLost(Exception):
    """Another copy holds the lease now: this one stops its pass at once."""


class Scheduler:
    def __init__(self, settings: Settings, engine: Engine, graph: GraphClient,
                 clock: Clock = system_clock, holder: str | None = None,
                 metrics: Metrics | None = None) -> None:
        self._settings = settings
        self._metrics = metrics or Metrics("scheduler")
        self._dashboard_at = 0.0
        self._engine = engine
        self._graph = graph
        self._clock = clock
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{random_key(6)}"
        self._renewed_at = 0.0
        self.last_pass: Pass | None = None
        self.last_pass_at: float | None = None

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
            judged, events = await anyio.to_thread.run_sync(self._judge_alerts, now)
            if judged:
                self._metrics.observe("aerie scheduler alert lag s",
                                      self._clock() - (now - now % 60))
            await self._notify_pending()
            digests = await anyio.to_thread.run_sync(self._send_digests, now)
            reports = await self._send_reports(now)
            await anyio.to_thread.run_sync(self._keep_lease)
            await deliver_webhooks(self._engine, self._settings, self._clock)
            await anyio.to_thread.run_sync(self._keep_lease)
            mailed = await anyio.to_thread.run_sync(lambda: deliver_due(
                self._engine, self._settings, self._clock, before_each=self._keep_lease).sent)
        except LeaseLost:
            log.warning("another scheduler took the lease; this one stops its pass")
            return Pass(leader=False)
        depth = await anyio.to_thread.run_sync(self._watch_itself, now)
        if depth is not None:
            self._metrics.observe("aerie scheduler outbox depth", depth)
        return Pass(True, judged, events, digests, reports, mailed)

    def _watch_itself(self, now: int) -> int | None:
        """With self-monitoring on: the outbox depth (None when off) and, once a minute, a
        card on the health dashboard for each new system stat. Runs in a worker thread;
        the caller records the depth on the event loop (Metrics takes no locks)."""
        if self._settings.monitor_seconds <= 0:
            return None
        with self._engine.connect() as conn:
            depth = outbox.pending_count(conn)
        if now - self._dashboard_at >= HEALTH_DASHBOARD_SECONDS:
            self._dashboard_at = now
            try:
                with self._engine.begin() as conn:
                    system_user = ensure_system_account(conn, self._settings, now)
                    ensure_health_dashboard(conn, system_user, now)
            except Exception:  # the dashboard must never cost a pass its work
                log.exception("could not update the health dashboard; trying again in a minute")
        return depth

    def _take_lease(self) -> bool:
        at = self._clock()
        with self._engine.begin() as conn:
            taken = take_lease(conn, LEASE, self.holder, at, LEASE_SECONDS)
        if taken:
            self._renewed_at = at
        return taken

    def _keep_lease(self) -> None:
        """Renew the lease if it is getting old; LeaseLost if another copy took it."""
        if self._clock() - self._renewed_at >= RENEW_SECONDS and not self._take_lease():
            raise LeaseLost

    def _release(self) -> None:
        with self._engine.begin() as conn:
            release_lease(conn, LEASE, self.holder)

    def _judge_alerts(self, now: int) -> tuple[int, int]:
        """Judge each alert not yet judged this minute; record its state and any event."""
        minute = now - now % 60
        with self._engine.connect() as conn:
            due = [a for a in alerts.live_alerts(conn)
                   if a.last_evaluated_at is None or a.last_evaluated_at < minute]
        events = 0
        for alert in due:
            self._keep_lease()
            try:
                events += self._judge_alert(alert, now)
            except Exception:
                log.exception("alert %s could not be judged; trying again next minute",
                              alert.public_id)
                with self._engine.begin() as conn:  # judged, as far as this minute goes
                    alerts.record_evaluation(conn, alert, last_evaluated_at=now)
        return len(due), events

    def _judge_alert(self, alert: Alert, now: int) -> int:
        """Judge one alert, recording its state, any event and that event's webhook in one
        transaction; the number of events (0 or 1)."""
        with self._engine.begin() as conn:
            if not alerts.claim_evaluation(conn, alert, now - now % 60, now):
                return 0  # a twin judged it this minute, after we read it
            stat = stat_by_id(conn, alert.stat_id)
            decided = evaluate(conn, alert, stat, now)
            changes: dict[str, object] = {"last_evaluated_at": now, "last_value": decided.value}
            if decided.state != alert.state:
                changes |= {"state": decided.state, "state_since": now}
            if decided.event is not None:
                changes["last_notified_at"] = now
                _record_event(conn, self._settings, alert, stat, decided.event, decided.value,
                              now)
            alerts.record_evaluation(conn, alert, **changes)
        return int(decided.event is not None)

    async def _notify_pending(self) -> None:
        """Queue the mail of every event still marked pending, each on its own."""
        todo = await anyio.to_thread.run_sync(self._pending_events)
        await asyncio.gather(*(self._notify(*pending) for pending in todo))

    def _pending_events(self) -> list[tuple[Alert, Stat, AlertEvent, str]]:
        """Each pending event with its alert, stat and the owner's time zone (for the graph)."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(alert_events.c.id, alert_events.c.alert_id).where(
                alert_events.c.email_status == PENDING))
            found = []
            for event_id, alert_id in rows.fetchall():
                alert = alerts.alert_by_id(conn, alert_id)
                event = alerts.event_by_id(conn, event_id)
                owner = user_by_id(conn, alert.user_id)
                zone = owner.timezone if owner else "UTC"
                found.append((alert, stat_by_id(conn, alert.stat_id), event, zone))
        return found

    async def _notify(self, alert: Alert, stat: Stat, event: AlertEvent, zone: str) -> None:
        """Queue one event's mail; a failure stays on this event (pending: tried again
        next pass), never on the others."""
        try:
            png = await self._graph_png(stat, zone, GRAPH_TIMEFRAMES[alert.time_window], 600, 220)
            await anyio.to_thread.run_sync(self._queue_mail, alert, stat, event, png)
        except Exception:
            log.exception("the mail of alert %s's event %d could not be queued",
                          alert.public_id, event.id)

    async def _graph_png(self, stat: Stat, zone: str, timeframe: str, width: int, height: int,
                         style: str = "full") -> bytes | None:
        """The stat's graph for a mail; None if no graph server answers (the mail goes
        without it rather than not at all)."""
        try:
            drawn = await self._graph.render(RenderParams(
                user_id=stat.user_id, stat_ids=[stat.public_id], timeframe=timeframe,
                previous=False, format="png", width=width, height=height, timezone=zone,
                style=style))
        except AerieError as exc:
            log.warning("no graph of stat %s for a mail: %s", stat.public_id, exc.message)
            return None
        return base64.b64decode(drawn.body) if drawn.body else None

    def _queue_mail(self, alert: Alert, stat: Stat, event: AlertEvent, png: bytes | None) -> None:
        """Queue the mail and mark the event in one transaction: exactly one mail per event."""
        with self._engine.begin() as conn:
            owner = user_by_id(conn, alert.user_id)
            message, status = None, "no owner"
            if owner is not None:
                try:
                    message = alert_mail(self._settings, owner.email, alert, stat, event, png)
                    status = "queued"
                except Exception:  # will fail the same way every time: record it, move on
                    log.exception("the mail of alert %s could not be composed", alert.public_id)
                    status = "failed (could not compose)"
            if not alerts.settle_pending_mail(conn, event.id, status):
                return  # a twin queued it first
            if owner is not None and message is not None:
                outbox.enqueue(conn, message, kind="alert", user_id=owner.id,
                               now=int(self._clock()))

    def _send_digests(self, now: int) -> int:
        """Queue each due new-stat digest, forgetting its notices in the same transaction;
        one that cannot be composed is forgotten (logged) rather than tried every pass."""
        with self._engine.connect() as conn:
            due = digests.due_digests(conn, now)
        for digest in due:
            self._keep_lease()
            try:
                with self._engine.begin() as conn:
                    if digest.stats:  # all trashed meanwhile: nothing left to tell
                        outbox.enqueue(conn, digests.digest_mail(self._settings, digest),
                                       kind="digest", user_id=digest.user_id, now=now)
                    digests.mark_digest_sent(conn, digest, now)
            except Exception:
                log.exception("the digest for user %d could not be queued; dropped",
                              digest.user_id)
                with self._engine.begin() as conn:
                    digests.mark_digest_sent(conn, digest, now)
        return len(due)

    async def _send_reports(self, now: int) -> int:
        """Queue every daily report whose local hour has come, with a small graph per stat."""
        sent = 0
        found = await anyio.to_thread.run_sync(self._users_with_reports)
        for user_id, hour, sent_for, zone in found:
            day = reports.due_day(hour, sent_for, zone, now)
            if day is None:
                continue
            await anyio.to_thread.run_sync(self._keep_lease)
            try:
                await self._send_report(user_id, day, zone)
            except Exception:  # skip the day rather than fail the same way every pass
                log.exception("the report of user %d for %s could not be queued; skipped",
                              user_id, day)
                await anyio.to_thread.run_sync(self._skip_report, user_id, day)
                continue
            sent += 1
        return sent

    async def _send_report(self, user_id: int, day: date, zone: str) -> None:
        figures = await anyio.to_thread.run_sync(self._report_figures, user_id, day, zone)
        drawn = await asyncio.gather(*(
            self._graph_png(f.stat, zone, "1w", 320, 90, style="mini") for f in figures))
        graphs = {f.stat.public_id: png for f, png in zip(figures, drawn, strict=True)
                  if png is not None}
        await anyio.to_thread.run_sync(self._queue_report, user_id, day, figures, graphs)

    def _skip_report(self, user_id: int, day: date) -> None:
        with self._engine.begin() as conn:
            reports.mark_report_sent(conn, user_id, day + timedelta(days=1))

    def _users_with_reports(self) -> list[tuple[int, int, str | None, str]]:
        with self._engine.connect() as conn:
            return reports.users_with_reports(conn)

    def _report_figures(self, user_id: int, day: date, zone: str) -> list[reports.DayFigure]:
        with self._engine.connect() as conn:
            chosen = reports.report_settings(conn, user_id).stats
            return [reports.day_figure(conn, stat, day, zone) for stat in chosen]

    def _queue_report(self, user_id: int, day: date, figures: list[reports.DayFigure],
                      graphs: dict[str, bytes]) -> None:
        """Queue the report and mark the day reported in one transaction: sent once."""
        with self._engine.begin() as conn:
            owner = user_by_id(conn, user_id)
            if owner is not None and figures:
                message = reports.report_mail(self._settings, owner.email, day, figures, graphs)
                outbox.enqueue(conn, message, kind="report", user_id=user_id,
                               now=int(self._clock()))
            reports.mark_report_sent(conn, user_id, day + timedelta(days=1))


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
                            last_pass=PassFigures.model_validate(vars(last)) if last else None)


def create_app(settings: Settings) -> Starlette:
    """The scheduler role: its loop runs for the app's lifetime; ``status`` over JSON-RPC."""
    engine = make_engine(settings)
    secret = load_rpc_secret(settings)
    graph = GraphClient(settings.graph_replicas, secret=secret,
                        timeout=settings.rpc_timeout_seconds)
    metrics = Metrics("scheduler")
    scheduler = Scheduler(settings, engine, graph, metrics=metrics)
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


def _record_event(conn: Connection, settings: Settings, alert: Alert, stat: Stat, event: str,
                  value: float | None, now: int) -> None:
    """The event, pending its mail, and its webhook queued in the webhook outbox (both held
    back while the alert is silenced)."""
    silenced = alert.silenced(now)
    message = headline(alert, stat, event, value)
    event_id = alerts.add_event(conn, alert, now, event, value, message)
    email = "silenced" if silenced and alert.email else (PENDING if alert.email else "off")
    webhook = None
    if alert.webhook_url:
        webhook = "silenced" if silenced else PENDING
        if not silenced:
            body = webhook_body(alert.webhook_url, alert, stat, alerts.event_by_id(conn, event_id),
                                f"{settings.web_url}/alerts/{alert.public_id}")
            webhook_outbox.enqueue(conn, event_id, alert.webhook_url, body, now)
    alerts.set_event_delivery(conn, event_id, email_status=email, webhook_status=webhook)
