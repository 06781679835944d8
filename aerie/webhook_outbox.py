"""The webhook outbox: a webhook is a row written with its event, posted later.

The judging tick never waits on a user's server: it writes the event and its
pending delivery in one transaction. The scheduler then claims due rows with a
conditional update (as the mail outbox does), so two copies never post one
event twice, posts each within its deadline, and records the outcome here and
on the event's history, retrying with the mail outbox's doubling back-off.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from aerie.outbox import retry_delay
from aerie.schema import webhook_deliveries

CLAIM_SECONDS = 300  # far beyond a delivery's deadline: a claim outlives the post it covers
MAX_ATTEMPTS = 5  # about 15 minutes of retries (30 s, 1, 2, 4, 8 min)


@dataclass(frozen=True)
class Delivery:
    id: int
    event_id: int
    url: str
    body: dict[str, Any]
    attempts: int
    next_attempt_at: int


def enqueue(conn: Connection, event_id: int, url: str, body: dict[str, Any], now: int) -> None:
    conn.execute(insert(webhook_deliveries).values(
        event_id=event_id, url=url, body=json.dumps(body), created_at=now, attempts=0,
        next_attempt_at=now))


def due_deliveries(conn: Connection, now: int, limit: int) -> list[Delivery]:
    rows = conn.execute(
        select(webhook_deliveries.c.id, webhook_deliveries.c.event_id, webhook_deliveries.c.url,
               webhook_deliveries.c.body, webhook_deliveries.c.attempts,
               webhook_deliveries.c.next_attempt_at)
        .where(webhook_deliveries.c.done_at.is_(None),
               webhook_deliveries.c.next_attempt_at <= now)
        .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.id)
        .limit(limit))
    return [Delivery(i, e, u, json.loads(b), a, n) for i, e, u, b, a, n in rows]


def claim(conn: Connection, delivery: Delivery, now: int) -> bool:
    """Move the next attempt past ``CLAIM_SECONDS`` unless someone did since it was read;
    False when another scheduler claimed it first."""
    return conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id == delivery.id,
               webhook_deliveries.c.next_attempt_at == delivery.next_attempt_at,
               webhook_deliveries.c.done_at.is_(None))
        .values(next_attempt_at=now + CLAIM_SECONDS)
    ).rowcount == 1


def record_attempt(conn: Connection, delivery: Delivery, now: int, *, retry: bool) -> bool:
    """Count the attempt; schedule the next one after the back-off when ``retry`` and
    attempts remain, else close the row. True when it is closed."""
    attempts = delivery.attempts + 1
    done = not retry or attempts >= MAX_ATTEMPTS
    conn.execute(update(webhook_deliveries).where(webhook_deliveries.c.id == delivery.id).values(
        attempts=attempts, done_at=now if done else None,
        next_attempt_at=now if done else now + retry_delay(attempts)))
    return done
