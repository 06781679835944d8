"""Judging alerts: each live alert once a minute, its state, event and webhook recorded
together."""

from __future__ import annotations

import logging
from functools import partial

from sqlalchemy import Connection

from aerie import alerts, urls, webhook_outbox
from aerie.alert_notices import headline, webhook_body
from aerie.alert_rules import evaluate
from aerie.alerts import PENDING, Alert
from aerie.db import reading
from aerie.settings import Settings
from aerie.stats import Stat, stat_by_id
from aerie.transactions import write
from app_servers.scheduler.jobs import Job

log = logging.getLogger("aerie.scheduler")


def judge_alerts(job: Job, now: int) -> tuple[int, int]:
    """Judge each alert not yet judged this minute; record its state and any event.
    ``(alerts judged, events)``. Blocking: runs in a worker thread."""
    minute = now - now % 60
    with reading(job.engine) as conn:
        due = [a for a in alerts.live_alerts(conn)
               if a.last_evaluated_at is None or a.last_evaluated_at < minute]
    events = 0
    for alert in due:
        job.keep_lease()
        try:
            events += _judge_alert(job, alert, now)
        except Exception:
            log.exception("alert %s could not be judged; trying again next minute",
                          alert.public_id)
            judged = partial(alerts.record_evaluation, alert=alert, last_evaluated_at=now)
            write(job.engine, judged)  # judged, as far as this minute goes
    return len(due), events


def _judge_alert(job: Job, alert: Alert, now: int) -> int:
    """Judge one alert, recording its state, any event and that event's webhook in one
    transaction; the number of events (0 or 1)."""

    def judge(conn: Connection) -> int:
        if not alerts.claim_evaluation(conn, alert, now - now % 60, now):
            return 0  # a twin judged it this minute, after we read it
        stat = stat_by_id(conn, alert.stat_id)
        decided = evaluate(conn, alert, stat, now)
        changes: dict[str, object] = {"last_evaluated_at": now, "last_value": decided.value}
        if decided.state != alert.state:
            changes |= {"state": decided.state, "state_since": now}
        if decided.event is not None:
            changes["last_notified_at"] = now
            _record_event(conn, job.settings, alert, stat, decided.event, decided.value, now)
        alerts.record_evaluation(conn, alert, **changes)
        return int(decided.event is not None)

    return write(job.engine, judge)


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
                                urls.absolute(settings.web_url, urls.alert_page(alert.public_id)))
            webhook_outbox.enqueue(conn, event_id, alert.webhook_url, body, now)
    alerts.set_event_delivery(conn, event_id, email_status=email, webhook_status=webhook)
