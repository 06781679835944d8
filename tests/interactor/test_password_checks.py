"""Passwords are checked outside every transaction: on SQLite a write transaction holds
the database's one write lock, and a flood of log-ins checked inside one kept every
other account's writes (posts included) waiting for argon2."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, cast

import pytest
from sqlalchemy import Engine, func, select

from aerie import accounts
from aerie.errors import NotAuthenticated
from aerie.passwords import Passwords
from aerie.schema import login_failures
from interactor.base import Services
from interactor.sessions import log_in

RIGHT = "correct horse battery"


class HeldPasswords(Passwords):
    """Checks a password only once the test lets it; meanwhile the test writes."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_kib=1024)
        self.checking = threading.Event()
        self.go_on = threading.Event()

    def matches(self, stored: str | None, password: str) -> bool:
        self.checking.set()
        assert self.go_on.wait(30), "the test never let the check go on"
        return super().matches(stored, password)


def _services(engine: Engine, passwords: Passwords) -> Services:
    return Services(engine, cast(Any, None), cast(Any, None), passwords=passwords)


def _failures(engine: Engine, email: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(login_failures)
                                .where(login_failures.c.email == email)).scalar_one())


@pytest.mark.parametrize("password", ["wrong password", RIGHT])
def test_another_account_writes_while_a_password_is_being_checked(
    engine: Engine, password: str
) -> None:
    passwords = HeldPasswords()
    email = f"checked-{time.time_ns()}@example.com"
    with engine.begin() as conn:
        accounts.create_user(conn, email, passwords.hash(RIGHT), int(time.time()))

    def another_accounts_write() -> None:
        with engine.begin() as conn:  # on SQLite: BEGIN IMMEDIATE, the write lock
            accounts.create_user(conn, f"other-{time.time_ns()}@example.com", None,
                                 int(time.time()))

    async def run() -> object:
        login = asyncio.ensure_future(log_in(_services(engine, passwords), email, password,
                                             "203.0.113.9"))
        assert await asyncio.to_thread(passwords.checking.wait, 30)
        try:  # would wait for the lock until it gave up, had the check held it
            await asyncio.to_thread(another_accounts_write)
        finally:
            passwords.go_on.set()
        return await asyncio.gather(login, return_exceptions=True)

    (answer,) = cast(list[object], asyncio.run(run()))
    if password == RIGHT:
        assert not isinstance(answer, BaseException), answer
        assert _failures(engine, email) == 0  # the try counted during the check is forgotten
    else:
        assert isinstance(answer, NotAuthenticated)
        assert _failures(engine, email) == 1
