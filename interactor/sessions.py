"""Signing up, logging in and out, and finding the session a cookie names.

Log-in failures are counted in the database per e-mail and per address, so every
web copy enforces the same growing wait (``aerie.sessions.Backoff``): a try during the
wait is refused unchecked, and once it has passed the right password works again.
"""

from __future__ import annotations

from sqlalchemy import Connection

from aerie import accounts, sessions
from aerie.db import reading
from aerie.errors import BadRequest, NotAuthenticated, TooManyRequests
from aerie.sessions import Session
from aerie.timeframes import check_timezone
from interactor.account_mail import queue_verification
from interactor.base import Services, in_transaction, off_loop

SESSION_SECONDS = 30 * 86400
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # argon2 would hash more, but nobody types more
WRONG_LOGIN = "that e-mail and password do not match an account"
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


async def sign_up(svc: Services, email: str, password: str, timezone: str) -> Session:
    """Create an account (its ezkey is its e-mail) and open its first session; the
    account is unverified until the link mailed in the same transaction is followed."""
    email = check_email(email)
    check_password(password)
    check_timezone(timezone)
    now = svc.now()

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

    def check(conn: Connection) -> accounts.User | None:
        wait = sessions.seconds_to_wait(conn, email, address, now)
        if wait > 0:
            raise too_many_failures(wait)
        user = accounts.check_password(conn, email, password, svc.passwords)
        if user is None:
            sessions.record_login_failure(conn, email, address, now)
        return user

    user = await in_transaction(svc, check)
    if user is None:  # raised after the commit, so the failure stays counted
        raise NotAuthenticated(WRONG_LOGIN)
    return await in_transaction(
        svc, lambda conn: sessions.start_session(conn, user, now, SESSION_SECONDS))


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
