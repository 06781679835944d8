"""Telling people: each pending event's mail queued in the outbox (with its graph), then
the webhook and mail outboxes delivered."""

from __future__ import annotations

import asyncio
import logging

import anyio.to_thread
from sqlalchemy import Connection

from aerie import alerts, outbox
from aerie.accounts import user_by_id
from aerie.alert_notices import GRAPH_TIMEFRAMES
from aerie.alerts import PendingMail
from aerie.db import reading
from aerie.delivery import deliver_due, deliver_webhooks
from aerie.transactions import write
from app_servers.scheduler.jobs import Job

log = logging.getLogger("aerie.scheduler")
UNVERIFIED = "not sent (e-mail not confirmed)"


async def notify_pending(job: Job) -> None:
    """Queue the mail of every event still marked pending, each on its own."""
    todo = await anyio.to_thread.run_sync(_pending_mail, job)
    await asyncio.gather(*(_notify(job, pending) for pending in todo))


async def deliver(job: Job) -> int:
    """Post the queued webhooks, then send the due mail; the number of mails sent."""
    await deliver_webhooks(job.engine, job.settings, job.clock)
    await anyio.to_thread.run_sync(job.keep_lease)
    return await anyio.to_thread.run_sync(lambda: deliver_due(
        job.engine, job.settings, job.clock, before_each=job.keep_lease).sent)


def _pending_mail(job: Job) -> list[PendingMail]:
    with reading(job.engine) as conn:
        return alerts.pending_mail(conn)


async def _notify(job: Job, pending: PendingMail) -> None:
    """Queue one event's mail; a failure stays on this event (pending: tried again
    next pass), never on the others."""
    alert, event = pending.alert, pending.event
    try:
        png = None
        if pending.verified:  # no mail goes to an unconfirmed address: draw nothing for it
            png = await job.graph_png(pending.stat, pending.timezone,
                                      GRAPH_TIMEFRAMES[alert.time_window], 600, 220)
        await anyio.to_thread.run_sync(_queue_mail, job, pending, png)
    except Exception:
        log.exception("the mail of alert %s's event %d could not be queued",
                      alert.public_id, event.id)


def _queue_mail(job: Job, pending: PendingMail, png: bytes | None) -> None:
    """Queue the mail and mark the event in one transaction: exactly one mail per event."""
    alert, event = pending.alert, pending.event

    def queue(conn: Connection) -> None:
        owner = user_by_id(conn, alert.user_id)
        message, status = None, "no owner"
        if owner is not None and not owner.verified:
            # Skipped, not held: an alert is news only when it happens. An address nobody
            # has confirmed may not be the owner's, and gets no mail it did not ask for.
            status = UNVERIFIED
        elif owner is not None:
            try:
                message = job.mail.alert(owner.email, alert, pending.stat, event, png)
                status = "queued"
            except Exception:  # will fail the same way every time: record it, move on
                log.exception("the mail of alert %s could not be composed", alert.public_id)
                status = "failed (could not compose)"
        if not alerts.settle_pending_mail(conn, event.id, status):
            return  # a twin queued it first
        if owner is not None and message is not None:
            mail_id = outbox.enqueue(conn, message, kind="alert", user_id=owner.id, now=job.now())
            alerts.link_mail(conn, event.id, mail_id)

    write(job.engine, queue)
