"""One pass of the deliverer: send the outbox's due mail, record each outcome.

Runs in the scheduler (one at a time, under its lease). In development (no
``AERIE_SMTP_HOST``) mail is marked ``dev`` instead of sent, and the web app's
``/dev/mail`` page shows it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from aerie import outbox
from aerie.clock import Clock, system_clock
from aerie.mail import DeliveryFailed, send
from aerie.settings import Settings


@dataclass(frozen=True)
class Delivered:
    sent: int
    failed: int


def deliver_due(engine: Engine, settings: Settings, clock: Clock = system_clock,
                limit: int = 20) -> Delivered:
    """Send up to ``limit`` due mails; each outcome is committed as soon as it is known."""
    with engine.begin() as conn:
        due = outbox.claim_due(conn, int(clock()), limit)
    sent = failed = 0
    for mail in due:
        try:
            if not settings.dev_mail:
                send(settings, mail.recipient, mail.message)
        except DeliveryFailed as exc:
            with engine.begin() as conn:
                outbox.mark_failed(conn, mail, int(clock()), str(exc), permanent=exc.permanent)
            failed += 1
            continue
        with engine.begin() as conn:
            outbox.mark_sent(conn, mail.id, int(clock()), "dev" if settings.dev_mail else "smtp")
        sent += 1
    return Delivered(sent, failed)
