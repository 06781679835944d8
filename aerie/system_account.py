"""The system account: where Aerie keeps the stats it records about itself."""

from __future__ import annotations

from sqlalchemy import Connection, Engine

from aerie import accounts
from aerie.accounts import User
from aerie.errors import Conflict
from aerie.keys import random_key
from aerie.settings import Settings
from aerie.transactions import write


def ensure_system_account(conn: Connection, settings: Settings, now: int) -> User:
    """The account ``settings.system_email``, created if missing with a random ezkey and
    no password (nobody can log in as it until an operator runs ``aerie system
    password``).

    Safe when several processes call it at once: the loser of the insert race finds
    the winner's row. Its ezkey is drawn in the same transaction as the row, so the
    e-mail (``create_user``'s default ezkey) is never a valid key.
    """
    found = accounts.user_by_email(conn, settings.system_email)
    if found is not None:
        return found
    try:
        with conn.begin_nested():
            user = accounts.create_user(conn, settings.system_email, None, now)
            return accounts.update_ezkey(conn, user, ezkey=random_key(), enabled=True, now=now)
    except Conflict:
        found = accounts.user_by_email(conn, settings.system_email)
        if found is None:  # the e-mail is some account's ezkey: a setting that makes no sense
            raise
        return found


def system_ezkey(engine: Engine, settings: Settings, now: int) -> str:
    """The system account's ezkey, creating the account if needed (a blocking call)."""
    return write(engine, lambda conn: ensure_system_account(conn, settings, now).ezkey)
