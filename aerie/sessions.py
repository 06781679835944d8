"""Browser sessions and failed log-ins: the SQL for both lives here.

Only a session token's SHA-256 is stored, so a database leak opens no session;
deleting the row ends the session whatever the cookie says.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select

from aerie.accounts import USER_COLUMNS, User, user_from_row
from aerie.keys import hash_token, random_key
from aerie.schema import login_failures, sessions, users

# Log-in failures allowed per e-mail and per address within the window, on every web copy.
MAX_FAILURES = 5
FAILURE_WINDOW = 15 * 60


@dataclass(frozen=True)
class Session:
    token: str  # the secret the cookie carries; known only when created or presented
    user: User
    csrf_token: str
    expires_at: int


def start_session(conn: Connection, user: User, now: int, lifetime: int) -> Session:
    token, csrf = random_key(32), random_key(32)
    conn.execute(
        insert(sessions).values(
            token_hash=hash_token(token), user_id=user.id, csrf_token=csrf, created_at=now,
            expires_at=now + lifetime,
        )
    )
    return Session(token, user, csrf, now + lifetime)


def live_session(conn: Connection, token: str, now: int) -> Session | None:
    """The unexpired session this token opens, with its user; None otherwise."""
    row = conn.execute(
        select(*USER_COLUMNS, sessions.c.csrf_token, sessions.c.expires_at)
        .select_from(sessions.join(users, users.c.id == sessions.c.user_id))
        .where(sessions.c.token_hash == hash_token(token), sessions.c.expires_at > now)
    ).first()
    if row is None:
        return None
    return Session(token, user_from_row(row), row.csrf_token, row.expires_at)


def end_session(conn: Connection, token: str) -> None:
    conn.execute(delete(sessions).where(sessions.c.token_hash == hash_token(token)))


def end_other_sessions(conn: Connection, user_id: int, keep_token: str) -> None:
    """After a password or e-mail change: every other browser must log in again."""
    conn.execute(
        delete(sessions).where(
            sessions.c.user_id == user_id, sessions.c.token_hash != hash_token(keep_token)
        )
    )


def record_login_failure(conn: Connection, email: str, address: str, now: int) -> None:
    conn.execute(insert(login_failures).values(email=email.lower()[:255], address=address[:64], at=now))


def too_many_failures(conn: Connection, email: str, address: str, now: int) -> bool:
    """Whether this e-mail or address has failed ``MAX_FAILURES`` times in ``FAILURE_WINDOW``."""
    return recent_login_failures(conn, email, address, now - FAILURE_WINDOW) >= MAX_FAILURES


def recent_login_failures(conn: Connection, email: str, address: str, since: int) -> int:
    """Failures since ``since`` for this e-mail or from this address, whichever is more."""
    by_email, by_address = (
        conn.execute(
            select(func.count()).where(column == value, login_failures.c.at >= since)
        ).scalar_one()
        for column, value in (
            (login_failures.c.email, email.lower()[:255]),
            (login_failures.c.address, address[:64]),
        )
    )
    return max(by_email, by_address)


def forget_expired(conn: Connection, now: int) -> int:
    """Drop expired sessions and failures too old to count (run with the hourly prune);
    returns the rows deleted."""
    ended = conn.execute(delete(sessions).where(sessions.c.expires_at <= now)).rowcount
    old = conn.execute(
        delete(login_failures).where(login_failures.c.at < now - FAILURE_WINDOW)
    ).rowcount
    return ended + old

