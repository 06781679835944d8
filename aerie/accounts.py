"""Users and their access tokens: the SQL for accounts lives here."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from aerie.errors import Conflict
from aerie.keys import hash_token, random_key
from aerie.passwords import PasswordHash, Passwords
from aerie.schema import access_tokens, account_tokens, ezkey_claims, users

# An address as people type it, and nothing a mail header would read otherwise: no
# display name, comment, angle bracket, quote or list separator (``x<postmaster>@a.b``
# and ``(c)v@a.b`` passed a looser rule and were sent to other local parts).
_PLAIN = r"[^\s@()<>\[\]:;,\\\"]"
_EMAIL = re.compile(rf"^{_PLAIN}+@{_PLAIN}+\.{_PLAIN}+$")
MAX_EMAIL = 255


def looks_like_email(text: str) -> bool:
    """``someone@host.domain``, without spaces or the characters of mail headers' syntax,
    at most ``MAX_EMAIL`` characters."""
    return len(text) <= MAX_EMAIL and _EMAIL.match(text) is not None


def _same_email(email: str) -> ColumnElement[bool]:
    """E-mail addresses compare without case: ``Audit@Example.com`` is
    ``audit@example.com``'s (a lookup by it scans; an exact match is tried first)."""
    return func.lower(users.c.email) == email.strip().lower()


def _email_taken(conn: Connection, email: str, but: int | None = None) -> bool:
    query = select(users.c.id).where(_same_email(email))
    if but is not None:
        query = query.where(users.c.id != but)
    return conn.execute(query.limit(1)).first() is not None


@dataclass(frozen=True)
class User:
    id: int
    email: str
    ezkey: str
    ez_enabled: bool
    ukey: str
    timezone: str
    created_at: int
    # Whether the owner has proved the e-mail is theirs; no alert mail goes out until then.
    verified: bool = True
    # Set only on an account an EZ post made (AERIE_EZ_SIGNUP): when it expires unclaimed.
    pending_until: int | None = None


@dataclass(frozen=True)
class NewToken:
    """A freshly created token: the only moment its secret is known."""

    id: int
    token: str
    label: str


def user_from_row(row: object) -> User:
    m = row._mapping  # type: ignore[attr-defined]
    return User(
        m["id"], m["email"], m["ezkey"], bool(m["ez_enabled"]), m["ukey"], m["timezone"],
        m["created_at"], m["email_verified_at"] is not None, m["pending_until"],
    )


USER_COLUMNS = (
    users.c.id, users.c.email, users.c.ezkey, users.c.ez_enabled, users.c.ukey,
    users.c.timezone, users.c.created_at, users.c.email_verified_at, users.c.pending_until,
)


def create_user(
    conn: Connection, email: str, password: PasswordHash | None, now: int, timezone: str = "UTC",
    *, verified: bool = True, pending_until: int | None = None,
) -> User:
    """Create an account whose ezkey is its e-mail; raises Conflict if either is taken
    (an ezkey another account gave up counts as taken).

    An operator's account is taken as verified; sign-up passes ``verified=False`` (its
    owner must confirm the e-mail), and EZ sign-up a ``pending_until`` as well."""
    email = email.strip()
    if _email_taken(conn, email):
        raise Conflict(f"an account with e-mail or ezkey {email!r} already exists")
    ukey = random_key()
    password_hash = password.encoded if password else None
    try:
        with conn.begin_nested():
            result = conn.execute(
                insert(users).values(
                    email=email, ezkey=email, ez_enabled=True, ukey=ukey, timezone=timezone,
                    created_at=now, password_hash=password_hash,
                    email_verified_at=now if verified else None, pending_until=pending_until,
                )
            )
            user_id = result.inserted_primary_key[0]  # type: ignore[index]
            conn.execute(insert(ezkey_claims).values(ezkey=email, user_id=user_id, claimed_at=now))
    except IntegrityError:
        raise Conflict(f"an account with e-mail or ezkey {email!r} already exists") from None
    return User(user_id, email, email, True, ukey, timezone, now, verified, pending_until)


def user_by_email(conn: Connection, email: str) -> User | None:
    """The account with this e-mail, in any case (``_same_email``)."""
    row = _row_by_email(conn, select(*USER_COLUMNS), email)
    return user_from_row(row) if row else None


def _row_by_email(conn: Connection, query: Select[Any], email: str) -> Row[Any] | None:
    """The row of ``query`` for this exact e-mail, else the oldest for it in any case."""
    exact = conn.execute(query.where(users.c.email == email.strip())).first()
    if exact is not None:
        return exact
    return conn.execute(query.where(_same_email(email)).order_by(users.c.id).limit(1)).first()


def user_by_ezkey(conn: Connection, ezkey: str) -> User | None:
    row = conn.execute(select(*USER_COLUMNS).where(users.c.ezkey == ezkey)).first()
    return user_from_row(row) if row else None


def create_token(conn: Connection, user_id: int, label: str, now: int) -> NewToken:
    token = random_key(32)
    result = conn.execute(
        insert(access_tokens).values(
            user_id=user_id, token_hash=hash_token(token), prefix=token[:6], label=label,
            created_at=now,
        )
    )
    return NewToken(result.inserted_primary_key[0], token, label)  # type: ignore[index]


def user_by_token(conn: Connection, token: str) -> User | None:
    """The owner of a live (unrevoked) access token, or None."""
    row = conn.execute(
        select(*USER_COLUMNS)
        .join(access_tokens, access_tokens.c.user_id == users.c.id)
        .where(access_tokens.c.token_hash == hash_token(token))
        .where(access_tokens.c.revoked_at.is_(None))
    ).first()
    return user_from_row(row) if row else None


