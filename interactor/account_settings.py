"""The settings page's use cases: profile, EZ key, password, access tokens, deletion.

Each use case acts for the session's own user only, validates before it writes,
and raises :mod:`aerie.errors`. A token id that is not one of the user's live
tokens answers exactly as one that does not exist, so ids reveal nothing about
other accounts.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from zoneinfo import available_timezones

from sqlalchemy import Connection

from aerie import accounts, sessions
from aerie.account_removal import remove_account
from aerie.accounts import NewToken, TokenInfo, User
from aerie.db import reading
from aerie.errors import BadRequest, NotAuthenticated, NotFound
from aerie.sessions import Session
from aerie.text_rules import check_text
from aerie.timeframes import check_timezone
from interactor.account_mail import queue_verification
from interactor.base import Services, in_transaction, off_loop
from interactor.sessions import check_email, check_password, checked_password

MAX_EZKEY = 255
MAX_LABEL = 100
WRONG_PASSWORD = "your current password is not right; nothing was changed"
WRONG_PASSWORD_FOR_EMAIL = (
    "to change your e-mail, type your current password; the one given is not right, "
    "so nothing was changed"
)
WRONG_PASSWORD_FOR_DELETE = "your password is not right; nothing was deleted"
MISSING_PASSWORD = "to change your e-mail, type your current password too; nothing was changed"

# Every zone a person can pick, for the time-zone menus. "localtime" is left out: it
# names whatever zone the server's own clock is set to, which means nothing to a visitor.
TIME_ZONES: tuple[str, ...] = tuple(sorted(available_timezones() - {"localtime"}))


@dataclass(frozen=True)
class SettingsPage:
    """Everything the settings page shows, as plain data.

    ``now`` and ``api_url`` are filled in by the caller (the page's clock and the
    ingestion API's public address); ``new_token`` is set only in the answer that
    shows a just-created token, the one moment its secret is known; ``label`` is a
    token label being typed, kept when the form comes back with a mistake.
    """

    email: str
    timezone: str
    ezkey: str
    ez_enabled: bool
    ukey: str
    tokens: tuple[TokenInfo, ...]
    verified: bool = True
    now: int = 0
    api_url: str = ""
    new_token: NewToken | None = None
    label: str = ""
    time_zones: tuple[str, ...] = field(default=TIME_ZONES, repr=False)

    def showing_new_token(self, token_id: int, secret: str) -> SettingsPage:
        """The page showing ``secret`` as the new token ``token_id``, if that is one of
        the account's live tokens and the secret starts as it does; else unchanged."""
        for token in self.tokens:
            if token.id == token_id and token.revoked_at is None and secret[:6] == token.prefix:
                return replace(self, new_token=NewToken(token.id, secret, token.label))
        return self


async def settings_page(svc: Services, user_id: int) -> SettingsPage:
    """The user's settings and tokens, read at the same time; NotFound if the account is gone."""

    def load_user() -> User | None:
        with reading(svc.engine) as conn:
            return accounts.user_by_id(conn, user_id)

    def load_tokens() -> list[TokenInfo]:
        with reading(svc.engine) as conn:
            return accounts.tokens_of_user(conn, user_id)

    user, tokens = await asyncio.gather(off_loop(load_user), off_loop(load_tokens))
    if user is None:
        raise NotFound("this account no longer exists")
    return SettingsPage(
        user.email, user.timezone, user.ezkey, user.ez_enabled, user.ukey, tuple(tokens),
        user.verified,
    )


async def save_profile(
    svc: Services, session: Session, email: str, timezone: str, current: str
) -> None:
    """Change e-mail and time zone; Conflict if the e-mail is another account's.

    A new e-mail needs the current password (NotAuthenticated, nothing changed, when it
    is wrong or missing), as a new password does: the e-mail is where a reset would go.
    It also logs out every other browser: whoever changed it may be the only one who
    should still be holding the account. The new e-mail is unverified until the link
    mailed to it (in the same transaction) is followed.
    """
    email = check_email(email)
    check_timezone(timezone)
    user = session.user
    now = svc.now()

    counted = None
    if email != user.email:
        counted = await password_confirmed(svc, user, current, now)
        if counted is None:
            raise NotAuthenticated(WRONG_PASSWORD_FOR_EMAIL if current else MISSING_PASSWORD)

    def work(conn: Connection) -> None:
        accounts.update_profile(conn, user, email=email, timezone=timezone)
        if counted is not None:
            sessions.forget_login_failure(conn, counted)
            sessions.end_other_sessions(conn, user.id, session.token)
            queue_verification(svc, conn, user.id, email, now)

    await in_transaction(svc, work)


def check_ezkey(ezkey: str, user: User) -> str:
    """1 to ``MAX_EZKEY`` characters without spaces at either end (they would never match);
    a new key with an @ must be the account's own e-mail, so nobody can take another
    person's address, where that person's clients would post. (The key in use is
    kept as it is, even if the e-mail has changed since.)"""
    if not ezkey:
        raise BadRequest("choose an ezkey: any text, such as your e-mail or a random word")
    if len(ezkey) > MAX_EZKEY:
        raise BadRequest(f"an ezkey may have at most {MAX_EZKEY} characters")
    if ezkey != ezkey.strip():
        raise BadRequest("an ezkey may not begin or end with spaces, tabs or line breaks")
    if "@" in ezkey and ezkey not in (user.email, user.ezkey):
        raise BadRequest(
            f"an ezkey with an @ must be your own e-mail address ({user.email}); "
            "choose that, or a key without an @"
        )
    return ezkey


async def save_ezkey(svc: Services, session: Session, ezkey: str, enabled: bool) -> None:
    """Change the EZ key and whether EZ posts are accepted; Conflict if the key is
    another account's, now or before (see ``accounts.update_ezkey``).

    The ingestion API caches keys, so the change reaches it within its cache time.
    """
    check_ezkey(ezkey, session.user)
    now = svc.now()

    def work(conn: Connection) -> None:
        accounts.update_ezkey(conn, session.user, ezkey=ezkey, enabled=enabled, now=now)

    await in_transaction(svc, work)


async def password_confirmed(svc: Services, user: User, current: str, now: int) -> int | None:
    """If ``current`` is the user's password, the id of the try counted while it was
    checked (to forget in the transaction that acts on it); else None, and the try stays
    counted as a failed log-in: TooManyRequests is raised during the wait after
    repeated ones, so a borrowed session cannot be used to guess the password."""
    guesser = f"user:{user.id}"  # counted apart from log-in addresses
    checked = await checked_password(svc, user.email, current, guesser, now)
    return checked[1] if checked is not None else None


async def change_password(svc: Services, session: Session, current: str, new: str) -> None:
    """Set a new password after checking the current one, then log out every other browser.

    Raises NotAuthenticated (nothing changed) when ``current`` is wrong, BadRequest
    when ``new`` is too short or too long, and TooManyRequests during the wait after
    repeated wrong guesses.
    """
    check_password(new)
    user = session.user
    now = svc.now()

    counted = await password_confirmed(svc, user, current, now)
    if counted is None:
        raise NotAuthenticated(WRONG_PASSWORD)
    hashed = await off_loop(lambda: svc.passwords.hash(new))

    def work(conn: Connection) -> None:
        sessions.forget_login_failure(conn, counted)
        accounts.set_password(conn, user.id, hashed)
        sessions.end_other_sessions(conn, user.id, session.token)

    await in_transaction(svc, work)


def check_label(label: str) -> str:
    """The label without surrounding spaces; it only helps people tell their tokens apart."""
    label = check_text("token label", label).strip()
    if len(label) > MAX_LABEL:
        raise BadRequest(f"a token label may have at most {MAX_LABEL} characters")
    return label


async def create_token(svc: Services, session: Session, label: str) -> NewToken:
    """A new access token for the export API; its secret is in the answer and nowhere else."""
    label = check_label(label)
    now = svc.now()

    def work(conn: Connection) -> NewToken:
        return accounts.create_token(conn, session.user.id, label, now)

    return await in_transaction(svc, work)


async def revoke_token(svc: Services, session: Session, token_id: int) -> None:
    """Revoke one of the user's live tokens; NotFound for any other id, whoever owns it."""
    now = svc.now()

    def work(conn: Connection) -> bool:
        return accounts.revoke_token(conn, session.user.id, token_id, now)

    if not await in_transaction(svc, work):
        raise NotFound(f"you have no live access token with id {token_id}")


async def delete_account(svc: Services, session: Session, current: str) -> None:
    """Delete the account, all its data, keys and shares, and every session (every browser
    is signed out). NotAuthenticated (nothing deleted) when ``current`` is not the
    password; TooManyRequests during the wait after repeated wrong guesses."""
    user = session.user
    now = svc.now()

    counted = await password_confirmed(svc, user, current, now)
    if counted is None:
        raise NotAuthenticated(WRONG_PASSWORD_FOR_DELETE)

    def work(conn: Connection) -> None:
        sessions.forget_login_failure(conn, counted)
        remove_account(conn, user.id)

    await in_transaction(svc, work)
