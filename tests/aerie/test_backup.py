"""``aerie db backup`` and ``aerie db restore``, run as an operator runs them: a backup
restored into a fresh database answers the same figures on the stat page and the export API."""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from aerie import accounts
from aerie.db import make_engine
from aerie.migrate import alembic_config, upgrade
from aerie.settings import Settings
from tests.aerie.test_cli import aerie
from tests.conftest import Account, ServerPool, hashed, make_account, make_stat, put_points
from tests.web_service.conftest import PASSWORD, log_in

T0 = (int(time.time()) - 3 * 3600) // 3600 * 3600


@pytest.fixture
def fresh_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """The URL of a database that does not exist yet, on the same server (or folder)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    name = f"aerie_restored_{os.getpid()}_{secrets.token_hex(3)}"
    yield url.set(database=name).render_as_string(hide_password=False)
    admin = create_engine(url.set(database=""))
    with admin.begin() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
    admin.dispose()


def figures(web: Any, email: str, token: str, stat_id: str) -> dict[str, Any]:
    """What a person reads off the stat page's JSON twin and the export API."""
    with httpx.Client(base_url=web.url, timeout=30) as client:
        assert log_in(client, email, PASSWORD).status_code == 303
        page = client.get(f"/stats/{stat_id}.json", params={"tf": "1d"}).json()
        export = client.get(f"/x/{token}/data/{stat_id}", params={"t": "3h1h", "start": T0})
    assert export.status_code == 200, export.text
    return {"summary": page["summary"], "points": page["points"], "export": export.json()}


def test_a_restored_backup_answers_the_same_figures(
    database_url: str, settings: Settings, engine: Engine, server_pool: ServerPool,
    fresh_url: str, tmp_path: Path,
) -> None:
    email = f"owner-{secrets.token_hex(4)}@example.com"
    with engine.begin() as conn:
        user = accounts.create_user(conn, email, hashed(PASSWORD), int(time.time()))
        token = accounts.create_token(conn, user.id, "tests", int(time.time())).token
    stat = make_stat(engine, Account(user, token), "orders", "value")
    put_points(engine, stat, [(T0 + 60 * k, float(k % 17)) for k in range(180)])
    before = figures(server_pool.web(settings), email, token, stat.public_id)

    backup = tmp_path / "aerie.backup"
    made = aerie(database_url, "db", "backup", str(backup))
    restored = aerie(fresh_url, "db", "restore", str(backup))

    assert made.returncode == 0, made.stderr
    assert restored.returncode == 0, restored.stderr
    assert f"to {backup}" in made.stdout and "restored" in restored.stdout
    after = figures(server_pool.web(settings.model_copy(update={"database_url": fresh_url})),
                    email, token, stat.public_id)
    assert after == before
    assert len(before["export"][0]["points"]) == 3 and before["summary"]


def test_restore_keeps_a_database_with_accounts_unless_told_to_replace(
    database_url: str, engine: Engine, fresh_url: str, tmp_path: Path
) -> None:
    make_account(engine)
    backup = tmp_path / "aerie.backup"
    assert aerie(database_url, "db", "backup", str(backup)).returncode == 0
    assert aerie(fresh_url, "db", "restore", str(backup)).returncode == 0

    again = aerie(fresh_url, "db", "restore", str(backup))
    replaced = aerie(fresh_url, "db", "restore", "--replace", str(backup))

    assert again.returncode == 1
    assert "add --replace" in again.stderr
    assert replaced.returncode == 0, replaced.stderr


@pytest.mark.parametrize("database_url", ["mariadb"], indirect=True)
def test_an_old_backup_restores_over_a_database_at_a_newer_schema(
    fresh_engine: Engine, tmp_path: Path
) -> None:
    url = fresh_engine.url.render_as_string(hide_password=False)
    backup = tmp_path / "old.backup"
    upgrade(fresh_engine, "0008")  # an Aerie from before account recovery (0009)
    assert aerie(url, "db", "backup", str(backup)).returncode == 0
    upgrade(fresh_engine)
    fresh_engine.dispose()

    restored = aerie(url, "db", "restore", "--replace", str(backup))

    assert restored.returncode == 0, restored.stderr
    head = ScriptDirectory.from_config(alembic_config(fresh_engine)).get_current_head()
    with fresh_engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head


def test_restore_refuses_a_file_that_is_not_a_backup(database_url: str, tmp_path: Path) -> None:
    stray = tmp_path / "notes.txt"
    stray.write_text("shopping list\n")

    answer = aerie(database_url, "db", "restore", str(stray))
    missing = aerie(database_url, "db", "restore", str(tmp_path / "nothing-here"))

    assert answer.returncode == 1
    assert "backup" in answer.stderr and "Traceback" not in answer.stderr
    assert missing.returncode == 1 and "no backup file" in missing.stderr


def test_a_sqlite_backup_taken_while_points_arrive_is_whole(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    assert aerie(url, "db", "upgrade").returncode == 0
    engine = make_engine(Settings(database_url=url))
    stat = make_stat(engine, make_account(engine), "busy", "counter")
    stop, writing = threading.Event(), threading.Event()

    def write() -> None:
        t = T0
        while not stop.is_set():
            put_points(engine, stat, [(t, 1.0)])
            writing.set()
            t += 60

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert writing.wait(30), "the writer never committed"
        made = aerie(url, "db", "backup", str(tmp_path / "live.backup"))
    finally:
        stop.set()
        writer.join()
        engine.dispose()

    assert made.returncode == 0, made.stderr
    with sqlite3.connect(tmp_path / "live.backup") as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        minutes, total = copy.execute("SELECT COUNT(*), SUM(sum) FROM stat_minutes").fetchone()
        hours = copy.execute("SELECT SUM(sum) FROM stat_hours").fetchone()[0]
    assert minutes > 0 and hours == total  # one transaction's minutes and hours, never half