def revoke_token(conn: Connection, user_id: int, token_id: int, now: int) -> bool:
    result = conn.execute(
        update(access_tokens)
        .where(access_tokens.c.id == token_id, access_tokens.c.user_id == user_id)
        .where(access_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount == 1


@dataclass(frozen=True)
class TokenInfo:
    """What a token list shows: never the secret, only its first characters."""

    id: int
    prefix: str
    label: str
    created_at: int
    revoked_at: int | None


def user_by_id(conn: Connection, user_id: int) -> User | None:
    row = conn.execute(select(*USER_COLUMNS).where(users.c.id == user_id)).first()
    return user_from_row(row) if row else None


@dataclass(frozen=True)
class Credentials:
    """An account and its stored password hash (None: it has no password)."""

    user: User
    password_hash: str | None


def credentials(conn: Connection, email: str) -> Credentials | None:
    """What checking a password for ``email`` needs, read without checking it: the hash is
    checked (``password_matches``) outside the transaction, as argon2 takes ~0.1 s."""
    row = _row_by_email(conn, select(*USER_COLUMNS, users.c.password_hash), email)
    return Credentials(user_from_row(row), row.password_hash) if row is not None else None


def password_matches(found: Credentials | None, password: str,
                     passwords: Passwords) -> User | None:
    """The account if ``password`` is its password, else None; argon2 runs either way, so
    an unknown e-mail takes as long as a wrong password."""
    stored = found.password_hash if found is not None else None
    matched = passwords.matches(stored, password)
    return found.user if matched and found is not None else None


def set_password(conn: Connection, user_id: int, password: PasswordHash) -> None:
    conn.execute(
        update(users).where(users.c.id == user_id).values(password_hash=password.encoded)
    )


def _update_unique(conn: Connection, user: User, taken: str, **values: object) -> User:
    """Change the user's columns (named as ``User``'s fields); raises Conflict(``taken``)
    if a unique one clashes."""
    try:
        with conn.begin_nested():
            conn.execute(update(users).where(users.c.id == user.id).values(**values))
    except IntegrityError:
        raise Conflict(taken) from None
    return replace(user, **values)  # type: ignore[arg-type]  # column names are User's fields


def update_profile(conn: Connection, user: User, *, email: str, timezone: str) -> User:
    """Change e-mail and time zone; raises Conflict if the e-mail belongs to another account.
    A new e-mail is unverified until its owner follows the link mailed to it."""
    taken = f"another account already uses {email!r}"
    if email != user.email and _email_taken(conn, email, but=user.id):
        raise Conflict(taken)
    changed = _update_unique(conn, user, taken, email=email, timezone=timezone)
    if email != user.email:
        conn.execute(update(users).where(users.c.id == user.id).values(email_verified_at=None))
        changed = replace(changed, verified=False)
    return changed


def mark_verified(conn: Connection, user_id: int, email: str, now: int) -> bool:
    """Record that the owner proved ``email`` is theirs; False if the account's e-mail
    is no longer ``email`` (a link mailed to an address given up proves nothing)."""
    return conn.execute(
        update(users).where(users.c.id == user_id, users.c.email == email)
        .values(email_verified_at=func.coalesce(users.c.email_verified_at, now))
    ).rowcount == 1


def confirmed_by_used_link(conn: Connection, token: str, purpose: str) -> str | None:
    """The address a used ``purpose`` link was mailed to, if the account still has it
    and it is confirmed (the link, followed again, has nothing left to do); else None."""
    row = conn.execute(
        select(users.c.email)
        .join(account_tokens, account_tokens.c.user_id == users.c.id)
        .where(account_tokens.c.token_hash == hash_token(token),
               account_tokens.c.purpose == purpose, account_tokens.c.used_at.is_not(None),
               account_tokens.c.email == users.c.email, users.c.email_verified_at.is_not(None))
    ).first()
    return row.email if row else None


def claim_account(conn: Connection, user_id: int, password: PasswordHash) -> None:
    """Set the password; an account EZ sign-up made is pending no more (it stays)."""
    conn.execute(
        update(users).where(users.c.id == user_id)
        .values(password_hash=password.encoded, pending_until=None)
    )


def update_ezkey(
    conn: Connection, user: User, *, ezkey: str, enabled: bool, now: int
) -> User:
    """Change the EZ key and whether EZ posting is on; raises Conflict if the key is
    another account's, live or given up (its clients may still post with it).

    The old key stays claimed by this account, which may take it back later.
    """
    taken = f"the ezkey {ezkey!r} is taken; choose another"
    if ezkey != user.ezkey:
        holder = conn.execute(
            select(ezkey_claims.c.user_id).where(ezkey_claims.c.ezkey == ezkey)
        ).scalar_one_or_none()
        if holder is not None and holder != user.id:
            raise Conflict(taken)
        if holder is None:
            try:  # the key's primary key settles a race between two accounts claiming it
                with conn.begin_nested():
                    conn.execute(
                        insert(ezkey_claims).values(ezkey=ezkey, user_id=user.id, claimed_at=now)
                    )
            except IntegrityError:
                raise Conflict(taken) from None
    return _update_unique(conn, user, taken, ezkey=ezkey, ez_enabled=enabled)


def tokens_of_user(conn: Connection, user_id: int) -> list[TokenInfo]:
    """The user's tokens, live ones first, newest first."""
    rows = conn.execute(
        select(
            access_tokens.c.id, access_tokens.c.prefix, access_tokens.c.label,
            access_tokens.c.created_at, access_tokens.c.revoked_at,
        )
        .where(access_tokens.c.user_id == user_id)
        .order_by(access_tokens.c.revoked_at.is_not(None), access_tokens.c.id.desc())
    )
    return [TokenInfo(*row) for row in rows]
