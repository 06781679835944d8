"""JSON-RPC between real servers in process: the server's answers, the client's failover."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import httpx
import orjson
import pytest
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aerie.errors import AerieError, NotFound, Unavailable
from rpc import AllReplicasDown, RpcClient, RpcError, create_rpc_app
from rpc.signing import sign
from tests.servers import RunningServer, free_port, serve

pytestmark = pytest.mark.anyio

SECRET = b"tests-only-rpc-secret"


class Point(BaseModel):
    stat: str
    value: float


@dataclass(frozen=True)
class Summary:
    stat: str
    doubled: float


class Teapot(AerieError):
    """A domain error the client has no class for."""

    status = 418


class Calculator:
    """The example service; ``calls`` records which methods this copy ran."""

    rpc_methods = ("add", "echo", "where", "summarize", "find", "brew", "explode")

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def add(self, a: int, b: int) -> int:
        self.calls.append("add")
        return a + b

    def echo(self, text: str, times: int = 1) -> str:
        self.calls.append("echo")
        return text * times

    def where(self) -> str:
        """Where a plain method runs: it must not be on the event loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return "worker thread"
        return "event loop"

    def summarize(self, point: Point) -> Summary:
        return Summary(point.stat, point.value * 2)

    def find(self, stat: str) -> str:
        self.calls.append("find")
        raise NotFound(f"no stat named {stat!r}")

    def brew(self) -> None:
        raise Teapot("I'm a teapot")

    def explode(self) -> None:
        raise RuntimeError("password=hunter2")

    def _private(self) -> str:
        return "hidden"


class StuckCalculator(Calculator):
    """A copy that takes ``add`` and answers only once released (at teardown)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    async def add(self, a: int, b: int) -> int:
        self.calls.append("add")
        await anyio.to_thread.run_sync(self.release.wait)
        return a + b


@pytest.fixture
def calculator() -> Calculator:
    return Calculator()


@pytest.fixture
def replica(calculator: Calculator) -> Iterator[RunningServer]:
    with serve(create_rpc_app(calculator, name="calculator", secret=SECRET)) as server:
        yield server


def dead_url() -> str:
    """A URL where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"


async def post(url: str, payload: Any) -> httpx.Response:
    """POST a raw body (bytes as they are, anything else as JSON), signed as a client signs."""
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    headers = {"content-type": "application/json", **sign(SECRET, body)}
    async with httpx.AsyncClient(trust_env=False) as http:
        return await http.post(url, content=body, headers=headers)


def request(method: str, params: Any = None, id: int | None = 1) -> dict[str, Any]:
    payload: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        payload["params"] = params
    if id is not None:
        payload["id"] = id
    return payload


# The server's answers


async def test_call_by_name_returns_the_result(replica: RunningServer) -> None:
    async with RpcClient("calculator", [replica.url], secret=SECRET) as client:
        assert await client.call("add", a=2, b=3) == 5
        assert await client.call("echo", text="ab", times=2) == "abab"


async def test_call_by_position_binds_params_in_declared_order(replica: RunningServer) -> None:
    answer = await post(replica.url, request("add", [2, 3], id=7))
    assert answer.json() == {"jsonrpc": "2.0", "id": 7, "result": 5}


async def test_plain_method_runs_in_a_worker_thread(replica: RunningServer) -> None:
    async with RpcClient("calculator", [replica.url], secret=SECRET) as client:
        assert await client.call("where") == "worker thread"


async def test_pydantic_params_and_dataclass_results_cross_the_wire(
    replica: RunningServer,
) -> None:
    async with RpcClient("calculator", [replica.url], secret=SECRET) as client:
        summary = await client.call("summarize", point=Point(stat="temp", value=1.5))
    assert summary == {"stat": "temp", "doubled": 3.0}


async def test_unknown_method_answers_32601_listing_the_methods(replica: RunningServer) -> None:
    async with RpcClient("calculator", [replica.url], secret=SECRET) as client:
        with pytest.raises(RpcError) as raised:
            await client.call("divide", a=1, b=2)
    assert raised.value.code == -32601
    assert "'divide'" in raised.value.message
    assert "add, brew, echo, explode, find, summarize, where" in raised.value.message


