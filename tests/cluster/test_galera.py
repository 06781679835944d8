"""A Galera node killed under load costs no acknowledged point, counts none twice, and
stops no page.

Three nodes on 127.0.0.1 (tests/cluster/galera.py); two API copies as processes, each
preferring its own node (AERIE_DATABASE_URLS lists it first); the web app and its app
servers reading from the third. Two threads post counts to each API copy while a
reader loads pages; the first API copy's node is killed with -9 mid-run. Afterwards
the node rejoins by IST, and every node holds exactly the acknowledged counts.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from aerie import accounts, stats
from aerie.db import make_engine
from aerie.migrate import upgrade
from aerie.schema import COUNTER
from aerie.settings import Settings
from tests.cluster.galera import GaleraCluster, galera_cluster, galera_missing
from tests.conftest import hashed
from tests.deploy.test_nginx import (
    PASSWORD,
    Copy,
    Posting,
    log_in,
    start_copy,
    stop_copies,
    wait_for,
)

DATABASE = "aerie"
THREADS_PER_COPY = 2

if (missing := galera_missing()) and os.environ.get("AERIE_TEST_REQUIRE_MARIADB") != "1":
    pytest.skip(missing, allow_module_level=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GaleraCluster]:
    with galera_cluster(tmp_path_factory.mktemp("galera-logs")) as running:
        with running.nodes[0].connect() as conn, conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        engine = make_engine(Settings(database_url=running.nodes[0].url(DATABASE)))
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        yield running


def nodes_from(cluster: GaleraCluster, first: int) -> str:
    """Every node's URL, ``first`` first, then the others in order."""
    order = [first] + [i for i in range(len(cluster.nodes)) if i != first]
    return ",".join(cluster.nodes[i].url(DATABASE) for i in order)


def stored(engine: Engine, stat_id: int) -> int:
    with engine.connect() as conn:
        return int(conn.execute(
            text("SELECT COALESCE(SUM(n), 0) FROM stat_minutes WHERE stat_id = :id"), {"id": stat_id}
        ).scalar_one())


def test_a_killed_node_loses_no_acknowledged_point_and_counts_none_twice(
    cluster: GaleraCluster, tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    env = {**os.environ, "AERIE_SECRET_KEY": secrets.token_hex(16),
           "AERIE_DB_TIMEOUT_SECONDS": "2"}
    survivor = make_engine(Settings(database_urls=nodes_from(cluster, 2)))
    now = int(time.time())
    email = f"owner-{secrets.token_hex(4)}@example.com"
    with survivor.begin() as conn:
        user = accounts.create_user(conn, email, hashed(PASSWORD), now)
        token = accounts.create_token(conn, user.id, "tests", now).token
        counted = [stats.create_stat(conn, user.id, f"via node {i}", COUNTER, now) for i in (0, 1)]
    copies: list[Copy] = []
    try:
        reading = {**env, "AERIE_DATABASE_URLS": nodes_from(cluster, 2)}
        graph, analysis = start_copy("graph", reading, logs), start_copy("analysis", reading, logs)
        web_env = {**reading, "AERIE_GRAPH_URLS": graph.url, "AERIE_ANALYSIS_URLS": analysis.url}
        api = [start_copy("api", {**env, "AERIE_DATABASE_URLS": nodes_from(cluster, i)}, logs)
               for i in (0, 1)]
        copies += [graph, analysis, *api, start_copy("web", web_env, logs)]
        for copy in copies:
            wait_for(copy.url, copy.process)
        web = copies[-1]
        postings = [Posting(copy.url, user.ezkey, user.ukey, stat.classic_key, stat.name)
                    for copy, stat in zip(api, counted, strict=True)]
        pages = [f"/x/{token}/statlist", f"/stats/{counted[0].public_id}",
                 f"/stats/{counted[0].public_id}/graph.png"]
        page_answers: list[tuple[str, int]] = []
        reading_done = threading.Event()

        def read_pages() -> None:
            with httpx.Client(base_url=web.url, timeout=30, trust_env=False,
                              headers={"accept": "text/html"}) as browser:
                log_in(browser, email)
                while not reading_done.is_set():
                    for path in pages:
                        page_answers.append((path, browser.get(path).status_code))

        threads = [threading.Thread(target=posting.run, args=(n,))
                   for posting in postings for n in range(THREADS_PER_COPY)]
        threads.append(threading.Thread(target=read_pages))
        for thread in threads:
            thread.start()
        try:
            for posting in postings:
                posting.wait_for_answers(30)
            cluster.kill(0)  # the first API copy's node
            killed_at = time.monotonic()
            pages_before_kill = len(page_answers)
            for posting in postings:
                posting.wait_for_answers(30, since=killed_at)
            moved = postings[0]
            while not any(200 <= status < 300 for started, status in moved.answers
                          if started > killed_at):
                assert time.monotonic() - killed_at < 30, (
                    "the first copy never moved on",
                    sorted({s for t, s in moved.answers if t > killed_at}))
                time.sleep(0.05)
            time.sleep(1)  # and a second more of posting on the new node
        finally:
            for posting in postings:
                posting.stop.set()
            reading_done.set()
            for thread in threads:
                thread.join(timeout=60)
        how = cluster.rejoin(0)
        rejoined = make_engine(Settings(database_url=cluster.nodes[0].url(DATABASE)))
        try:
            on_nodes = {
                name: [stored(engine, stat.id) for stat in counted]
                for name, engine in (("survivor", survivor), ("rejoined", rejoined))
            }
        finally:
            rejoined.dispose()
    finally:
        stop_copies(copies)
        survivor.dispose()

    acknowledged = [posting.acknowledged() for posting in postings]
    assert all(n > 20 for n in acknowledged), acknowledged
    # every acknowledged point once, and a 503 recorded nothing: exactly the acknowledged
    assert on_nodes == {"survivor": acknowledged, "rejoined": acknowledged}, (
        on_nodes, [sorted({s for _, s in p.answers}) for p in postings])
    # the copy on the dead node failed only until it had moved; the other never did
    moved = postings[0]
    first_ok = min(started for started, status in moved.answers
                   if started > killed_at and 200 <= status < 300)
    assert [s for started, s in moved.answers if started > first_ok and s != 200] == []
    assert {status for _, status in postings[1].answers} == {200}
    assert [status for _, status in moved.answers if status != 200] in ([], [503] * len(
        [s for s in moved.answers if s[1] == 503]))
    assert len(page_answers) > pages_before_kill, "no page was read after the kill"
    assert [(path, status) for path, status in page_answers if status != 200] == []
    assert how == "IST"
