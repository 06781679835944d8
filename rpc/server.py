"""Serve the methods a service object declares as JSON-RPC 2.0 over HTTP, to signed calls only.

``create_rpc_app(service, name=..., secret=...)`` answers ``POST /`` with JSON-RPC 2.0
(single requests and batches), ``GET /healthz`` with the service's name and
methods, and ``GET /readyz`` with 200 when its dependencies answer (by default
the database of any SQLAlchemy engine the service holds), 503 naming them if
not. Only the methods the service's class names in ``rpc_methods`` are served,
so an attribute added for the service's own use (its clock, its engine) never
becomes callable. ``async def`` methods are awaited; plain functions run in a
worker thread, so a blocking method never stalls the event loop (and several
may run at once: they must be thread-safe).

Every ``POST /`` must be signed with the shared RPC secret (``rpc.signing``):
an unsigned, stale, replayed or wrongly signed call gets HTTP 401 with a
JSON-RPC error (-32001) and runs nothing. The health routes need no signature;
they tell nothing about anyone's data.

Params are an object (by name) or an array (by position) and are validated
against the method's annotations with pydantic before the method runs, or, for
a service given ``contracts`` (the app servers: ``aerie.contracts``), against the
method's params model as a whole; a model that does not name exactly the
method's parameters stops start-up. What comes back:

- a result, encoded with orjson (dataclasses natively, pydantic models dumped);
- -32700 for a body that is not JSON, -32600 for a request that is not JSON-RPC
  2.0 or a body over ``max_body_bytes``, -32601 for an unknown method (the
  message lists the served ones), -32602 for missing, extra or mistyped params
  (the message names each parameter and what was wrong);
- -32000 for an ``AerieError``, with its message and
  ``data: {"status": ..., "kind": ...}`` so the client can raise the same
  domain error on its side;
- -32603 for any other exception: the message names only the method, the
  traceback goes to the log and never to the caller.

Notifications (requests without an id) run, but get no answer: 204, empty body.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
import typing
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import FunctionType
from typing import Any, Literal

import anyio.to_thread
import orjson
from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr, TypeAdapter, ValidationError
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aerie.errors import AerieError
from aerie.monitor import Metrics, Reporter, RequestMetrics
from aerie.readiness import ReadyCheck, ReplicaReport, database_check, readiness
from rpc.contract_checks import check_contract, contract_problem
from rpc.signing import Unsigned, Verifier

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
DOMAIN_ERROR = -32000
UNAUTHENTICATED = -32001

MAX_BODY_BYTES = 4 * 1024 * 1024

RequestId = StrictInt | StrictStr | None
Params = list[Any] | dict[str, Any]

logger = logging.getLogger(__name__)


class RpcRequest(BaseModel):
    """One JSON-RPC 2.0 request; strict, so ``"id": true`` or ``"method": 1`` is refused."""

    model_config = ConfigDict(strict=True, frozen=True)

    jsonrpc: Literal["2.0"]
    method: StrictStr
    params: Params | None = None
    id: RequestId = None

    @property
    def is_notification(self) -> bool:
        """A request without an ``id`` member (``"id": null`` still gets an answer)."""
        return "id" not in self.model_fields_set


class InvalidParams(Exception):
    """The params do not fit the method's signature; the message says how."""


@dataclass(frozen=True)
class Parameter:
    """One parameter of a served method and the pydantic validator for its annotation."""

    name: str
    adapter: TypeAdapter[Any]
    required: bool


