"""The ``aerie`` command line, run as a person runs it: a subprocess against a real database."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from aerie import accounts, stats
from aerie.db import make_engine
from aerie.series import read_series
from aerie.settings import Settings
from aerie.timeframes import parse_timeframe
from tests.aerie.running_up import ROLES, Up, children_of, running_up
from tests.servers import alive, free_port


def aerie(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AERIE_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "aerie", *args], env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )


def unique_email(name: str = "owner") -> str:
    return f"{name}-{secrets.token_hex(4)}@example.com"


@pytest.fixture
def db(database_url: str) -> Iterator[Engine]:
    engine = make_engine(Settings(database_url=database_url))
    yield engine
    engine.dispose()


def test_user_create_prints_ezkey_ukey_and_a_working_token(database_url: str, db: Engine) -> None:
    email = unique_email()
    result = aerie(database_url, "user", "create", email, "--password", "correct horse")
    assert result.returncode == 0, result.stderr
    with db.connect() as conn:
        user = accounts.user_by_email(conn, email)
    assert user is not None
    assert f"ezkey  {email}" in result.stdout
    assert f"ukey   {user.ukey}" in result.stdout
    assert "token  " in result.stdout


def test_user_create_json_gives_keys_and_a_live_token(database_url: str, db: Engine) -> None:
    email = unique_email()
    result = aerie(database_url, "user", "create", email, "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer.keys() == {"email", "ezkey", "ukey", "token"}
    assert answer["email"] == answer["ezkey"] == email
    with db.connect() as conn:
        owner = accounts.user_by_token(conn, answer["token"])
    assert owner is not None and owner.ukey == answer["ukey"]


def test_user_create_refuses_a_short_password_as_sign_up_does(
    database_url: str, db: Engine
) -> None:
    email = unique_email()
    result = aerie(database_url, "user", "create", email, "--password", "short")
    assert result.returncode == 1
    assert result.stderr == "aerie: choose a password of at least 8 characters\n"
    with db.connect() as conn:
        assert accounts.user_by_email(conn, email) is None


def test_user_create_refuses_what_is_not_an_e_mail_address(database_url: str, db: Engine) -> None:
    result = aerie(database_url, "user", "create", "owner-at-example", "--password",
                   "correct horse")
    assert result.returncode == 1
    assert result.stderr == ("aerie: 'owner-at-example' does not look like an e-mail address "
                             "(like you@example.com)\n")
    with db.connect() as conn:
        assert accounts.user_by_email(conn, "owner-at-example") is None


def test_duplicate_email_exits_1_with_a_message_not_a_traceback(database_url: str) -> None:
    email = unique_email()
    assert aerie(database_url, "user", "create", email).returncode == 0
    result = aerie(database_url, "user", "create", email)
    assert result.returncode == 1
    assert result.stderr.startswith("aerie: ") and "already exists" in result.stderr
    assert "Traceback" not in result.stderr


def test_stat_create_prints_its_id_and_classic_key(database_url: str, db: Engine) -> None:
    email = unique_email()
    aerie(database_url, "user", "create", email)
    text = aerie(database_url, "stat", "create", "page views", "--kind", "counter", "--user", email)
    assert text.returncode == 0, text.stderr
    result = aerie(database_url, "stat", "create", "load", "--kind", "value", "--user", email,
                   "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    with db.connect() as conn:
        user = accounts.user_by_email(conn, email)
        assert user is not None
        views = stats.stat_by_name(conn, user.id, "page views")
        load = stats.stat_by_public_id(conn, user.id, answer["id"])
    assert views is not None and views.public_id in text.stdout
    assert views.classic_key in text.stdout
    assert load is not None and load.kind == "value"
    assert answer["classic_key"] == load.classic_key


def test_stat_create_for_an_unknown_user_exits_1(database_url: str) -> None:
    result = aerie(database_url, "stat", "create", "x", "--kind", "counter", "--user",
                   unique_email("nobody"))
    assert result.returncode == 1
    assert "no account with e-mail" in result.stderr and "Traceback" not in result.stderr


def test_stat_create_with_a_taken_name_exits_1(database_url: str) -> None:
    email = unique_email()
    aerie(database_url, "user", "create", email)
    assert aerie(database_url, "stat", "create", "x", "--kind", "counter", "--user",
                 email).returncode == 0
    result = aerie(database_url, "stat", "create", "x", "--kind", "value", "--user", email)
    assert result.returncode == 1
    assert "already have a stat named 'x'" in result.stderr


def test_db_upgrade_is_idempotent(database_url: str) -> None:
    for _ in range(2):
        result = aerie(database_url, "db", "upgrade")
        assert result.returncode == 0, result.stderr
        assert "up to date" in result.stdout


def test_db_upgrade_builds_a_fresh_sqlite_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'fresh.db'}"
    assert aerie(url, "db", "upgrade").returncode == 0
    assert aerie(url, "user", "create", unique_email()).returncode == 0


def test_db_prune_reports_each_table(database_url: str) -> None:
    result = aerie(database_url, "db", "prune")
    assert result.returncode == 0, result.stderr
    assert "stat_minutes: deleted" in result.stdout


def test_a_bad_setting_exits_2_naming_the_variable(tmp_path: Path) -> None:
    result = aerie("postgresql://localhost/aerie", "db", "upgrade")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("aerie: bad setting: AERIE_DATABASE_URL")


def test_demo_fills_three_temperatures_and_signups(database_url: str, db: Engine) -> None:
    first = aerie(database_url, "demo", "--json")
    assert first.returncode == 0, first.stderr
    result = aerie(database_url, "demo", "--json")  # a refresh, not a second copy
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["email"] == answer["ezkey"] == "demo@aerie.local"
    now = int(time.time())
    with db.connect() as conn:
        user = accounts.user_by_token(conn, answer["token"])
        assert user is not None and user.ukey == answer["ukey"]
        found = {s.name: s for s in stats.stats_of_user(conn, user.id)}
        assert sorted(found) == [
            "signups", "temperature berlin", "temperature lagos", "temperature melbourne"
        ]
        weeks = read_series(conn, found["temperature berlin"], parse_timeframe("4w1d"), now)
        hours = read_series(conn, found["temperature lagos"], parse_timeframe("1d1h"), now)
        signups = read_series(conn, found["signups"], parse_timeframe("4w1d"), now)
    assert all(p.value is not None and -30 < p.value < 40 for p in weeks.points[:-1])
    # One point per five minutes: a refresh replaced the data instead of doubling it.
    # (The last two hours may be partial: the demo ends at its own "now".)
    assert [p.rcount for p in hours.points[1:-2]] == [12] * 21
    assert all(p.value is not None and 15 < p.value < 40 for p in hours.points[1:-2])
    assert all(p.value is not None and p.value > 0 for p in signups.points[:-1])


@pytest.fixture
def up(database_url: str, tmp_path: Path) -> Iterator[Up]:
    with running_up(tmp_path, database_url) as running:
        yield running


def test_up_serves_both_and_sigterm_stops_everything_keeping_acknowledged_points(
    up: Up, database_url: str, db: Engine
) -> None:
    email = unique_email()
    aerie(database_url, "user", "create", email)
    up.wait_until_up()
    children = children_of(up.process.pid)
    assert len(children) == len(ROLES)  # api, web and two copies of each app server role
    assert up.urls["api"] in up.output() and up.urls["web"] in up.output()
    sent = httpx.post(up.urls["api"] + "/ez", data={"ezkey": email, "stat": "clicks", "count": "3"})
    assert sent.status_code in (200, 204)

    assert up.stop() == 0
    assert not any(alive(pid) for pid in children)
    assert "Traceback" not in up.output()
    with db.connect() as conn:
        user = accounts.user_by_email(conn, email)
        assert user is not None
        clicks = stats.stat_by_name(conn, user.id, "clicks")
        assert clicks is not None
        series = read_series(conn, clicks, parse_timeframe("1h1h"), int(time.time()))
    assert series.points[-1].value == 3


def test_up_on_a_busy_port_exits_1_naming_the_option(database_url: str) -> None:
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        result = aerie(database_url, "up", "--api-port", str(port), "--web-port",
                       str(free_port()))
    assert result.returncode == 1
    assert f"port {port} is already in use; choose another with --api-port" in result.stderr


def test_stat_trash_and_restore_use_the_web_apps_use_cases(database_url: str, db: Engine) -> None:
    email = unique_email()
    assert aerie(database_url, "user", "create", email).returncode == 0
    created = json.loads(aerie(database_url, "stat", "create", "jobs", "--kind", "counter",
                               "--user", email, "--json").stdout)

    trashed = aerie(database_url, "stat", "trash", created["id"], "--user", email)
    outsider = aerie(database_url, "stat", "restore", created["id"], "--user", unique_email())
    restored = aerie(database_url, "stat", "restore", created["id"], "--user", email)

    assert trashed.returncode == 0 and "moved 'jobs' to the trash" in trashed.stdout
    assert outsider.returncode == 1 and "no account with e-mail" in outsider.stderr
    assert restored.returncode == 0 and "restored 'jobs'" in restored.stdout
    assert aerie(database_url, "stat", "restore", created["id"], "--user", email).returncode == 1
