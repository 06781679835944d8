"""The typed contract on both sides: servers validate params with the contract's models,
typed clients turn every RPC failure into "unavailable" and keep domain errors."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aerie.contracts import (
    BacktestParams,
    Params,
    RenderParams,
    SummarizeParams,
)
from aerie.errors import BadRequest, NotFound, Unavailable
from aerie.secret_key import load_rpc_secret
from aerie.settings import Settings
from interactor.alert_forms import parse_rule
from rpc import AllReplicasDown, create_rpc_app
from rpc.clients import AnalysisClient, GraphClient
from tests.conftest import Account, make_stat, put_points
from tests.rpc.test_rpc import SECRET, dead_url, post, request
from tests.servers import RunningServer, serve

pytestmark = pytest.mark.anyio


class AddParams(Params):
    a: int
    b: int = 0


class Adder:
    rpc_methods = ("add",)

    async def add(self, a: int, b: int = 0) -> int:
        return a + b


# The server side


async def test_a_served_contract_validates_params_naming_each_problem() -> None:
    with serve(create_rpc_app(Adder(), name="adder", secret=SECRET,
                              contracts={"add": AddParams})) as server:
        assert (await post(server.url, request("add", {"a": 2}))).json()["result"] == 2
        assert (await post(server.url, request("add", [2, 3]))).json()["result"] == 5
        error = (await post(server.url, request("add", {"b": "x", "c": 1}))).json()["error"]
    assert error["code"] == -32602
    assert error["message"] == (
        "invalid params for add: missing parameter 'a'; parameter 'b': Input should be a valid "
        "integer, unable to parse string as an integer; unexpected parameter 'c'"
    )


def test_a_contract_that_does_not_match_the_method_stops_start_up() -> None:
    class OnlyA(Params):
        a: int

    with pytest.raises(TypeError, match=r"add\(\) does not match its contract OnlyA"):
        create_rpc_app(Adder(), name="adder", secret=SECRET, contracts={"add": OnlyA})
    with pytest.raises(TypeError, match="serves add but its contracts name none"):
        create_rpc_app(Adder(), name="adder", secret=SECRET, contracts={})


# The client side: what each failure becomes


def answering(answer: dict[str, Any]) -> Starlette:
    """A copy that answers every call with ``answer`` (a result or an error), signed or not."""

    async def call(request: Request) -> Response:
        request_id = (await request.json())["id"]
        return JSONResponse({"jsonrpc": "2.0", "id": request_id, **answer})

    return Starlette(routes=[Route("/", call, methods=["POST"])])


@pytest.fixture
def broken(request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    with serve(answering(request.param)) as server:
        yield server


RENDER = RenderParams(user_id=1, stat_ids=["abc"])


@pytest.mark.parametrize(("broken", "why"), [
    ({"error": {"code": -32603, "message": "internal error in graph.render"}},
     "render failed: internal error in graph.render"),
    ({"error": {"code": -32602, "message": "invalid params for render: unexpected parameter"}},
     "render failed: invalid params for render"),
    ({"result": {"content_type": "image/png"}}, "its answer to render is not as agreed (etag:"),
    ({"result": "a picture"}, "its answer to render is not as agreed"),
], indirect=["broken"], ids=["internal error", "protocol error", "missing fields", "not an object"])
async def test_every_rpc_failure_is_unavailable(broken: RunningServer, why: str) -> None:
    async with GraphClient([broken.url], secret=SECRET) as graph:
        with pytest.raises(Unavailable) as raised:
            await graph.render(RENDER)
    assert raised.value.status == 503
    assert raised.value.message.startswith("the graph service is unavailable: ")
    assert why in raised.value.message


async def test_no_copy_answering_is_unavailable() -> None:
    async with GraphClient([dead_url()], secret=SECRET) as graph:
        with pytest.raises(AllReplicasDown, match="the graph service is unavailable"):
            await graph.render(RENDER)


@pytest.mark.parametrize("broken", [
    {"error": {"code": -32000, "message": "no stat with id 'abc'",
               "data": {"status": 404, "kind": "NotFound"}}},
], indirect=True)
async def test_a_domain_error_stays_itself(broken: RunningServer) -> None:
    async with GraphClient([broken.url], secret=SECRET) as graph:
        with pytest.raises(NotFound, match="no stat with id 'abc'"):
            await graph.render(RENDER)


# Against the real app servers


async def test_the_backtest_takes_a_parsed_rule(
    app_server_settings: Settings, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "errors", "counter")
    now = int(time.time())
    put_points(engine, stat, [(now - 5 * 86400, 900), (now - 3600, 3)])
    form = {"kind": "value", "time_window": "5m", "operator": "gt", "threshold": "500"}
    rule = parse_rule(form)
    secret = load_rpc_secret(app_server_settings)
    async with AnalysisClient(app_server_settings.analysis_replicas, secret=secret) as analysis:
        tested = await analysis.backtest(
            BacktestParams(user_id=owner.user.id, stat_id=stat.public_id, rule=rule))
        summary = await analysis.summarize(
            SummarizeParams(user_id=owner.user.id, stat_id=stat.public_id, timeframe="1d"))
        with pytest.raises(BadRequest, match="a backtest covers 1 to 30 days"):
            await analysis.backtest(BacktestParams(
                user_id=owner.user.id, stat_id=stat.public_id, rule=rule, days=31))
    assert tested.days == 30 and len(tested.firings) == 1
    assert summary.current.total == 3