async def test_private_method_is_not_served(replica: RunningServer) -> None:
    async with RpcClient("calculator", [replica.url], secret=SECRET) as client:
        with pytest.raises(RpcError) as raised:
            await client.call("_private")
    assert raised.value.code == -32601
    assert raised.value.message.endswith(
        "(available: add, brew, echo, explode, find, summarize, where)"
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"a": 1, "b": "many"}, "parameter 'b': Input should be a valid integer"),
        ({"a": 1}, "missing parameter 'b'"),
        ({"a": 1, "b": 2, "c": 3}, "unexpected parameter 'c'"),
    ],
)
async def test_invalid_params_answer_32602_naming_the_parameter(
    replica: RunningServer, params: dict[str, Any], expected: str
) -> None:
    async with RpcClient("calculator", [replica.url], secret=SECRET) as client:
        with pytest.raises(RpcError) as raised:
            await client.call("add", **params)
    assert raised.value.code == -32602
    assert expected in raised.value.message


async def test_too_many_positional_params_answer_32602(replica: RunningServer) -> None:
    answer = (await post(replica.url, request("add", [1, 2, 3]))).json()
    assert answer["error"]["code"] == -32602
    assert "at most 2 params, got 3" in answer["error"]["message"]


async def test_domain_error_is_raised_again_and_not_failed_over(
    replica: RunningServer, calculator: Calculator
) -> None:
    other = Calculator()
    with serve(create_rpc_app(other, name="calculator", secret=SECRET)) as second:
        async with RpcClient("calculator", [replica.url, second.url], secret=SECRET) as client:
            with pytest.raises(NotFound, match="no stat named 'temp'"):
                await client.call("find", stat="temp")
    assert len(calculator.calls + other.calls) == 1


async def test_domain_error_without_a_local_class_keeps_its_status(
    replica: RunningServer,
) -> None:
    async with RpcClient("calculator", [replica.url], secret=SECRET) as client:
        with pytest.raises(AerieError, match="I'm a teapot") as raised:
            await client.call("brew")
    assert raised.value.status == 418


