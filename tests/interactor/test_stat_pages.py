"""The stat page use cases, driven directly as the CLI and the web app drive them."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager

import pytest
from sqlalchemy import Engine

from aerie.contracts import Change, PeriodSummary, RenderResult, Summary
from aerie.errors import NotFound
from aerie.secret_key import load_rpc_secret
from aerie.settings import Settings
from aerie.stats import create_stat
from app_servers.analysis import create_app as analysis_app
from app_servers.graph import create_app as graph_app
from interactor.base import Services
from interactor.stat_pages import compare_page, stat_list, stat_page
from presenters.links import graph_image
from rpc.client import AllReplicasDown
from rpc.clients import AnalysisClient, GraphClient
from rpc.server import create_rpc_app
from tests.conftest import Account, make_stat, put_points
from tests.servers import free_port, serve

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


async def test_the_stat_page_survives_losing_a_graph_copy_and_says_when_all_are_gone(
    settings: Settings, engine: Engine, owner: Account, copies: tuple[ExitStack, list[str], list[str]]
) -> None:
    graph_stack, graph, analysis = copies
    stat = make_stat(engine, owner, "orders", "counter")
    put_points(engine, stat, [(int(time.time()) - 90, 4)])
    dead = f"http://127.0.0.1:{free_port()}"

    async with services(settings, engine, [dead, graph[0]], analysis) as svc:
        page = await stat_page(svc, owner.user, stat.public_id, "1d", API_URL, WEB_URL)
        assert page.summary["current"]["total"] == 4
        assert graph_image(page.graph, "png") == f"/stats/{stat.public_id}/graph.png?tf=1d"
        graph_stack.close()  # both graph copies gone
        with pytest.raises(AllReplicasDown, match="graph service is unavailable"):
            await stat_page(svc, owner.user, stat.public_id, "1d", API_URL, WEB_URL)


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


class Rendezvous:
    """Two fake app servers whose calls each wait for the other's: they finish only if the
    use case has both calls in flight at once, and fail (rather than hang) otherwise."""

    def __init__(self) -> None:
        self.graph_called = threading.Event()
        self.analysis_called = threading.Event()

    def meet(self, mine: threading.Event, theirs: threading.Event) -> None:
        mine.set()
        if not theirs.wait(timeout=5):
            raise RuntimeError("the other call never came while this one waited")


class SlowGraph:
    rpc_methods = ("render",)

    def __init__(self, rendezvous: Rendezvous) -> None:
        self._r = rendezvous

    def render(self, user_id: int, stat_ids: list[str], timeframe: str, previous: bool,
               timezone: str, width: int, height: int, with_body: bool) -> RenderResult:
        self._r.meet(self._r.graph_called, self._r.analysis_called)
        return RenderResult(content_type="image/png", etag="e", cached=False,
                            plot_area=[0.1, 0.1, 0.9, 0.9], first=0, end=60, interval=60,
                            comments=[])


class SlowAnalysis:
    rpc_methods = ("summarize",)

    def __init__(self, rendezvous: Rendezvous) -> None:
        self._r = rendezvous

    def summarize(self, user_id: int, stat_id: str, timeframe: str, timezone: str,
                  with_points: bool = False) -> Summary:
        self._r.meet(self._r.analysis_called, self._r.graph_called)
        nothing = PeriodSummary(latest=None, latest_time=None, min=None, max=None, mean=None,
                                stddev=None, total=None, points_with_data=0, received=0,
                                first=0, end=60)
        return Summary(current=nothing, previous=nothing, change=Change(mean=None, total=None))


async def test_the_stat_page_asks_for_graph_and_summary_at_the_same_time(
    settings: Settings, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "orders", "counter")
    rendezvous = Rendezvous()
    secret = load_rpc_secret(settings)
    with serve(create_rpc_app(SlowGraph(rendezvous), name="graph", secret=secret)) as graph, \
            serve(create_rpc_app(SlowAnalysis(rendezvous), name="analysis", secret=secret)) as analysis:
        async with services(settings, engine, [graph.url], [analysis.url]) as svc:
            page = await stat_page(svc, owner.user, stat.public_id, "1h", API_URL, WEB_URL)

    assert page.graph.plot_area == [0.1, 0.1, 0.9, 0.9]


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
