"""Accounts an EZ post makes for an unknown e-mail (``AERIE_EZ_SIGNUP``), as StatHat did.

A post naming an e-mail no account has as its ezkey makes a *pending* account: no
password, e-mail unverified, ``pending_until`` set. It holds the post's data; the
scheduler mails the address an invitation to claim it (choose a password), and
deletes it with its data once ``pending_until`` passes unclaimed.

Abuse limits, all counted in the database (``limited_requests``), so they hold across
API copies: pending accounts per client address a day, pending accounts in all a day,
and stats per pending account. An address that already has an account, or an ezkey
someone has held, is never taken.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, and_, exists, select

from aerie import limited_requests
from aerie.account_tokens import CLAIM
from aerie.accounts import USER_COLUMNS, User, create_user, looks_like_email, user_from_row
from aerie.errors import Conflict
from aerie.limited_requests import Limit
from aerie.schema import account_tokens, users
from aerie.settings import Settings

DAY = 86400
ALL_CLIENTS = "all"  # the subject under which the global limit is counted


@dataclass(frozen=True)
class SignupRules:
    """The limits from the settings (``AERIE_EZ_SIGNUP_*``)."""

    per_address: Limit
    per_day: Limit
    max_stats: int
    keep_seconds: int

    @classmethod
    def from_settings(cls, settings: Settings) -> SignupRules:
        return cls(
            Limit("ez-signup-client", settings.ez_signup_per_address, DAY),
            Limit("ez-signup", settings.ez_signup_per_day, DAY),
            settings.ez_signup_max_stats, settings.ez_signup_days * DAY,
        )


def make_pending_account(
    conn: Connection, email: str, client: str, now: int, rules: SignupRules
) -> User | None:
    """A pending account whose e-mail and ezkey are ``email``; None when ``email`` is not
    an e-mail address, a limit is reached, or the address or key is taken already."""
    if not looks_like_email(email):
        return None
    if not (limited_requests.allowed(conn, rules.per_address, client, now)
            and limited_requests.allowed(conn, rules.per_day, ALL_CLIENTS, now)):
        return None
    try:
        user = create_user(conn, email, None, now, verified=False,
                           pending_until=now + rules.keep_seconds)
    except Conflict:
        return None
    limited_requests.record(conn, rules.per_address.action, client, now)
    limited_requests.record(conn, rules.per_day.action, ALL_CLIENTS, now)
    return user


def uninvited(conn: Connection, now: int, limit: int = 50) -> list[User]:
    """Live pending accounts not yet sent their invitation (a claim link)."""
    invited = exists().where(and_(account_tokens.c.user_id == users.c.id,
                                  account_tokens.c.purpose == CLAIM))
    rows = conn.execute(
        select(*USER_COLUMNS)
        .where(users.c.pending_until > now, ~invited)
        .order_by(users.c.id).limit(limit)
    )
    return [user_from_row(row) for row in rows]


def expired(conn: Connection, now: int, limit: int = 50) -> list[int]:
    """The ids of pending accounts whose time to be claimed has passed."""
    return list(conn.execute(
        select(users.c.id).where(users.c.pending_until <= now).order_by(users.c.id).limit(limit)
    ).scalars())
