"""Leases: one holder at a time for work that must not run twice (the scheduler).

A lease is a row ``(name, holder, expires_at)``. Taking it succeeds when no
row exists, when the holder is already us, or when the last holder let it
lapse; each is one atomic statement, so two contenders never both win. The
holder renews well before expiry; if it dies, another takes over once the
lease lapses.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, or_, update
from sqlalchemy.exc import IntegrityError

from aerie.schema import leases


def take_lease(conn: Connection, name: str, holder: str, now: float, seconds: float) -> bool:
    """Take or renew the lease for ``seconds``; False while someone else holds it."""
    try:
        with conn.begin_nested():
            conn.execute(insert(leases).values(name=name, holder=holder, expires_at=now + seconds))
        return True
    except IntegrityError:
        pass
    taken = conn.execute(
        update(leases)
        .where(leases.c.name == name, or_(leases.c.holder == holder, leases.c.expires_at < now))
        .values(holder=holder, expires_at=now + seconds)
    ).rowcount
    return taken == 1


def release_lease(conn: Connection, name: str, holder: str) -> None:
    """Give the lease up at once (a clean stop), so the next holder need not wait."""
    conn.execute(delete(leases).where(leases.c.name == name, leases.c.holder == holder))
