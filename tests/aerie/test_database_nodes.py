"""AERIE_DATABASE_URLS: a process uses one database node and moves to the next that
answers when it goes away, without a restart.

Two cuttable TCP proxies in front of the one MariaDB server stand for two nodes: a
cut proxy drops its connections and refuses new ones, as a killed node does.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from aerie.db import make_engine
from aerie.settings import Settings
from tests.api_service.test_commit_outcomes import post
from tests.conftest import make_account, make_stat
from tests.proxy import CuttableProxy, cuttable_proxy
from tests.security.test_fairness import minute_totals

pytestmark = pytest.mark.mariadb


@pytest.fixture
def nodes(mysql_database_url: str) -> Iterator[tuple[CuttableProxy, CuttableProxy, str]]:
    url = make_url(mysql_database_url)
    target = (url.host or "127.0.0.1", url.port or 3306)
    with cuttable_proxy(target) as first, cuttable_proxy(target) as second:
        urls = ",".join(url.set(host="127.0.0.1", port=p.port).render_as_string(hide_password=False)
                        for p in (first, second))
        yield first, second, urls


def read_one(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT 1")).scalar_one())


def test_reads_and_group_commits_move_to_the_next_node_when_one_goes_away(
    nodes: tuple[CuttableProxy, CuttableProxy, str], mysql_database_url: str
) -> None:
    first, second, urls = nodes
    engine = make_engine(Settings(database_urls=urls, db_timeout_seconds=2))
    direct = make_engine(Settings(database_url=mysql_database_url))
    try:
        owner = make_account(direct)
        stat = make_stat(direct, owner, "moving", "counter")
        assert all(isinstance(o, int) for o in post(engine, owner, stat, 3))
        first.cut()  # the node in use dies: its pooled connections drop, new ones are refused
        assert read_one(engine) == 1
        assert all(isinstance(o, int) for o in post(engine, owner, stat, 3))
        first.restore()
        second.cut()  # and back again, with no restart
        assert read_one(engine) == 1
        assert all(isinstance(o, int) for o in post(engine, owner, stat, 3))
        assert minute_totals(direct, [stat]) == (9, 9.0)
    finally:
        engine.dispose()
        direct.dispose()


def test_no_node_answering_is_an_error_naming_the_last_one_tried(
    nodes: tuple[CuttableProxy, CuttableProxy, str],
) -> None:
    first, second, urls = nodes
    first.cut()
    second.cut()
    engine = make_engine(Settings(database_urls=urls, db_timeout_seconds=1))
    started = time.monotonic()
    try:
        with pytest.raises(OperationalError):
            read_one(engine)
    finally:
        engine.dispose()
    assert time.monotonic() - started < 10


def test_several_nodes_must_be_mariadb_servers() -> None:
    with pytest.raises(ValueError, match="several database nodes must be MariaDB servers"):
        Settings(database_urls="sqlite:///a.db,sqlite:///b.db")
