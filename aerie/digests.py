"""The new-stat digest: stats the EZ API created, told to their owner in one short mail.

A typo in a stat name creates a stat silently; StatHat mailed its owner a
link to delete it. The API notes each stat it creates (in the same
transaction); the scheduler then mails each owner at most one digest every
``DIGEST_EVERY_SECONDS``, however many stats a burst of posts created, and
only once the newest has waited ``SETTLE_SECONDS`` so a burst lands in one mail
(worded by ``templates/mail/digest.*``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from aerie.schema import new_stat_notices, users
from aerie.stats import Stat, live_stats_by_ids

DIGEST_EVERY_SECONDS = 300
SETTLE_SECONDS = 60


@dataclass(frozen=True)
class Digest:
    user_id: int
    email: str
    stats: list[Stat]
    verified: bool = True  # the address is confirmed: an unconfirmed one gets no digest


def note_new_stat(conn: Connection, stat: Stat, now: int) -> None:
    note_new_stats(conn, [stat], now)


def note_new_stats(conn: Connection, made: Iterable[Stat], now: int) -> None:
    """One INSERT for all of them (the API notes a chunk of new stats at once)."""
    rows = [{"stat_id": stat.id, "user_id": stat.user_id, "created_at": now} for stat in made]
    if rows:
        conn.execute(insert(new_stat_notices).values(rows))


def due_digests(conn: Connection, now: int) -> list[Digest]:
    """Each owner whose notices have settled and whose last digest is old enough."""
    rows = conn.execute(
        select(new_stat_notices.c.user_id, users.c.email,
               func.max(new_stat_notices.c.created_at), users.c.email_verified_at.is_not(None))
        .join(users, users.c.id == new_stat_notices.c.user_id)
        .where(or_(users.c.digest_sent_at.is_(None),
                   users.c.digest_sent_at <= now - DIGEST_EVERY_SECONDS))
        .group_by(new_stat_notices.c.user_id, users.c.email, users.c.email_verified_at)
    ).fetchall()
    digests = []
    for user_id, email, newest, verified in rows:
        if newest > now - SETTLE_SECONDS:
            continue
        ids = conn.execute(select(new_stat_notices.c.stat_id)
                           .where(new_stat_notices.c.user_id == user_id)).scalars()
        digests.append(Digest(user_id, email, live_stats_by_ids(conn, user_id, ids),
                              bool(verified)))
    return digests


def mark_digest_sent(conn: Connection, digest: Digest, now: int) -> None:
    """Forget the notices told and remember when, in the transaction that queued the mail."""
    conn.execute(delete(new_stat_notices).where(new_stat_notices.c.user_id == digest.user_id))
    conn.execute(update(users).where(users.c.id == digest.user_id).values(digest_sent_at=now))
