"""Queueing the scheduled mail: new-stat digests and daily reports."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, timedelta
from functools import partial

import anyio.to_thread
from sqlalchemy import Connection

from aerie import digests, outbox, reports
from aerie.accounts import user_by_id
from aerie.db import reading
from aerie.transactions import write
from app_servers.scheduler.jobs import Job

log = logging.getLogger("aerie.scheduler")


def send_digests(job: Job, now: int) -> int:
    """Queue each due new-stat digest, forgetting its notices in the same transaction;
    one that cannot be composed is forgotten (logged) rather than tried every pass.
    Blocking: runs in a worker thread."""
    with reading(job.engine) as conn:
        due = digests.due_digests(conn, now)
    for digest in due:
        job.keep_lease()
        try:
            write(job.engine, partial(_queue_digest, job, digest, now))
        except Exception:
            log.exception("the digest for user %d could not be queued; dropped", digest.user_id)
            write(job.engine, partial(digests.mark_digest_sent, digest=digest, now=now))
    return len(due)


def _queue_digest(job: Job, digest: digests.Digest, now: int, conn: Connection) -> None:
    """Queue the digest's mail and forget its notices, in one transaction: sent once."""
    # all trashed meanwhile, or an address nobody confirmed: nothing is sent
    if digest.stats and digest.verified:
        outbox.enqueue(conn, job.mail.digest(digest), kind="digest",
                       user_id=digest.user_id, now=now)
    digests.mark_digest_sent(conn, digest, now)


async def send_reports(job: Job, now: int) -> int:
    """Queue every daily report whose local hour has come, with a small graph per stat."""
    sent = 0
    found = await anyio.to_thread.run_sync(_users_with_reports, job)
    for user_id, hour, sent_for, zone in found:
        day = reports.due_day(hour, sent_for, zone, now)
        if day is None:
            continue
        await anyio.to_thread.run_sync(job.keep_lease)
        try:
            await _send_report(job, user_id, day, zone)
        except Exception:  # skip the day rather than fail the same way every pass
            log.exception("the report of user %d for %s could not be queued; skipped",
                          user_id, day)
            await anyio.to_thread.run_sync(_skip_report, job, user_id, day)
            continue
        sent += 1
    return sent


async def _send_report(job: Job, user_id: int, day: date, zone: str) -> None:
    figures = await anyio.to_thread.run_sync(_report_figures, job, user_id, day, zone)
    drawn = await asyncio.gather(*(
        job.graph_png(f.stat, zone, "1w", 320, 90, style="mini") for f in figures))
    graphs = {f.stat.public_id: png for f, png in zip(figures, drawn, strict=True)
              if png is not None}
    await anyio.to_thread.run_sync(_queue_report, job, user_id, day, figures, graphs)


def _skip_report(job: Job, user_id: int, day: date) -> None:
    write(job.engine, lambda conn: reports.mark_report_sent(conn, user_id, day + timedelta(days=1)))


def _users_with_reports(job: Job) -> list[tuple[int, int, str | None, str]]:
    with reading(job.engine) as conn:
        return reports.users_with_reports(conn)


def _report_figures(job: Job, user_id: int, day: date, zone: str) -> list[reports.DayFigure]:
    with reading(job.engine) as conn:
        chosen = reports.report_settings(conn, user_id).stats
        return [reports.day_figure(conn, stat, day, zone) for stat in chosen]


def _queue_report(job: Job, user_id: int, day: date, figures: list[reports.DayFigure],
                  graphs: dict[str, bytes]) -> None:
    """Queue the report and mark the day reported in one transaction: sent once."""
    now = job.now()

    def queue(conn: Connection) -> None:
        owner = user_by_id(conn, user_id)
        if owner is not None and owner.verified and figures:
            message = job.mail.report(owner.email, day, figures, graphs)
            outbox.enqueue(conn, message, kind="report", user_id=user_id, now=now)
        reports.mark_report_sent(conn, user_id, day + timedelta(days=1))

    write(job.engine, queue)
