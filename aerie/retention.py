"""Retention: how long each rollup resolution is kept, as the settings say.

One place maps the settings onto ``rollups.prune`` so that ``aerie db prune``
and the hourly prune in ``aerie up`` (and later the scheduler) agree.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine

from aerie import account_tokens, limited_requests, rollups, sessions, stats
from aerie.schema import DAY, HOUR, MINUTE
from aerie.settings import Settings
from aerie.transactions import write


def keep_days(settings: Settings) -> dict[int, int]:
    """Days to keep per resolution in seconds; 0 keeps forever."""
    return {
        MINUTE: settings.retention_minutes_days,
        HOUR: settings.retention_hours_days,
        DAY: settings.retention_days_days,
    }


def prune_expired(engine: Engine, settings: Settings, now: int,
                  batch_rows: int = rollups.PRUNE_BATCH_ROWS, pause: bool = True
                  ) -> dict[str, int]:
    """Purge the trash of stats deleted over 48 hours ago and forget expired sessions, old
    log-in failures, old limited requests and dead account links (one transaction), then
    delete expired rollup rows in batches of ``batch_rows`` (a transaction each, with a
    pause after each unless ``pause`` is False, so ingestion never waits long on the
    prune); returns rows deleted per table."""
    def forget(conn: Connection) -> tuple[int, int, int]:
        return (stats.purge_trash(conn, now), sessions.forget_expired(conn, now),
                limited_requests.forget_old(conn, now) + account_tokens.forget_dead(conn, now))

    purged, forgotten, limits = write(engine, forget)
    deleted = rollups.prune(engine, now, keep_days(settings), batch_rows, pause)
    return {"stats purged from the trash": purged, "expired sessions and log-in failures":
            forgotten, "old limited requests and account links": limits, **deleted}
