"""One-use links mailed to an account: the SQL for them lives here.

A link carries a random token; only its SHA-256 is stored, so a database leak opens
nothing, and the lookup by hash compares no secret byte by byte. A token works once,
before its expiry, and only while the account's e-mail is still the address it was
mailed to: a link in an old mailbox is dead once the e-mail has changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, insert, select, update

from aerie.keys import hash_token, random_key
from aerie.schema import account_tokens, users

RESET = "reset"  # choose a new password
VERIFY = "verify"  # this e-mail is mine
CLAIM = "claim"  # an account EZ sign-up made: choose its first password

# The outbox kind of every mail carrying one of these links (the dev mail page shows it
# to a visitor at the machine, who may not be logged in).
ACCOUNT_MAIL = "account"

# How long each kind of link works.
LIFETIMES = {RESET: 3600, VERIFY: 7 * 86400, CLAIM: 30 * 86400}


@dataclass(frozen=True)
class Redeemed:
    """A token just used: whose it was, what for, and the address it went to."""

    user_id: int
    purpose: str
    email: str


def issue(conn: Connection, user_id: int, email: str, purpose: str, now: int,
          expires_at: int | None = None) -> str:
    """A new token for ``purpose``, mailed to ``email``; the secret is returned only here.
    It expires after the purpose's lifetime, or at ``expires_at`` if given."""
    token = random_key(32)
    conn.execute(insert(account_tokens).values(
        token_hash=hash_token(token), user_id=user_id, purpose=purpose, email=email,
        created_at=now, expires_at=expires_at or now + LIFETIMES[purpose]))
    return token


def _live(token: str, purposes: tuple[str, ...], now: int) -> object:
    return and_(
        account_tokens.c.token_hash == hash_token(token),
        account_tokens.c.purpose.in_(purposes),
        account_tokens.c.used_at.is_(None),
        account_tokens.c.expires_at > now,
        users.c.email == account_tokens.c.email,
    )


def peek(conn: Connection, token: str, purposes: tuple[str, ...], now: int) -> Redeemed | None:
    """The token's details if it would work now, without using it (for the form it opens)."""
    row = conn.execute(
        select(account_tokens.c.user_id, account_tokens.c.purpose, account_tokens.c.email)
        .join(users, users.c.id == account_tokens.c.user_id)
        .where(_live(token, purposes, now))  # type: ignore[arg-type]
    ).first()
    return Redeemed(row.user_id, row.purpose, row.email) if row else None


def redeem(conn: Connection, token: str, purposes: tuple[str, ...], now: int) -> Redeemed | None:
    """Use the token once: its details, or None if it is unknown, used, expired, for
    another purpose or mailed to an address the account no longer has. Of two
    concurrent uses exactly one wins (a conditional update). A used token also
    ends its account's other live tokens of the same purpose."""
    found = peek(conn, token, purposes, now)
    if found is None:
        return None
    used = conn.execute(
        update(account_tokens)
        .where(account_tokens.c.token_hash == hash_token(token), account_tokens.c.used_at.is_(None))
        .values(used_at=now)
    ).rowcount
    if used != 1:
        return None
    conn.execute(
        update(account_tokens)
        .where(account_tokens.c.user_id == found.user_id,
               account_tokens.c.purpose == found.purpose, account_tokens.c.used_at.is_(None))
        .values(used_at=now)
    )
    return found


def has_token(conn: Connection, user_id: int, purpose: str) -> bool:
    """Whether a token for ``purpose`` was ever issued to the account (used or not)."""
    return conn.execute(
        select(account_tokens.c.id)
        .where(account_tokens.c.user_id == user_id, account_tokens.c.purpose == purpose)
        .limit(1)
    ).first() is not None


def forget_dead(conn: Connection, now: int) -> int:
    """Drop tokens expired a day or more ago, used or not (run with the hourly prune);
    the rows deleted. A day's grace keeps "already used" answers for a while."""
    return conn.execute(
        delete(account_tokens).where(account_tokens.c.expires_at <= now - 86400)
    ).rowcount
