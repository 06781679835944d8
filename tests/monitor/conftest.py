"""Helpers for the self-monitoring tests: each test has its own system account."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, func, select

from aerie.accounts import user_by_email
from aerie.schema import stat_minutes
from aerie.settings import Settings
from aerie.stats import Stat, stats_of_user


@pytest.fixture
def system_email() -> str:
    """A system account of this test's own, so tests sharing a database stay apart."""
    return f"system-{secrets.token_hex(4)}@aerie.local"


def system_stats(engine: Engine, settings: Settings) -> dict[str, Stat]:
    """The system account's stats by name (none if the account does not exist yet)."""
    with engine.connect() as conn:
        user = user_by_email(conn, settings.system_email)
        return {s.name: s for s in stats_of_user(conn, user.id)} if user else {}


def total(engine: Engine, stat: Stat) -> tuple[int, float]:
    """(points, sum) over the stat's minute rollups."""
    with engine.connect() as conn:
        n, summed = conn.execute(select(func.sum(stat_minutes.c.n), func.sum(stat_minutes.c.sum))
                                 .where(stat_minutes.c.stat_id == stat.id)).one()
    return int(n or 0), float(summed or 0)


def wait_for(what: str, met: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not met():
        assert time.monotonic() < deadline, f"no {what} within {seconds} s"
        time.sleep(0.1)
