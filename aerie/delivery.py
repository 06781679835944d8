"""One pass of the deliverers: send the outbox's due mail and post due webhooks,
recording each outcome.

Runs in the scheduler (one at a time, under its lease). In development (no
``AERIE_SMTP_HOST``) mail is marked ``dev`` instead of sent, and the web app's
``/dev/mail`` page shows it. Each mail and each webhook is its own error
boundary: whatever one of them raises is recorded on it, and the pass goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import anyio
import anyio.to_thread
from sqlalchemy import Connection, Engine

from aerie import outbox, webhook_outbox
from aerie.alerts import record_mail_outcome, set_event_delivery
from aerie.clock import Clock, system_clock
from aerie.mail import DeliveryFailed, send
from aerie.settings import Settings
from aerie.transactions import write
from aerie.webhook_outbox import Delivery
from aerie.webhook_targets import Answer, post_json

log = logging.getLogger("aerie.delivery")

# What the alert history says of an event's mail once the deliverer has tried it.
SENT = "sent"
KEPT_FOR_DEV = "sent (to the dev mail page)"
RETRYING = "not sent yet, retrying"
REFUSED = "refused by the mail relay"


@dataclass(frozen=True)
class Delivered:
    sent: int
    failed: int


def deliver_due(engine: Engine, settings: Settings, clock: Clock = system_clock,
                limit: int = 20, before_each: Callable[[], None] | None = None) -> Delivered:
    """Send up to ``limit`` due mails; each outcome is committed as soon as it is known.
    ``before_each`` runs before every send (the scheduler renews its lease there, and
    raises to stop when it lost it)."""
    due = write(engine, lambda conn: outbox.claim_due(conn, int(clock()), limit))
    sent = failed = 0
    for mail in due:
        if before_each is not None:
            before_each()
        try:
            if not settings.dev_mail:
                send(settings, mail.recipient, mail.message)
        except Exception as exc:  # one bad mail must not hold back the others
            if not isinstance(exc, DeliveryFailed):
                log.exception("mail %d could not be sent; trying again later", mail.id)
            write(engine, partial(_record_failure, mail, int(clock()), exc))
            failed += 1
            continue
        write(engine, partial(_record_sending, mail, int(clock()), settings.dev_mail))
        sent += 1
    return Delivered(sent, failed)


def _record_failure(mail: outbox.Mail, now: int, exc: Exception, conn: Connection) -> None:
    """Note a mail not sent: tried again later, or never (a permanent refusal)."""
    permanent = getattr(exc, "permanent", False)
    outbox.mark_failed(conn, mail, now, str(exc) or type(exc).__name__, permanent=permanent)
    record_mail_outcome(conn, mail.id, REFUSED if permanent else RETRYING)


def _record_sending(mail: outbox.Mail, now: int, dev: bool, conn: Connection) -> None:
    outbox.mark_sent(conn, mail.id, now, "dev" if dev else "smtp")
    record_mail_outcome(conn, mail.id, KEPT_FOR_DEV if dev else SENT)


async def deliver_webhooks(engine: Engine, settings: Settings, clock: Clock = system_clock,
                           limit: int = 20) -> int:
    """Claim up to ``limit`` due webhooks and post them side by side, each within
    ``AERIE_WEBHOOK_DEADLINE_SECONDS``, so the whole batch takes about one deadline;
    the number delivered."""
    def claim(conn: Connection) -> list[Delivery]:
        now = int(clock())
        due = webhook_outbox.due_deliveries(conn, now, limit)
        return [d for d in due if webhook_outbox.claim(conn, d, now)]

    claimed = await anyio.to_thread.run_sync(write, engine, claim)
    answers: list[Answer] = []
    async with anyio.create_task_group() as tasks:
        for delivery in claimed:
            tasks.start_soon(_deliver_webhook, engine, settings, clock, delivery, answers)
    return sum(a.outcome.startswith("delivered") for a in answers)


async def _deliver_webhook(engine: Engine, settings: Settings, clock: Clock, delivery: Delivery,
                           answers: list[Answer]) -> None:
    """Post one webhook and record its outcome on the row and on the event's history."""
    try:
        answer = await post_json(delivery.url, delivery.body, settings.webhook_targets,
                                 settings.webhook_deadline_seconds)
    except Exception:  # a bug must cost this webhook an attempt, never the pass
        log.exception("webhook %d failed unexpectedly; trying again later", delivery.id)
        answer = Answer("failed (error)", retry=True)
    answers.append(answer)

    def record(conn: Connection) -> None:
        done = webhook_outbox.record_attempt(conn, delivery, int(clock()), retry=answer.retry)
        status = answer.outcome if done else f"{answer.outcome}, retrying"
        set_event_delivery(conn, delivery.event_id, webhook_status=status)

    try:
        await anyio.to_thread.run_sync(write, engine, record)
    except Exception:  # the claim lapses and a later pass posts it again
        log.exception("could not record the outcome of webhook %d", delivery.id)
