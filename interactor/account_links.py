"""Links mailed to an account: forgotten passwords, e-mail verification, claiming.

A reset is asked for in two steps. ``note_reset_request`` runs before the answer: it
checks the address's form and the limits (per e-mail and per client address,
counted whether or not the e-mail has an account) and records the request.
``mail_reset_link`` runs after the answer has gone (a background task), so the answer
is the same page, after the same work, whether or not an account exists; only the
mail tells, and it goes to the address's owner.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from aerie import account_tokens, accounts, limited_requests, outbox, sessions
from aerie.account_tokens import CLAIM, RESET, VERIFY
from aerie.db import reading
from aerie.errors import BadRequest, TooManyRequests
from aerie.limited_requests import Limit
from aerie.sessions import Session
from interactor.account_mail import MAIL_KIND, account_mail, queue_verification
from interactor.base import Services, in_transaction, off_loop
from interactor.sessions import SESSION_SECONDS, check_email, check_password

# Reset mail: a few per e-mail an hour (nobody can flood a mailbox), more per client
# address (a shared office address still works), and one user's resends of the
# verification mail.
RESET_PER_EMAIL = Limit("reset-email", 3, 3600)
RESET_PER_CLIENT = Limit("reset-client", 10, 3600)
VERIFY_PER_USER = Limit("verify-user", 3, 3600)
TOO_MANY_RESETS = "too many password reset requests for this e-mail or from this address; " \
    "try again in an hour"
TOO_MANY_VERIFY = "a confirmation link was sent three times this hour; check your spam " \
    "folder, or try again in an hour"
DEAD_LINK = "this link has expired or was already used; ask for a new one"


class DeadLink(BadRequest):
    """A mailed link that no longer works: used, expired, or to an address given up."""

    def __init__(self) -> None:
        super().__init__(DEAD_LINK)


@dataclass(frozen=True)
class ResetForm:
    """What the choose-a-password page shows: the link's token (posted back) and its
    account's e-mail; ``claim`` when it is an EZ-made account's first password."""

    token: str
    email: str
    claim: bool


async def note_reset_request(svc: Services, email: str, client: str) -> str:
    """Check and count a reset request; the e-mail as checked. BadRequest for an address
    that is not one, TooManyRequests past a limit (either says nothing of accounts)."""
    email = check_email(email)
    now = svc.now()

    def work(conn: Connection) -> bool:
        within = (limited_requests.allowed(conn, RESET_PER_EMAIL, email.lower(), now)
                  and limited_requests.allowed(conn, RESET_PER_CLIENT, client, now))
        limited_requests.record(conn, RESET_PER_EMAIL.action, email.lower(), now)
        limited_requests.record(conn, RESET_PER_CLIENT.action, client, now)
        return within

    if not await in_transaction(svc, work):
        raise TooManyRequests(TOO_MANY_RESETS)
    return email


async def mail_reset_link(svc: Services, email: str) -> None:
    """Queue a reset link to ``email`` if an account has it; nothing otherwise."""
    now = svc.now()
    composer = account_mail(svc)

    def work(conn: Connection) -> None:
        user = accounts.user_by_email(conn, email)
        if user is None:
            return
        token = account_tokens.issue(conn, user.id, user.email, RESET, now)
        outbox.enqueue(conn, composer.password_reset(user.email, token), kind=MAIL_KIND,
                       user_id=user.id, now=now)

    await in_transaction(svc, work)


async def reset_form(svc: Services, token: str) -> ResetForm:
    """The form a reset or claim link opens; DeadLink if the link no longer works."""
    now = svc.now()

    def work() -> account_tokens.Redeemed | None:
        with reading(svc.engine) as conn:
            return account_tokens.peek(conn, token, (RESET, CLAIM), now)

    found = await off_loop(work)
    if found is None:
        raise DeadLink()
    return ResetForm(token, found.email, found.purpose == CLAIM)


async def reset_password(svc: Services, token: str, password: str) -> Session:
    """Use a reset or claim link: set the password, take the e-mail as verified (the link
    reached it), end every session and open a new one. DeadLink for a dead link, BadRequest
    for a password too short or long; nothing changes then."""
    check_password(password)
    now = svc.now()

    hashed = await off_loop(lambda: svc.passwords.hash(password))

    def work(conn: Connection) -> Session | None:
        found = account_tokens.redeem(conn, token, (RESET, CLAIM), now)
        if found is None:
            return None
        accounts.claim_account(conn, found.user_id, hashed)
        accounts.mark_verified(conn, found.user_id, found.email, now)
        sessions.end_all_sessions(conn, found.user_id)
        user = accounts.user_by_id(conn, found.user_id)
        assert user is not None  # the token's row would have gone with it
        return sessions.start_session(conn, user, now, SESSION_SECONDS)

    session = await in_transaction(svc, work)
    if session is None:
        raise DeadLink()
    return session


@dataclass(frozen=True)
class Verified:
    """The address a verification link confirmed; ``already`` when the link had been used
    and the address is still the account's, confirmed (a second click, a reload)."""

    email: str
    already: bool = False


async def verify_email(svc: Services, token: str) -> Verified:
    """Use a verification link; the address it confirmed. DeadLink if the link is dead
    (expired, or the account's e-mail has changed since, or used and not confirmed)."""
    now = svc.now()

    def work(conn: Connection) -> Verified | None:
        found = account_tokens.redeem(conn, token, (VERIFY,), now)
        if found is None:
            confirmed = accounts.confirmed_by_used_link(conn, token, VERIFY)
            return Verified(confirmed, already=True) if confirmed else None
        if not accounts.mark_verified(conn, found.user_id, found.email, now):
            return None
        return Verified(found.email)

    verified = await in_transaction(svc, work)
    if verified is None:
        raise DeadLink()
    return verified


async def resend_verification(svc: Services, session: Session) -> None:
    """Mail the session's user a new verification link (a few an hour at most)."""
    user, now = session.user, svc.now()

    def work(conn: Connection) -> bool:
        subject = str(user.id)
        if not limited_requests.allowed(conn, VERIFY_PER_USER, subject, now):
            return False
        limited_requests.record(conn, VERIFY_PER_USER.action, subject, now)
        current = accounts.user_by_id(conn, user.id)
        if current is not None and not current.verified:
            queue_verification(svc, conn, user.id, current.email, now)
        return True

    if not await in_transaction(svc, work):
        raise TooManyRequests(TOO_MANY_VERIFY)