@dataclass(frozen=True)
class ServedMethod:
    """A declared method with its parameters, ready to validate params and be called;
    ``contract``, if set, is the params model they are validated with."""

    name: str
    function: Callable[..., Any]
    parameters: tuple[Parameter, ...]
    contract: type[BaseModel] | None = None

    @classmethod
    def of(
        cls, name: str, function: Callable[..., Any], contract: type[BaseModel] | None = None
    ) -> ServedMethod:
        """Read the signature once; a signature params cannot be bound to, or a contract
        that does not match it, fails start-up."""
        hints = typing.get_type_hints(function)
        parameters = []
        for parameter in inspect.signature(function).parameters.values():
            if parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
                raise TypeError(
                    f"{name}() cannot be served over RPC: parameter {parameter.name!r} "
                    "must be passable by name (no *args, **kwargs or positional-only)"
                )
            adapter: TypeAdapter[Any] = TypeAdapter(hints.get(parameter.name, Any))
            required = parameter.default is parameter.empty
            parameters.append(Parameter(parameter.name, adapter, required))
        if contract is not None:
            check_contract(name, {p.name: p.required for p in parameters}, contract)
        return cls(name, function, tuple(parameters), contract)

    def bind(self, params: Params | None) -> dict[str, Any]:
        """Validated keyword arguments; raises InvalidParams naming every problem."""
        given = self._by_name(params)
        if self.contract is not None:
            return self._bind_contract(self.contract, given)
        known = {parameter.name for parameter in self.parameters}
        problems = [f"unexpected parameter {name!r}" for name in given if name not in known]
        arguments = {}
        for parameter in self.parameters:
            if parameter.name not in given:
                if parameter.required:
                    problems.append(f"missing parameter {parameter.name!r}")
                continue  # an absent optional parameter keeps the method's own default
            try:
                arguments[parameter.name] = parameter.adapter.validate_python(given[parameter.name])
            except ValidationError as exc:
                problems.append(f"parameter {parameter.name!r}: {describe(exc)}")
        if problems:
            raise InvalidParams(f"invalid params for {self.name}: {'; '.join(problems)}")
        return arguments

    def _bind_contract(self, contract: type[BaseModel], given: dict[str, Any]) -> dict[str, Any]:
        """The params validated as the contract's model; a parameter not given keeps the
        method's own default."""
        try:
            model = contract.model_validate(given)
        except ValidationError as exc:
            problems = "; ".join(contract_problem(error) for error in exc.errors(include_url=False))
            raise InvalidParams(f"invalid params for {self.name}: {problems}") from exc
        return {name: getattr(model, name) for name in model.model_fields_set}

    def _by_name(self, params: Params | None) -> dict[str, Any]:
        """Params by name, positional ones matched to the parameters in declared order."""
        if params is None:
            return {}
        if isinstance(params, dict):
            return params
        if len(params) > len(self.parameters):
            raise InvalidParams(
                f"invalid params for {self.name}: it takes at most {len(self.parameters)} "
                f"params, got {len(params)}"
            )
        return {parameter.name: value for parameter, value in zip(self.parameters, params, strict=False)}  # fewer is fine

    async def invoke(self, arguments: dict[str, Any]) -> Any:
        """Await a coroutine method; run a plain one in a worker thread."""
        if inspect.iscoroutinefunction(self.function):
            return await self.function(**arguments)
        return await anyio.to_thread.run_sync(functools.partial(self.function, **arguments))


def describe(exc: ValidationError) -> str:
    """A pydantic error as one line: ``where: what`` for each problem."""
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else error["msg"])
    return ", ".join(parts)


def declared_methods(service: object) -> Iterator[tuple[str, Callable[..., Any]]]:
    """The methods named in the service's ``rpc_methods``; TypeError at start-up if it
    declares none, or names something that is not a method.

    Looked up statically first so that properties are never evaluated and
    plain attributes are never mistaken for methods.
    """
    names = getattr(service, "rpc_methods", None)
    kind = type(service).__name__
    if not isinstance(names, tuple) or not names:
        raise TypeError(f"{kind} cannot be served over RPC: list its served methods in a "
                        "class attribute rpc_methods = ('name', ...)")
    for name in names:
        static = inspect.getattr_static(service, name, None)
        if not isinstance(static, FunctionType | staticmethod | classmethod):
            raise TypeError(f"{kind}.rpc_methods names {name!r}, which is not a method")
        yield name, getattr(service, name)


