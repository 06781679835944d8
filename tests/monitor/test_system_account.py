"""The system account: created once, with a random ezkey and no password."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine, select

from aerie.accounts import credentials, password_matches
from aerie.db import make_engine
from aerie.schema import users
from aerie.settings import Settings
from aerie.system_account import ensure_system_account, system_ezkey
from tests.conftest import PASSWORDS


def test_system_account_is_created_once_with_a_random_ezkey_and_no_password(
    settings: Settings, engine: Engine, system_email: str
) -> None:
    settings = settings.model_copy(update={"system_email": system_email})
    with engine.begin() as conn:
        first = ensure_system_account(conn, settings, int(time.time()))
    with engine.begin() as conn:
        again = ensure_system_account(conn, settings, int(time.time()))
        stored_hash = conn.execute(
            select(users.c.password_hash).where(users.c.id == first.id)).scalar_one()
        assert password_matches(credentials(conn, system_email), "", PASSWORDS) is None
    assert again == first
    assert first.email == system_email
    assert first.ezkey != system_email and len(first.ezkey) == 22
    assert stored_hash is None


def test_processes_starting_at_once_share_one_system_account(
    settings: Settings, system_email: str
) -> None:
    settings = settings.model_copy(update={"system_email": system_email})
    engines = [make_engine(settings) for _ in range(4)]
    start = threading.Barrier(len(engines))

    def look_up(engine: Engine) -> str:
        start.wait()
        return system_ezkey(engine, settings, int(time.time()))

    try:
        with ThreadPoolExecutor(len(engines)) as pool:
            keys = list(pool.map(look_up, engines))
    finally:
        for engine in engines:
            engine.dispose()
    assert len(set(keys)) == 1
