"""Requests limited per subject and time window, counted in the database.

Every web and API copy reads the same counts, so a limit holds however many copies
run. A request is recorded whether it is granted or not, and the counts never look
at whether an e-mail has an account: the answers cannot tell anyone that either.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select

from aerie.schema import limited_requests

LONGEST_WINDOW = 86400  # records older than every window are pruned


@dataclass(frozen=True)
class Limit:
    """At most ``count`` requests of ``action`` per subject in ``window`` seconds
    (0: no limit)."""

    action: str
    count: int
    window: int


def made(conn: Connection, limit: Limit, subject: str, now: int) -> int:
    """How many requests ``subject`` made within the limit's window."""
    return int(conn.execute(
        select(func.count()).select_from(limited_requests).where(
            limited_requests.c.action == limit.action,
            limited_requests.c.subject == subject[:255],
            limited_requests.c.at > now - limit.window,
        )
    ).scalar_one())


def allowed(conn: Connection, limit: Limit, subject: str, now: int) -> bool:
    """Whether one more request from ``subject`` stays within the limit."""
    return not limit.count or made(conn, limit, subject, now) < limit.count


def record(conn: Connection, action: str, subject: str, now: int) -> None:
    conn.execute(insert(limited_requests).values(action=action, subject=subject[:255], at=now))


def forget_old(conn: Connection, now: int) -> int:
    """Drop records older than any window (run with the hourly prune); the rows deleted."""
    return conn.execute(
        delete(limited_requests).where(limited_requests.c.at <= now - LONGEST_WINDOW)
    ).rowcount