def to_json(value: Any) -> Any:
    """orjson's fallback: pydantic models become their JSON-mode dump."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def encode(value: Any) -> bytes:
    """JSON bytes; non-string dict keys are allowed since series are keyed by timestamps."""
    return orjson.dumps(value, default=to_json, option=orjson.OPT_NON_STR_KEYS)


def error_answer(request_id: RequestId, code: int, message: str, data: Any = None) -> dict[str, Any]:
    """A JSON-RPC error response object."""
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": request_id, "error": error}


def id_of(raw: object) -> RequestId:
    """The id of a request too malformed to parse, when it has a usable one."""
    if isinstance(raw, dict):
        request_id = raw.get("id")
        if isinstance(request_id, int | str) and not isinstance(request_id, bool):
            return request_id
    return None


class RpcService:
    """Dispatches JSON-RPC requests to one service object's methods."""

    def __init__(
        self, service: object, name: str, metrics: Metrics | None = None,
        contracts: Mapping[str, type[BaseModel]] | None = None,
    ) -> None:
        self.name = name
        self.metrics = metrics
        served = dict(declared_methods(service))
        if contracts is not None and set(contracts) != set(served):
            raise TypeError(
                f"{type(service).__name__} serves {', '.join(sorted(served))} but its contracts "
                f"name {', '.join(sorted(contracts)) or 'none'}: give each served method one"
            )
        self.methods = {
            method_name: ServedMethod.of(
                method_name, function, None if contracts is None else contracts[method_name])
            for method_name, function in served.items()
        }

    async def answer_body(self, body: bytes) -> dict[str, Any] | list[dict[str, Any]] | None:
        """The response to a request body: one object, a batch list, or None (notifications)."""
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return error_answer(None, PARSE_ERROR, f"parse error: {exc}")
        if not isinstance(payload, list):
            return await self.answer(payload)
        if not payload:
            return error_answer(None, INVALID_REQUEST, "invalid request: empty batch")
        # The calls of a batch are independent, so they run concurrently.
        answers = await asyncio.gather(*(self.answer(raw) for raw in payload))
        return [answer for answer in answers if answer is not None] or None

    async def answer(self, raw: object) -> dict[str, Any] | None:
        """The response to one request object, or None for a notification."""
        try:
            request = RpcRequest.model_validate(raw)
        except ValidationError as exc:
            return error_answer(id_of(raw), INVALID_REQUEST, f"invalid request: {describe(exc)}")
        answer = await self.call(request)
        return None if request.is_notification else answer

    async def call(self, request: RpcRequest) -> dict[str, Any]:
        """Run the method; every failure becomes an error answer, never an HTTP error."""
        method = self.methods.get(request.method)
        if method is None:
            available = ", ".join(sorted(self.methods)) or "none"
            message = (
                f"method not found: {self.name} has no method {request.method!r} "
                f"(available: {available})"
            )
            return error_answer(request.id, METHOD_NOT_FOUND, message)
        try:
            arguments = method.bind(request.params)
        except InvalidParams as exc:
            return error_answer(request.id, INVALID_PARAMS, str(exc))
        started = time.perf_counter()
        try:
            # Encoded here so an unencodable result is this call's error, not the batch's.
            result = orjson.Fragment(encode(await method.invoke(arguments)))
        except AerieError as exc:
            self._record(method.name, started, type(exc).__name__)
            data = {"status": exc.status, "kind": type(exc).__name__}
            return error_answer(request.id, DOMAIN_ERROR, exc.message, data)
        except Exception:
            self._record(method.name, started, "internal")
            logger.exception("internal error in %s.%s", self.name, method.name)
            message = f"internal error in {self.name}.{method.name}"
            return error_answer(request.id, INTERNAL_ERROR, message)
        self._record(method.name, started, None)
        return {"jsonrpc": "2.0", "id": request.id, "result": result}

    def _record(self, method: str, started: float, error: str | None) -> None:
        """Calls and latency per served method (a bounded set), errors per kind."""
        if self.metrics is None:
            return
        self.metrics.count(f"aerie {self.name} calls {method}")
        self.metrics.observe(f"aerie {self.name} call ms {method}",
                             (time.perf_counter() - started) * 1000)
        if error is not None:
            self.metrics.count(f"aerie {self.name} errors {error}")


