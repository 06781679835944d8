"""Users and their access tokens: the SQL for accounts lives here."""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from aerie.errors import Conflict
from aerie.keys import hash_token, random_key
from aerie.schema import access_tokens, users

_hasher = PasswordHasher()


@dataclass(frozen=True)
class User:
    id: int
    email: str
    ezkey: str
    ez_enabled: bool
    ukey: str
    timezone: str
    created_at: int


@dataclass(frozen=True)
class NewToken:
    """A freshly created token: the only moment its secret is known."""

    id: int
    token: str
    label: str


def _user(row: object) -> User:
    m = row._mapping  # type: ignore[attr-defined]
    return User(
        m["id"], m["email"], m["ezkey"], bool(m["ez_enabled"]), m["ukey"], m["timezone"],
        m["created_at"],
    )


_USER_COLUMNS = (
    users.c.id, users.c.email, users.c.ezkey, users.c.ez_enabled, users.c.ukey,
    users.c.timezone, users.c.created_at,
)


def create_user(conn: Connection, email: str, password: str | None, now: int) -> User:
    """Create an account whose ezkey is its e-mail; raises Conflict if either is taken."""
    email = email.strip()
    ukey = random_key()
    password_hash = _hasher.hash(password) if password else None
    try:
        with conn.begin_nested():
            result = conn.execute(
                insert(users).values(
                    email=email, ezkey=email, ez_enabled=True, ukey=ukey, timezone="UTC",
                    created_at=now, password_hash=password_hash,
                )
            )
    except IntegrityError:
        raise Conflict(f"an account with e-mail or ezkey {email!r} already exists") from None
    user_id = result.inserted_primary_key[0]  # type: ignore[index]
    return User(user_id, email, email, True, ukey, "UTC", now)


def user_by_email(conn: Connection, email: str) -> User | None:
    row = conn.execute(select(*_USER_COLUMNS).where(users.c.email == email)).first()
    return _user(row) if row else None


def user_by_ezkey(conn: Connection, ezkey: str) -> User | None:
    row = conn.execute(select(*_USER_COLUMNS).where(users.c.ezkey == ezkey)).first()
    return _user(row) if row else None


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
        select(*_USER_COLUMNS)
        .join(access_tokens, access_tokens.c.user_id == users.c.id)
        .where(access_tokens.c.token_hash == hash_token(token))
        .where(access_tokens.c.revoked_at.is_(None))
    ).first()
    return _user(row) if row else None


def revoke_token(conn: Connection, user_id: int, token_id: int, now: int) -> bool:
    result = conn.execute(
        update(access_tokens)
        .where(access_tokens.c.id == token_id, access_tokens.c.user_id == user_id)
        .where(access_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount == 1
