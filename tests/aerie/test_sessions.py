"""The hourly prune forgets ended sessions and log-in failures too old to count."""

from __future__ import annotations

import time

from sqlalchemy import Engine, func, select

from aerie import sessions
from aerie.retention import prune_expired
from aerie.schema import login_failures
from aerie.sessions import FAILURE_WINDOW
from aerie.settings import Settings
from tests.conftest import Account


def test_prune_forgets_expired_sessions_and_old_failures_only(
    engine: Engine, settings: Settings, owner: Account
) -> None:
    now = int(time.time())
    email = owner.user.email
    with engine.begin() as conn:
        short = sessions.start_session(conn, owner.user, now, lifetime=60)
        long = sessions.start_session(conn, owner.user, now, lifetime=86400)
        sessions.record_login_failure(conn, email, "198.51.100.7", now)

    later = now + FAILURE_WINDOW + 120
    deleted = prune_expired(engine, settings, later)

    with engine.connect() as conn:
        # Asked about at ``now``, when it was live: only a deleted row answers None.
        assert sessions.live_session(conn, short.token, now) is None
        assert sessions.live_session(conn, long.token, later) is not None
        failures = conn.execute(
            select(func.count()).where(login_failures.c.email == email)
        ).scalar_one()
    assert failures == 0
    assert deleted["expired sessions and log-in failures"] >= 2
