"""The stat page use cases, driven directly as the CLI and the web app drive them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager

import pytest
from sqlalchemy import Engine

from aerie.contracts import full_graph_plot_area
from aerie.errors import NotFound
from aerie.secret_key import load_rpc_secret
from aerie.settings import Settings
from aerie.stats import create_stat
from app_servers.analysis import create_app as analysis_app
from app_servers.graph import create_app as graph_app
from interactor.base import Services
from interactor.stat_pages import compare_page, stat_list, stat_page
from presenters.links import graph_image
from rpc.clients import AnalysisClient, GraphClient
from tests.conftest import Account, make_stat, put_points
from tests.servers import serve

pytestmark = pytest.mark.anyio
API_URL = "http://api.example"
WEB_URL = "http://aerie.example"


@asynccontextmanager
async def services(settings: Settings, engine: Engine, graph: list[str], analysis: list[str]
                   ) -> AsyncIterator[Services]:
    secret = load_rpc_secret(settings)
    async with GraphClient(graph, secret=secret, timeout=5) as g, \
            AnalysisClient(analysis, secret=secret, timeout=5) as a:
        yield Services(engine, g, a)


@pytest.fixture
def copies(settings: Settings) -> Iterator[tuple[ExitStack, list[str], list[str]]]:
    """Two graph and two analysis servers; the stack lets a test stop the graph copies."""
    with ExitStack() as analysis_stack, ExitStack() as graph_stack:
        graph = [graph_stack.enter_context(serve(graph_app(settings))).url for _ in range(2)]
        analysis = [analysis_stack.enter_context(serve(analysis_app(settings))).url for _ in range(2)]
        yield graph_stack, graph, analysis


async def test_the_stat_page_asks_the_graph_servers_for_nothing(
    settings: Settings, engine: Engine, owner: Account, copies: tuple[ExitStack, list[str], list[str]]
) -> None:
    """The page lays its graph out from the graph's fixed margins; only the image the
    browser then asks for (at its box's size) is drawn. So the page loads with every
    graph copy gone, its hover area where the chart draws its data."""
    graph_stack, graph, analysis = copies
    stat = make_stat(engine, owner, "orders", "counter")
    put_points(engine, stat, [(int(time.time()) - 90, 4)])
    graph_stack.close()  # both graph copies gone

    async with services(settings, engine, graph, analysis) as svc:
        page = await stat_page(svc, owner.user, stat.public_id, "1d", API_URL, WEB_URL)
        compared = await compare_page(svc, owner.user, [stat.public_id], "1d")

    assert page.summary["current"]["total"] == 4
    assert graph_image(page.graph, "png") == f"/stats/{stat.public_id}/graph.png?tf=1d"
    # where the chart draws its data (tests/app_servers/test_charts.py holds the two equal)
    assert page.graph.plot_area == full_graph_plot_area(1100, 380)
    assert compared.graph is not None and compared.graph.plot_area == page.graph.plot_area
    assert page.graph.end - page.graph.first == 86400


async def test_stat_list_and_compare_belong_to_the_user_only(
    settings: Settings, engine: Engine, owner: Account, outsider: Account,
    copies: tuple[ExitStack, list[str], list[str]],
) -> None:
    _stack, graph, analysis = copies
    mine = make_stat(engine, owner, "mine", "value")
    make_stat(engine, outsider, "theirs", "value")

    async with services(settings, engine, graph, analysis) as svc:
        listed = await stat_list(svc, owner.user, "", API_URL)
        with pytest.raises(NotFound):
            await stat_page(svc, outsider.user, mine.public_id, None, API_URL, WEB_URL)
        with pytest.raises(NotFound):
            await compare_page(svc, outsider.user, [mine.public_id], "1d")

    assert [row.stat.name for row in listed.rows] == ["mine"]


async def test_sorting_by_value_ranks_every_stat_not_only_the_first_500_by_name(
    settings: Settings, engine: Engine, owner: Account,
    copies: tuple[ExitStack, list[str], list[str]],
) -> None:
    _stack, graph, analysis = copies
    now = int(time.time())
    with engine.begin() as conn:
        made = [create_stat(conn, owner.user.id, f"metric {i:04d}", "value", now)
                for i in range(620)]
        orders = create_stat(conn, owner.user.id, "orders", "counter", now)
    put_points(engine, made[3], [(now - 60, 5.0)])
    put_points(engine, made[610], [(now - 7200, 1.0), (now - 60, 900.0), (now - 60, 1100.0)])
    put_points(engine, orders, [(now - 60, 30.0), (now - 60, 40.0)])  # a counter's hour: 70

    async with services(settings, engine, graph, analysis) as svc:
        first = await stat_list(svc, owner.user, "", API_URL, sort="value")
        second = await stat_list(svc, owner.user, "", API_URL, sort="value", page=2)
        searched = await stat_list(svc, owner.user, "metric", API_URL, sort="value")

    shown = [(row.stat.name, row.latest) for row in first.rows[:4]]
    assert shown == [("metric 0610", 1000.0), ("orders", 70.0), ("metric 0003", 5.0),
                     ("metric 0000", None)]
    assert (first.total, first.pages, len(first.rows)) == (621, 7, 100)
    assert second.rows[0].stat.name == "metric 0098"  # the rest by name, after those with data
    assert [row.stat.name for row in searched.rows[:2]] == ["metric 0610", "metric 0003"]
