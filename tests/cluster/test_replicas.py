"""AERIE_READ_DATABASE_URLS: page reads from a real GTID replica, changes on the primary,
a person's own change on their next page, and a lagging replica skipped.

The test starts its own primary and replica (tests/cluster/replication.py); Aerie
connects to both as an application user with rights on its own database only.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pymysql
import pytest

from aerie import accounts, stats
from aerie.db import make_engine
from aerie.migrate import upgrade
from aerie.schema import COUNTER
from aerie.settings import Settings
from tests.cluster.galera import galera_missing
from tests.cluster.replication import APP_PASSWORD, APP_USER, Server, caught_up, primary_and_replica
from tests.conftest import ServerPool, hashed
from tests.web_service.conftest import PASSWORD, csrf_in, log_in

MAX_LAG = 3.0

if (missing := galera_missing()) and os.environ.get("AERIE_TEST_REQUIRE_MARIADB") != "1":
    pytest.skip(missing, allow_module_level=True)


@dataclass
class Site:
    primary: Server
    replica: Server
    url: str


@dataclass
class Person:
    client: httpx.Client
    csrf: str
    stat: stats.Stat
    user: accounts.User


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with primary_and_replica() as (primary, replica):
        engine = make_engine(Settings(database_url=primary.url()))
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        settings = Settings(
            database_url=primary.url(), read_database_urls=replica.url(),
            max_replica_lag_seconds=MAX_LAG, secret_key="tests-only-key", monitor_seconds=0,
        )
        pool = ServerPool()
        try:
            yield Site(primary, replica, pool.web(settings).url)
        finally:
            pool.close()


@pytest.fixture
def person(site: Site) -> Iterator[Person]:
    engine = make_engine(Settings(database_url=site.primary.url()))
    now = int(time.time())
    email = f"owner-{secrets.token_hex(4)}@example.com"
    try:
        with engine.begin() as conn:
            user = accounts.create_user(conn, email, hashed(PASSWORD), now)
            stat = stats.create_stat(conn, user.id, "signups", COUNTER, now)
    finally:
        engine.dispose()
    caught_up(site.primary, site.replica)
    with httpx.Client(base_url=site.url, timeout=30, trust_env=False,
                      headers={"accept": "text/html"}) as client:
        assert log_in(client, email, PASSWORD).status_code == 303
        yield Person(client, csrf_in(client.get("/settings").text), stat, user)


def replica_status(site: Site) -> tuple[int, dict[str, str]]:
    answer = httpx.get(site.url + "/readyz", trust_env=False, timeout=10)
    return answer.status_code, answer.json()["replicas"]


def test_page_reads_come_from_the_replica_which_the_app_user_cannot_write(
    site: Site, person: Person
) -> None:
    """A stat written on the replica alone (by root, outside replication) shows in the
    list: the page read the replica. The application's user cannot write there."""
    marker = f"only on the replica {secrets.token_hex(3)}"
    local = "SET SESSION sql_log_bin = 0"  # not replicated, and no GTID of the replica's own
    site.replica.run(
        local,
        "INSERT INTO aerie.stats (id, public_id, user_id, name, kind, classic_key, public, "
        f"created_at) VALUES (1000000, 'replicaonly00001', {person.user.id}, '{marker}', "
        "'counter', 'replica-only-key', 0, 0)",
    )
    try:
        assert marker in person.client.get("/stats").text
    finally:
        site.replica.run(local, "DELETE FROM aerie.stats WHERE id = 1000000")
    with pymysql.connect(host="127.0.0.1", port=site.replica.port, user=APP_USER,
                         password=APP_PASSWORD, database="aerie") as conn, conn.cursor() as cursor:
        with pytest.raises(pymysql.err.OperationalError) as refused:
            cursor.execute("UPDATE stats SET name = 'pwned'")
    assert refused.value.args[0] == 1290  # --read-only
    status, replicas = replica_status(site)
    assert status == 200
    assert replicas[f"127.0.0.1:{site.replica.port}"].startswith("ok"), replicas


def test_a_change_shows_on_the_next_page_and_a_lagging_replica_is_skipped(
    site: Site, person: Person
) -> None:
    stat_page = f"/stats/{person.stat.public_id}"
    replica = f"127.0.0.1:{site.replica.port}"
    site.replica.run("STOP SLAVE SQL_THREAD")  # the replica falls behind from here on
    try:
        renamed = person.client.post(f"{stat_page}/rename", data={
            "csrf": person.csrf, "name": "sign-ups renamed"})
        assert renamed.status_code == 303
        assert "aerie_seen" in renamed.cookies
        # the person who renamed it sees the new name at once (the replica has not got it)
        assert "sign-ups renamed" in person.client.get(stat_page).text
        # without the cookie (someone else's view), the replica is read while it is near
        seen = person.client.cookies.get("aerie_seen")
        person.client.cookies.delete("aerie_seen")
        assert "sign-ups renamed" not in person.client.get(stat_page).text
        # past AERIE_MAX_REPLICA_LAG_SECONDS it is skipped, and /readyz says so
        deadline = time.monotonic() + 20
        while "skipped" not in replica_status(site)[1][replica]:
            assert time.monotonic() < deadline, replica_status(site)
            time.sleep(0.2)
        assert replica_status(site)[0] == 200  # pages still load, from the primary
        assert "sign-ups renamed" in person.client.get(stat_page).text
        assert seen
    finally:
        site.replica.run("START SLAVE SQL_THREAD")
    caught_up(site.primary, site.replica)
    deadline = time.monotonic() + 20
    while not replica_status(site)[1][replica].startswith("ok"):
        assert time.monotonic() < deadline, replica_status(site)
        time.sleep(0.2)
