"""Totals stored before overflow was refused (infinite on SQLite, near the largest double on
MariaDB) still show on every page, twin and embed: odd numbers, never a 500."""

from __future__ import annotations

import math
import time

import httpx
import orjson
from sqlalchemy import Engine, insert
from sqlalchemy.engine import make_url

from aerie import dashboards, shares
from aerie.schema import ROLLUPS
from aerie.stats import Stat
from tests.conftest import Account, make_stat
from tests.servers import RunningServer
from tests.web_service.conftest import Browser, browser, owner_browser  # noqa: F401 - fixtures


def store_huge_rows(engine: Engine, stat: Stat, database_url: str) -> None:
    """Two minutes of 1.7e308 each; the hour and day rows hold their overflowed total
    (inf where the database keeps it, the largest double where it refuses it)."""
    huge = 1.7e308
    sqlite = make_url(database_url).get_backend_name() == "sqlite"
    total = math.inf if sqlite else huge
    now = int(time.time())
    minute = now - now % 60 - 120
    with engine.begin() as conn:
        for resolution, table in ROLLUPS:
            if resolution == 60:
                rows = [(minute, huge), (minute + 60, huge)]
            else:
                rows = [(minute - minute % resolution, total)]
            conn.execute(insert(table), [
                {"stat_id": stat.id, "bucket": b, "n": 1, "sum": s, "min": huge, "max": huge}
                for b, s in rows
            ])


def assert_answers(answer: httpx.Response) -> None:
    assert answer.status_code == 200, (answer.request.url, answer.status_code, answer.text[:300])
    if "json" in answer.headers.get("content-type", ""):
        orjson.loads(answer.content)  # strict JSON: no NaN or Infinity tokens


def test_pages_twins_and_embeds_of_a_stat_with_huge_totals_answer(
    database_url: str, engine: Engine, owner_browser: Browser, web: RunningServer,  # noqa: F811
) -> None:
    user = owner_browser.user
    stat = make_stat(engine, Account(user, ""), "blown", "counter")
    store_huge_rows(engine, stat, database_url)
    now = int(time.time())
    with engine.begin() as conn:
        board = dashboards.create_dashboard(conn, user.id, "odd", now)
        for kind in ("number", "table", "graph"):
            dashboards.add_card(conn, board, kind, "1d", "", [stat])
        stat_key = shares.share_stat(conn, user.id, stat.id, now).key
        board_key = shares.share_dashboard(conn, user.id, board.id, now).key
    for path in (f"/stats/{stat.public_id}", f"/dashboards/{board.public_id}"):
        assert_answers(owner_browser.get(path))
        assert_answers(owner_browser.json(path + ".json"))
    for path in (f"/stats/{stat.public_id}/data.csv", f"/stats/{stat.public_id}/graph.png",
                 f"/compare?ids={stat.public_id}", "/stats"):
        assert_answers(owner_browser.get(path))
    assert_answers(owner_browser.json(f"/compare.json?ids={stat.public_id}"))
    assert_answers(owner_browser.json("/stats.json"))
    with httpx.Client(base_url=web.url, timeout=60) as visitor:
        for kind in ("data", "table", "text", "graph", "histogram"):
            for tf in ("1d", "1h"):
                assert_answers(visitor.get(f"/embed/{kind}/{stat_key}", params={"tf": tf}))
        assert_answers(visitor.get(f"/d/{board_key}"))
        assert_answers(visitor.get(f"/d/{board_key}.json"))
        assert_answers(visitor.get(f"/embed/dashboard/{board_key}"))
