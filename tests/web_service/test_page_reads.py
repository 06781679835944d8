"""What one stat page view costs behind the web app: one render between the page and its
image, each series read at most once per tier, and no wait for a writer.

The web app here talks to two real graph copies and an analysis copy, served over
HTTP from this process, each with its own engine, so every query can be told to its
tier, and each graph copy counts the renders it draws.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event, insert

from aerie import accounts
from aerie.contracts import ANALYSIS_METHODS, GRAPH_METHODS
from aerie.db import make_engine
from aerie.monitor import Metrics
from aerie.schema import stat_minutes
from aerie.secret_key import load_rpc_secret
from aerie.settings import Settings
from app_servers.analysis import AnalysisServer
from app_servers.graph import RENDERS_DRAWN, GraphServer
from rpc.server import create_rpc_app
from tests.conftest import Account, hashed, make_stat, put_points
from tests.servers import serve
from tests.web_service.conftest import PASSWORD, log_in

PNG = b"\x89PNG\r\n\x1a\n"
IMAGE = re.compile(r'<img src="([^"]+/graph\.png[^"]*)"')
SERIES_TABLES = re.compile(r"\b(stat_minutes|stat_hours|stat_days)\b")


@dataclass
class GraphCopy:
    """One graph server copy, its engine, and the renders it has drawn so far."""

    engine: Engine
    metrics: Metrics
    stop: Callable[[], None]
    drawn: int = 0

    def renders(self) -> int:
        self.drawn += int(self.metrics.snapshot().counts.get(RENDERS_DRAWN, 0))
        return self.drawn


@dataclass
class Site:
    client: httpx.Client
    owner: Account
    stats: list[str]  # public ids, each with data
    stat_ids: list[int]  # the same stats' row ids
    graphs: list[GraphCopy]
    analysis: Engine

    def renders(self) -> list[int]:
        return [copy.renders() for copy in self.graphs]

    def view(self, stat: str) -> None:
        """The stat page, then the image it shows, as a browser loads them: the page's
        script asks for the image at its box's width, here 760 CSS pixels on a 2x screen
        (static/aerie.js, ``sizeGraph``), not at the size the page was laid out for."""
        page = self.client.get(f"/stats/{stat}")
        assert page.status_code == 200, page.text
        image = IMAGE.search(page.text)
        assert image, "the page shows no graph image"
        url = httpx.URL(image.group(1).replace("&amp;", "&"))
        boxed = url.copy_merge_params({"w": "760", "h": "262", "scale": "2"})
        answer = self.client.get(str(boxed))
        assert answer.status_code == 200 and answer.content.startswith(PNG), answer.text[:200]


@pytest.fixture
def site(settings: Settings, engine: Engine) -> Iterator[Site]:
    now = int(time.time())
    email = f"owner-{secrets.token_hex(4)}@example.com"
    with engine.begin() as conn:
        user = accounts.create_user(conn, email, hashed(PASSWORD), now)
    owner = Account(user, "")
    stats, stat_ids = [], []
    for n in range(4):
        stat = make_stat(engine, owner, f"signups {n}", "counter")
        put_points(engine, stat, [(now - 3600 * h, h + n) for h in range(1, 30)],
                   received=now - 600)  # settled: renders keep until the data changes
        stats.append(stat.public_id)
        stat_ids.append(stat.id)
    secret = load_rpc_secret(settings)
    with ExitStack() as stack:
        graphs = []
        for _ in range(2):
            copy_stack = stack.enter_context(ExitStack())
            graph_engine, metrics = make_engine(settings), Metrics("graph")
            copy_stack.callback(graph_engine.dispose)
            running = copy_stack.enter_context(serve(create_rpc_app(
                GraphServer(graph_engine, metrics=metrics), name="graph", secret=secret,
                contracts=GRAPH_METHODS)))
            graphs.append((running.url, GraphCopy(graph_engine, metrics, copy_stack.close)))
        analysis_engine = make_engine(settings)
        stack.callback(analysis_engine.dispose)
        analysis = stack.enter_context(serve(create_rpc_app(
            AnalysisServer(analysis_engine), name="analysis", secret=secret,
            contracts=ANALYSIS_METHODS)))
        from web_service.app import create_app

        web = stack.enter_context(serve(create_app(settings.model_copy(update={
            "graph_urls": ",".join(url for url, _ in graphs), "analysis_urls": analysis.url,
        }))))
        client = stack.enter_context(httpx.Client(base_url=web.url, timeout=30,
                                                  headers={"accept": "text/html"}))
        assert log_in(client, email, PASSWORD).status_code == 303
        yield Site(client, owner, stats, stat_ids, [copy for _, copy in graphs], analysis_engine)


def test_a_page_view_and_its_image_make_one_render(site: Site) -> None:
    for n, stat in enumerate(site.stats, start=1):
        site.view(stat)
        assert sum(site.renders()) == n, "a page view drew more than the one image it shows"
    for stat in site.stats:
        site.view(stat)
    assert sum(site.renders()) == len(site.stats), "a second view drew again"


def test_a_killed_copy_moves_its_graphs_to_the_other_and_pages_keep_loading(site: Site) -> None:
    drawn_by = {}
    for stat in site.stats:
        before = site.renders()
        site.view(stat)
        drawn_by[stat] = next(i for i, (a, b) in enumerate(zip(before, site.renders(),
                                                                strict=True)) if b > a)
    killed = drawn_by[site.stats[0]]
    survivor = site.graphs[1 - killed]
    site.graphs[killed].stop()
    moved = [s for s in site.stats if drawn_by[s] == killed]
    drawn = survivor.renders()
    for stat in site.stats:
        site.view(stat)
    assert survivor.renders() - drawn == len(moved), "each moved graph drawn once, others kept"
    for stat in site.stats:
        site.view(stat)
    assert survivor.renders() - drawn == len(moved), "the moved graphs stay on the survivor"


def test_each_tier_reads_a_stat_pages_series_at_most_once(site: Site, engine: Engine) -> None:
    tiers = {id(copy.engine): "graph" for copy in site.graphs} | {id(site.analysis): "analysis"}
    reads: list[tuple[str, str, Any]] = []

    def count(conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if conn.engine is not engine and SERIES_TABLES.search(statement):
            reads.append((tiers.get(id(conn.engine), "web"), statement, repr(parameters)))

    event.listen(Engine, "before_cursor_execute", count)
    try:
        site.view(site.stats[0])  # cold: the graph copy draws
        cold = list(reads)
        reads.clear()
        site.view(site.stats[0])  # the render is cached now
        warm = list(reads)
    finally:
        event.remove(Engine, "before_cursor_execute", count)

    def by_tier(seen: list[tuple[str, str, Any]]) -> dict[str, int]:
        """Series reads per tier; the web tier's one look at where a young stat's data
        begins (to open its page on a timeframe that shows it) reads no series."""
        series = [(t, statement) for t, statement, _ in seen
                  if not (t == "web" and "min(stat_minutes.bucket)" in statement)]
        return {tier: sum(1 for t, _ in series if t == tier)
                for tier in ("web", "analysis", "graph")}

    # The frame and the period before it: two series, each read once where it is needed.
    assert by_tier(cold) == {"web": 0, "analysis": 2, "graph": 2}
    assert len(set(cold)) == len(cold), "a tier read the same series twice"
    assert by_tier(warm) == {"web": 0, "analysis": 2, "graph": 0}


def test_a_page_loads_while_a_write_transaction_is_held_open(site: Site, engine: Engine) -> None:
    # As the API's group commit holds one: on SQLite, the write lock.
    with engine.begin() as conn:
        conn.execute(insert(stat_minutes).values(stat_id=site.stat_ids[1], bucket=60, n=1, sum=1.0, min=1.0,
                                                 max=1.0))
        began = time.monotonic()
        page = site.client.get(f"/stats/{site.stats[0]}")
        waited = time.monotonic() - began
        conn.rollback()
    assert page.status_code == 200, page.text
    # The settings' database timeout is 2 s: a read waiting for the lock would take that long
    # and then fail, so well under it means it never waited.
    assert waited < 1.5
