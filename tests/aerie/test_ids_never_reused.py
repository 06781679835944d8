"""A deleted account's or stat's id never comes back as a new one's (migration 0014): the
API caches keys by id, and a reused id would send an old key's posts to someone else."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from sqlalchemy import Engine, func, select

from aerie import accounts, dashboards
from aerie.db import make_engine
from aerie.migrate import upgrade
from aerie.schema import dashboard_cards, stats, users
from aerie.settings import Settings
from aerie.stats import Stat, create_stat, delete_stat


def _newest_deleted_then_made_again(engine: Engine) -> tuple[tuple[int, int], tuple[int, int]]:
    """(deleted account id, next account id), (deleted stat id, next stat id)."""
    now = int(time.time())
    with engine.begin() as conn:
        keeper = accounts.create_user(conn, f"keeper-{time.time_ns()}@example.com", None, now)
        leaving = accounts.create_user(conn, f"leaving-{time.time_ns()}@example.com", None, now)
        stat = create_stat(conn, keeper.id, "short-lived", "counter", now)
    with engine.begin() as conn:
        delete_stat(conn, stat)
        conn.execute(users.delete().where(users.c.id == leaving.id))
    with engine.begin() as conn:
        newcomer = accounts.create_user(conn, f"new-{time.time_ns()}@example.com", None, now)
        second: Stat = create_stat(conn, newcomer.id, "short-lived", "counter", now)
    return (leaving.id, newcomer.id), (stat.id, second.id)


def test_a_deleted_newest_account_or_stat_leaves_its_id_unused(engine: Engine) -> None:
    (gone_user, next_user), (gone_stat, next_stat) = _newest_deleted_then_made_again(engine)

    assert next_user > gone_user
    assert next_stat > gone_stat


def test_the_migration_keeps_every_row_and_reference_on_sqlite(tmp_path: Path) -> None:
    """Rebuilding ``users`` and ``stats`` drops the old tables: with foreign keys on, that
    would have deleted every stat, card and session that refers to them."""
    path = tmp_path / "old.db"
    engine = make_engine(Settings(database_url=f"sqlite:///{path}"))
    upgrade(engine, "0013")
    now = int(time.time())
    with engine.begin() as conn:
        user = accounts.create_user(conn, "before@example.com", None, now)
        stat = create_stat(conn, user.id, "kept", "counter", now)
        board = dashboards.create_dashboard(conn, user.id, "Kept", now)
        dashboards.add_card(conn, board, "graph", "1d", "kept", [stat])

    upgrade(engine)

    with engine.connect() as conn:
        counts = [conn.execute(select(func.count()).select_from(table)).scalar_one()
                  for table in (users, stats, dashboard_cards)]
        enforced = conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one()
    assert counts == [1, 1, 1]
    assert enforced == 1  # back on for the connection the migrations ran on
    (gone_user, next_user), (gone_stat, next_stat) = _newest_deleted_then_made_again(engine)
    assert next_user > gone_user and next_stat > gone_stat
    engine.dispose()
    with sqlite3.connect(path) as raw:  # the references still cascade, as declared
        sql = raw.execute("SELECT sql FROM sqlite_master WHERE name = 'stats'").fetchone()[0]
    assert "AUTOINCREMENT" in sql and "REFERENCES users (id) ON DELETE CASCADE" in sql
