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

# How long failed log-ins count: after this a failure is forgotten.
FAILURE_WINDOW = 15 * 60


@dataclass(frozen=True)
class Backoff:
    """A growing wait after repeated failures: none for the first ``free`` failures in
    ``FAILURE_WINDOW``, then 2, 4, 8... seconds after the latest one, never more than ``cap``.

    Nothing is ever locked: once the wait has passed, the right password works again.
    """

    free: int
    cap: int

    def wait_after(self, failures: int) -> int:
        if failures <= self.free:
            return 0
        return int(min(2 ** (failures - self.free), self.cap))


# An account's wait stays short, so someone guessing its password cannot keep its owner
# out for long; an address's wait grows to the whole window, as that is the guesser's.
ACCOUNT_BACKOFF = Backoff(free=3, cap=30)
ADDRESS_BACKOFF = Backoff(free=10, cap=FAILURE_WINDOW)


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


def end_all_sessions(conn: Connection, user_id: int) -> None:
    """After a password reset: whoever held the account must prove it again."""
    conn.execute(delete(sessions).where(sessions.c.user_id == user_id))


def record_login_failure(conn: Connection, email: str, address: str, now: int) -> int:
    """Count a failed try (or one being checked); its id, to forget it if it succeeds."""
    result = conn.execute(insert(login_failures).values(
        email=email.strip().lower()[:255], address=address[:64], at=now))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def forget_login_failure(conn: Connection, failure_id: int) -> None:
    """A try counted while its password was checked turned out right."""
    conn.execute(delete(login_failures).where(login_failures.c.id == failure_id))


def seconds_to_wait(conn: Connection, email: str, address: str, now: int) -> int:
    """How long this e-mail and address must wait before their next try (0: try now):
    the longer of the account's and the address's waits (see ``Backoff``)."""
    since = now - FAILURE_WINDOW
    waits = [0]
    for column, value, backoff in (
        (login_failures.c.email, email.strip().lower()[:255], ACCOUNT_BACKOFF),
        (login_failures.c.address, address[:64], ADDRESS_BACKOFF),
    ):
        count, latest = conn.execute(
            select(func.count(), func.max(login_failures.c.at)).where(
                column == value, login_failures.c.at >= since
            )
        ).one()
        if count:
            waits.append(int(latest) + backoff.wait_after(count) - now)
    return max(waits)


def forget_expired(conn: Connection, now: int) -> int:
    """Drop expired sessions and failures too old to count (run with the hourly prune);
    returns the rows deleted."""
    ended = conn.execute(delete(sessions).where(sessions.c.expires_at <= now)).rowcount
    old = conn.execute(
        delete(login_failures).where(login_failures.c.at < now - FAILURE_WINDOW)
    ).rowcount
    return ended + old

