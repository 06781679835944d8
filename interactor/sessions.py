"""Signing up, logging in and out, and finding the session a cookie names.

Log-in failures are counted in the database per e-mail and per address, so every
web copy enforces the same growing wait (``aerie.sessions.Backoff``): a try during the
wait is refused unchecked, and once it has passed the right password works again.
Passwords are hashed and checked (argon2, some 0.1 s) outside every transaction: on
SQLite a write transaction holds the database's one write lock, and a flood of failed
log-ins checked inside one held it from every account's posts (one audit's run: `/ez`
at a 2.8 s median behind eight log-in loops, against 3.3 ms).
"""

from __future__ import annotations

from sqlalchemy import Connection

from aerie import accounts, limited_requests, sessions
from aerie.db import reading
from aerie.errors import BadRequest, NotAuthenticated, TooManyRequests
from aerie.limited_requests import Limit
from aerie.sessions import Session
from aerie.timeframes import check_timezone
from interactor.account_mail import queue_verification
from interactor.base import Services, in_transaction, off_loop

SESSION_SECONDS = 30 * 86400
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # argon2 would hash more, but nobody types more
WRONG_LOGIN = "that e-mail and password do not match an account"
SIGNUP_ACTION = "signup-client"
# What an empty log-in form is missing, by (e-mail given, password given).
LOGIN_MISSING = {
    (False, False): "enter your e-mail and password to log in",
    (False, True): "enter your e-mail to log in",
    (True, False): "enter your password to log in",
}


def too_many_failures(wait: int) -> TooManyRequests:
    """The answer to a try made during the wait that follows repeated failures."""
    return TooManyRequests(
        f"too many failed log-ins for this account or from this address; "
        f"try again in {wait} s"
    )


def check_email(email: str) -> str:
    email = email.strip()
    if not accounts.looks_like_email(email):
        raise BadRequest(f"{email!r} does not look like an e-mail address (like you@example.com)")
    return email


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"choose a password of at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise BadRequest(f"a password may have at most {MAX_PASSWORD} characters")
    return password


async def sign_up(svc: Services, email: str, password: str, timezone: str, client: str
                  ) -> Session:
    """Create an account (its ezkey is its e-mail) and open its first session; the
    account is unverified until the link mailed in the same transaction is followed.
    TooManyRequests past ``AERIE_SIGNUPS_PER_HOUR`` from one address (``client``): each
    account is a confirmation mail sent, and a new set of quotas."""
    email = check_email(email)
    check_password(password)
    check_timezone(timezone)
    now = svc.now()

    limit = Limit(SIGNUP_ACTION, svc.signups_per_hour, 3600)

    def count(conn: Connection) -> None:
        if not limited_requests.allowed(conn, limit, client, now):
            raise TooManyRequests(f"too many sign-ups from this address in the last hour (at "
                                  f"most {limit.count}); try again later")
        limited_requests.record(conn, SIGNUP_ACTION, client, now)

    await in_transaction(svc, count)
    hashed = await off_loop(lambda: svc.passwords.hash(password))

    def work(conn: Connection) -> Session:
        user = accounts.create_user(conn, email, hashed, now, timezone, verified=False)
        queue_verification(svc, conn, user.id, email, now)
        return sessions.start_session(conn, user, now, SESSION_SECONDS)

    return await in_transaction(svc, work)


async def log_in(svc: Services, email: str, password: str, address: str) -> Session:
    """Open a session; BadRequest when the e-mail or password is left empty (not counted
    as a failure), NotAuthenticated on a wrong pair, TooManyRequests (saying how many
    seconds to wait) for a try made too soon after repeated wrong ones."""
    missing = LOGIN_MISSING.get((bool(email.strip()), bool(password)))
    if missing:
        raise BadRequest(missing)
    now = svc.now()
    checked = await checked_password(svc, email, password, address, now)
    if checked is None:
        raise NotAuthenticated(WRONG_LOGIN)
    user, counted = checked

    def start(conn: Connection) -> Session:
        sessions.forget_login_failure(conn, counted)
        return sessions.start_session(conn, user, now, SESSION_SECONDS)

    return await in_transaction(svc, start)


async def checked_password(svc: Services, email: str, password: str, guesser: str, now: int
                           ) -> tuple[accounts.User, int] | None:
    """The account if ``password`` is the password of ``email``'s account, with the id of
    the failure counted while it was checked (the caller forgets it, in the
    transaction that acts on the success); None for a wrong pair, which stays counted
    against the e-mail and ``guesser`` (an address, or a signed-in account). Raises
    TooManyRequests during the wait after repeated failures.

    The try is counted before its hash is checked, in a short transaction, so tries sent
    at once wait their turn as they did when the check ran inside the transaction."""

    def count_try(conn: Connection) -> tuple[int, accounts.Credentials | None]:
        wait = sessions.seconds_to_wait(conn, email, guesser, now)
        if wait > 0:
            raise too_many_failures(wait)
        return (sessions.record_login_failure(conn, email, guesser, now),
                accounts.credentials(conn, email))

    counted, found = await in_transaction(svc, count_try)
    user = await off_loop(lambda: accounts.password_matches(found, password, svc.passwords))
    return (user, counted) if user is not None else None


async def log_out(svc: Services, token: str) -> None:
    def work(conn: Connection) -> None:
        sessions.end_session(conn, token)

    await in_transaction(svc, work)


async def session_for(svc: Services, token: str) -> Session | None:
    """The live session a cookie's token opens, or None."""
    now = svc.now()

    def work() -> Session | None:
        with reading(svc.engine) as conn:
            return sessions.live_session(conn, token, now)

    return await off_loop(work)