async def read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None once it is over ``limit`` bytes (read no further than that)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def json_response(content: Any) -> Response:
    return Response(encode(content), media_type="application/json")


def create_rpc_app(
    service: object,
    *,
    name: str,
    secret: bytes,
    max_body_bytes: int = MAX_BODY_BYTES,
    on_shutdown: Callable[[], None] | None = None,
    ready_checks: Mapping[str, ReadyCheck] | None = None,
    replicas: ReplicaReport | None = None,
    reporter: Reporter | None = None,
    contracts: Mapping[str, type[BaseModel]] | None = None,
) -> Starlette:
    """An ASGI app serving ``service``'s declared ``rpc_methods`` to callers holding ``secret``;
    ``name`` appears in errors and health.

    ``on_shutdown`` runs when the server stops (an app server disposes its database
    engine there); it is not a method of ``service``, so it is never served.
    ``ready_checks`` are what ``/readyz`` runs; None means a database check for
    each SQLAlchemy ``Engine`` among the service's attributes (none: always ready);
    ``replicas`` (a ``ReadRouting``'s report) adds the read replicas' state to it.
    ``reporter``, if given, runs for the app's lifetime, and requests are counted into
    its metrics (see ``aerie.monitor``). ``contracts``, if given, holds each served
    method's params model (``aerie.contracts``), which its params are validated with.
    """
    rpc = RpcService(service, name, reporter.metrics if reporter is not None else None,
                     contracts)
    verifier = Verifier(secret)
    checks = engine_checks(service) if ready_checks is None else dict(ready_checks)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if reporter is not None:
            await reporter.start()
        try:
            yield
        finally:
            if reporter is not None:
                await reporter.stop()
            if on_shutdown is not None:
                on_shutdown()

    async def rpc_endpoint(request: Request) -> Response:
        body = await read_body(request, max_body_bytes)
        if body is None:
            message = f"invalid request: body over {max_body_bytes} bytes"
            return json_response(error_answer(None, INVALID_REQUEST, message))
        try:
            verifier.verify(request.headers, body)
        except Unsigned as exc:
            return Response(encode(error_answer(None, UNAUTHENTICATED, str(exc))),
                            status_code=401, media_type="application/json")
        answer = await rpc.answer_body(body)
        return Response(status_code=204) if answer is None else json_response(answer)

    async def healthz(request: Request) -> Response:
        return json_response({"status": "ok", "service": name, "methods": sorted(rpc.methods)})

    async def readyz(request: Request) -> Response:
        status, body = await readiness(checks, replicas)
        return Response(encode({**body, "service": name}), status_code=status,
                        media_type="application/json")

    app = Starlette(
        lifespan=lifespan,
        routes=[
            Route("/", rpc_endpoint, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ]
    )
    if reporter is not None:
        app.add_middleware(RequestMetrics, metrics=reporter.metrics)
    return app


def engine_checks(service: object) -> dict[str, ReadyCheck]:
    """A database check per ``Engine`` the service holds (app servers keep one), so
    ``/readyz`` knows the database without each app server wiring it up."""
    attributes = getattr(service, "__dict__", {}).values()
    engines = [value for value in attributes if isinstance(value, Engine)]
    if len(engines) == 1:
        return {"database": database_check(engines[0])}
    return {f"database{i}": database_check(engine) for i, engine in enumerate(engines, 1)}