async def test_internal_error_answers_32603_and_logs_the_traceback(
    replica: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with RpcClient("calculator", [replica.url], secret=SECRET) as client:
        with pytest.raises(RpcError) as raised:
            await client.call("explode")
    assert raised.value.code == -32603
    assert raised.value.message == "internal error in calculator.explode"
    assert raised.value.data is None
    [record] = [r for r in caplog.records if r.name == "rpc.server"]
    assert record.levelno == logging.ERROR and record.exc_info is not None


async def test_batch_answers_each_request_but_the_notification(
    replica: RunningServer, calculator: Calculator
) -> None:
    batch = [
        request("add", {"a": 1, "b": 2}, id=1),
        request("echo", ["hi"], id=None),
        request("find", {"stat": "x"}, id=2),
        {"jsonrpc": "2.0", "id": 3},
    ]
    answers = {answer["id"]: answer for answer in (await post(replica.url, batch)).json()}
    assert answers[1]["result"] == 3
    assert answers[2]["error"]["data"] == {"status": 404, "kind": "NotFound"}
    assert answers[3]["error"]["code"] == -32600
    assert len(answers) == 3
    assert "echo" in calculator.calls


async def test_notification_runs_and_gets_no_body(
    replica: RunningServer, calculator: Calculator
) -> None:
    answer = await post(replica.url, request("echo", {"text": "hi"}, id=None))
    assert answer.status_code == 204
    assert answer.content == b""
    assert calculator.calls == ["echo"]


async def test_body_that_is_not_json_answers_32700(replica: RunningServer) -> None:
    answer = (await post(replica.url, b'{"jsonrpc": "2.0", "method": ')).json()
    assert answer["id"] is None
    assert answer["error"]["code"] == -32700


@pytest.mark.parametrize(
    "payload",
    [
        {"jsonrpc": "1.0", "method": "add", "id": 1},
        {"jsonrpc": "2.0", "method": 5, "id": 1},
        {"jsonrpc": "2.0", "method": "add", "params": "1,2", "id": 1},
        {"jsonrpc": "2.0", "method": "add", "id": True},
        [],
        42,
    ],
)
async def test_request_that_is_not_jsonrpc_answers_32600(
    replica: RunningServer, payload: Any
) -> None:
    answer = (await post(replica.url, payload)).json()
    assert answer["error"]["code"] == -32600


async def test_body_over_the_limit_is_refused() -> None:
    app = create_rpc_app(Calculator(), name="calculator", secret=SECRET, max_body_bytes=128)
    with serve(app) as server:
        async with RpcClient("calculator", [server.url], secret=SECRET) as client:
            assert await client.call("echo", text="short") == "short"
            with pytest.raises(RpcError) as raised:
                await client.call("echo", text="x" * 200)
    assert raised.value.code == -32600
    assert "over 128 bytes" in raised.value.message


async def test_healthz_names_the_service_and_its_methods(replica: RunningServer) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        health = (await http.get(replica.url + "/healthz")).json()
    assert health == {
        "status": "ok",
        "service": "calculator",
        "methods": ["add", "brew", "echo", "explode", "find", "summarize", "where"],
    }


def test_method_taking_var_args_cannot_be_served() -> None:
    class Sloppy:
        rpc_methods = ("total",)

        def total(self, *values: int) -> int:
            return sum(values)

    with pytest.raises(TypeError, match="total\\(\\) cannot be served"):
        create_rpc_app(Sloppy(), name="sloppy", secret=SECRET)


def test_a_service_that_declares_no_methods_cannot_be_served() -> None:
    class Undeclared:
        def total(self, a: int) -> int:
            return a

    with pytest.raises(TypeError, match="list its served methods in a class attribute rpc_methods"):
        create_rpc_app(Undeclared(), name="undeclared", secret=SECRET)


def test_a_declared_name_that_is_not_a_method_cannot_be_served() -> None:
    class Clocked:
        rpc_methods = ("now", "clock")

        def __init__(self) -> None:
            self.clock = 12.5

        def now(self) -> float:
            return self.clock

    with pytest.raises(TypeError, match="Clocked.rpc_methods names 'clock', which is not a method"):
        create_rpc_app(Clocked(), name="clocked", secret=SECRET)


# The client's spreading and failover


def misbehaving_app(status: int, body: str, hits: list[str]) -> Starlette:
    """A replica that answers every call with ``status`` and ``body``, counting calls."""

    async def answer(request: Request) -> Response:
        hits.append(request.url.path)
        return Response(body, status_code=status, media_type="text/html")

    return Starlette(routes=[Route("/", answer, methods=["POST"])])


async def test_calls_are_spread_round_robin(replica: RunningServer, calculator: Calculator) -> None:
    other = Calculator()
    with serve(create_rpc_app(other, name="calculator", secret=SECRET)) as second:
        async with RpcClient("calculator", [replica.url, second.url], secret=SECRET) as client:
            for n in range(10):
                assert await client.call("add", a=n, b=1) == n + 1
    assert calculator.calls == ["add"] * 5
    assert other.calls == ["add"] * 5


async def test_keyed_calls_stick_to_one_replica_each_and_fail_over_together(
    replica: RunningServer, calculator: Calculator
) -> None:
    other = Calculator()
    keys = [f"graph {n}" for n in range(12)]
    with ExitStack() as stack:
        second = stack.enter_context(serve(create_rpc_app(other, name="calculator", secret=SECRET)))
        async with RpcClient("calculator", [replica.url, second.url], secret=SECRET) as client:
            went_to = {}
            for key in keys:
                before = len(other.calls)
                for n in range(3):  # the same key, again and again: the same replica
                    assert await client.call_keyed(key, "add", a=n, b=1) == n + 1
                went_to[key] = "second" if len(other.calls) > before else "first"
                assert len(other.calls) - before in (0, 3)
            assert set(went_to.values()) == {"first", "second"}  # keys spread over both
            stack.close()  # the second replica goes: its keys move, the others stay
            kept = len(calculator.calls)
            for key in keys:
                assert await client.call_keyed(key, "add", a=1, b=1) == 2
    assert len(calculator.calls) - kept == len(keys)
    # Another client (another web app process), replicas listed in another order, weighs
    # each key the same way.
    urls = {"first": replica.url, "second": second.url}
    async with RpcClient("calculator", [second.url, replica.url], secret=SECRET) as client:
        for key in keys:
            assert client._by_weight(key)[0] == urls[went_to[key]]


async def test_replica_nobody_listens_on_is_failed_over(replica: RunningServer) -> None:
    async with RpcClient("calculator", [dead_url(), replica.url], secret=SECRET) as client:
        for n in range(4):
            assert await client.call("add", a=n, b=n) == 2 * n


async def test_replica_stopped_mid_test_is_failed_over(
    replica: RunningServer, calculator: Calculator
) -> None:
    other = Calculator()
    with ExitStack() as stack:
        second = stack.enter_context(serve(create_rpc_app(other, name="calculator", secret=SECRET)))
        async with RpcClient("calculator", [replica.url, second.url], secret=SECRET) as client:
            assert [await client.call("add", a=1, b=n) for n in range(2)] == [1, 2]
            stack.close()
            assert [await client.call("add", a=1, b=n) for n in range(4)] == [1, 2, 3, 4]
    assert other.calls == ["add"]
    assert calculator.calls == ["add"] * 5


async def test_all_replicas_down_raises_naming_the_service() -> None:
    urls = [dead_url(), dead_url()]
    async with RpcClient("graph", urls, secret=SECRET) as client:
        for _ in range(2):  # the second call finds both cooling down and still tries both
            with pytest.raises(AllReplicasDown) as raised:
                await client.call("add", a=1, b=2)
            assert isinstance(raised.value, Unavailable)
            assert raised.value.service == "graph"
            assert sorted(attempt.url for attempt in raised.value.attempts) == sorted(urls)
            assert "the graph service is unavailable: none of its 2 copies answered" in str(
                raised.value
            )


async def test_replica_slower_than_the_timeout_is_failed_over(calculator: Calculator) -> None:
    stuck = StuckCalculator()
    with serve(create_rpc_app(stuck, name="calculator", secret=SECRET)) as slow, serve(
        create_rpc_app(calculator, name="calculator", secret=SECRET)
    ) as fast:
        try:
            async with RpcClient("calculator", [slow.url, fast.url], secret=SECRET, timeout=0.5) as client:
                assert [await client.call("add", a=2, b=n) for n in range(2)] == [2, 3]
        finally:
            stuck.release.set()
    assert calculator.calls == ["add", "add"]


@pytest.mark.parametrize(
    ("status", "body"),
    [(503, "<h1>503 Service Unavailable</h1>"), (200, "<html>a login page</html>")],
)
async def test_replica_giving_no_jsonrpc_answer_is_failed_over_then_skipped(
    replica: RunningServer, status: int, body: str
) -> None:
    hits: list[str] = []
    with serve(misbehaving_app(status, body, hits)) as sick:
        async with RpcClient("calculator", [sick.url, replica.url], secret=SECRET, cooldown=60) as client:
            assert [await client.call("add", a=n, b=0) for n in range(6)] == list(range(6))
    assert len(hits) == 1


def test_on_shutdown_runs_when_the_server_stops_and_is_not_served() -> None:
    stopped: list[str] = []
    app = create_rpc_app(Calculator(), name="calculator", secret=SECRET,
                         on_shutdown=lambda: stopped.append("x"))

    with serve(app) as server:
        methods = httpx.get(server.url + "/healthz", trust_env=False).json()["methods"]
        assert stopped == []

    assert stopped == ["x"]
    assert "on_shutdown" not in methods
