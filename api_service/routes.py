"""The hot path: ``/ez``, ``/c``, ``/v`` and the ping, as one lean ASGI middleware.

FastAPI's dependency injection and form parsing cost several times a trivial
handler's work, so these routes read the ASGI messages themselves; every other
path falls through to the FastAPI app.
"""

from __future__ import annotations

import asyncio
from time import perf_counter
from typing import Any

import orjson
from sqlalchemy.exc import DBAPIError

from aerie.errors import AerieError, BadRequest, TooLarge, Unavailable
from aerie.monitor import Metrics
from aerie.schema import COUNTER, VALUE
from api_service.ingest import Ingestor
from api_service.parsing import merged_params, wants_body
from api_service.rate_limit import RateLimited

Scope = dict[str, Any]
_CORS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
    (b"access-control-allow-headers", b"Content-Type"),
]
_JSON = [(b"content-type", b"application/json")]
_INGEST_PATHS = {"/ez", "/c", "/v"}
# A 429 is answered when the account's hold ends, this long after at most, and no more
# than MAX_HELD_ANSWERS wait at once (past that, at once): each holds a connection.
HOLD_ANSWER_SECONDS = 1.0
MAX_HELD_ANSWERS = 1000
_OK = orjson.dumps({"status": 200, "msg": "ok"})
_OK_START = {"type": "http.response.start", "status": 200,
             "headers": [*_CORS, *_JSON, (b"content-length", str(len(_OK)).encode())]}
_OK_BODY = {"type": "http.response.body", "body": _OK}


class IngestionRoutes:
    def __init__(self, app: Any, ingestor: Ingestor, verbose: bool, max_body_bytes: int,
                 metrics: Metrics) -> None:
        self._app = app
        self._ingestor = ingestor
        self._verbose = verbose
        self._max_body = max_body_bytes
        self._metrics = metrics
        self._held_answers = 0  # 429s waiting for their account's hold to end
        # names built once: the hot path only looks them up
        self._names = {path: (f"aerie api requests {path}", f"aerie api latency ms {path}")
                       for path in _INGEST_PATHS}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path")
        if scope["type"] != "http" or (path not in _INGEST_PATHS and path != "/"):
            await self._app(scope, receive, send)
            return
        method = scope["method"]
        if method == "OPTIONS":
            await _answer(send, 204, None)
        elif path == "/":
            if method not in ("GET", "HEAD"):
                await self._app(scope, receive, send)
                return
            await _answer(send, 200, b"ok\n", [(b"content-type", b"text/plain")])
        elif method not in ("GET", "POST"):
            await _error(send, 405, f"{method} is not allowed; use GET or POST")
        else:
            started = perf_counter()
            status = await self._ingest(scope, receive, send)
            self._count_request(path, status, perf_counter() - started, scope)

    async def _wait_out_hold(self, refused: RateLimited) -> None:
        """Answer a 429 when the account's hold ends (up to HOLD_ANSWER_SECONDS), so
        a client retrying at once sends one refused request a hold, not thousands a
        second: each cost the event loop as much as an accepted post, and other
        accounts' posts waited behind them (bench/fairness.py: the quiet account's
        p50 went from 3 ms to 7-8 ms during a flood; with the wait, 3.2-3.5 ms)."""
        if self._held_answers >= MAX_HELD_ANSWERS:
            return
        self._held_answers += 1
        try:
            await asyncio.sleep(min(refused.held_seconds, HOLD_ANSWER_SECONDS))
        finally:
            self._held_answers -= 1

    def _count_request(self, path: str, status: int, seconds: float, scope: Scope) -> None:
        metrics = self._metrics
        requests, latency = self._names[path]
        metrics.count(requests)
        metrics.observe(latency, seconds * 1000)
        if status >= 400:
            metrics.count("aerie api errors 4xx" if status < 500 else "aerie api errors 5xx")
        if metrics.port is None:
            metrics.learn_port(scope)

    async def _ingest(self, scope: Scope, receive: Any, send: Any) -> int:
        """Serve one ingestion request; returns the status answered."""
        try:
            content_type, length = _headers(scope)
            if length > self._max_body:
                raise TooLarge(f"the body is {length} bytes; the limit is {self._max_body}")
            body = await _read_body(receive, self._max_body) if scope["method"] == "POST" else b""
            path = scope["path"]
            if path == "/ez" and body:
                self._ingestor.refuse_held_back(body)
            params = merged_params(scope["query_string"], content_type, body)
            if path == "/ez":
                recorded = await self._ingestor.record_ez(params, scope)
            else:
                recorded = await self._ingestor.record_classic(
                    params, COUNTER if path == "/c" else VALUE)
        except AerieError as exc:
            self._metrics.count(f"aerie api errors {type(exc).__name__}")
            retry = None
            if isinstance(exc, RateLimited):
                retry = [(b"retry-after", str(exc.retry_after).encode())]
                await self._wait_out_hold(exc)
            await _error(send, exc.status, exc.message, retry)
            return exc.status
        except DBAPIError:
            self._metrics.count("aerie api errors database")
            await _error(send, 503, Unavailable.default_message)
            return 503
        if not (self._verbose or wants_body(params)):
            await _answer(send, 204, None)
            return 204
        if not recorded.batch:
            await send(_OK_START)  # StatHat's 25-byte answer, made once
            await send(_OK_BODY)
            return 200
        answer = {"status": 200, "msg": "ok", "multiple": recorded.items}
        await _answer(send, 200, orjson.dumps(answer), _JSON)
        return 200


def _headers(scope: Scope) -> tuple[str, int]:
    content_type, length = "", 0
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value.decode("latin-1").lower()
        elif name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                length = 0
    return content_type, length


async def _read_body(receive: Any, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            # The client left before its Content-Length arrived: a part of a
            # request is not a request, so nothing of it is recorded.
            raise BadRequest("the body ended before its Content-Length; nothing was recorded")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _error(
    send: Any, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = orjson.dumps({"status": status, "msg": message})
    await _answer(send, status, body, _JSON + headers if headers else _JSON)


async def _answer(
    send: Any, status: int, body: bytes | None, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    all_headers = list(_CORS)
    if headers:
        all_headers.extend(headers)
    if body is not None:
        all_headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body or b""})
