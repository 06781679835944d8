"""Account use cases an operator runs from a shell (``aerie user create``, ``aerie system
password``), under the same e-mail and password rules as the web's sign-up."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from aerie import accounts
from aerie.accounts import NewToken, User
from aerie.passwords import Passwords
from aerie.settings import Settings
from aerie.system_account import ensure_system_account
from aerie.transactions import write
from interactor.sessions import check_email, check_password

FIRST_TOKEN_LABEL = "created by aerie user create"


@dataclass(frozen=True)
class CreatedAccount:
    user: User
    token: NewToken  # the first access token, whose secret is shown only now


def create_account(engine: Engine, passwords: Passwords, email: str, password: str | None,
                   now: int) -> CreatedAccount:
    """An account (its ezkey is its e-mail) with a first access token. ``password`` None
    leaves it without one (no web log-in). BadRequest for an e-mail or password the web's
    sign-up would refuse, Conflict for an e-mail taken; nothing is written then.
    Blocking (argon2, SQL)."""
    email = check_email(email)
    hashed = passwords.hash(check_password(password)) if password is not None else None

    def create(conn: Connection) -> CreatedAccount:
        user = accounts.create_user(conn, email, hashed, now)
        return CreatedAccount(user, accounts.create_token(conn, user.id, FIRST_TOKEN_LABEL, now))

    return write(engine, create)


def set_system_password(engine: Engine, settings: Settings, passwords: Passwords,
                        password: str, now: int) -> User:
    """Give the system account (created if missing) this password, so an operator can log
    in to its health dashboard; BadRequest for a password sign-up would refuse.
    Blocking (argon2, SQL)."""
    hashed = passwords.hash(check_password(password))

    def set_password(conn: Connection) -> User:
        user = ensure_system_account(conn, settings, now)
        accounts.set_password(conn, user.id, hashed)
        return user

    return write(engine, set_password)
