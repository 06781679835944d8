"""Call a service's replicas over JSON-RPC 2.0, failing over between them.

The contract of ``RpcClient.call``:

- Calls are spread round-robin: each call starts at the next replica in turn.
  A call with an affinity key (``call_keyed``) instead goes to the replicas in
  the order of rendezvous (highest-random-weight) hashing of the key with each
  URL: the same key always goes to the same replica while it answers, and to
  the same next one when it does not, so work a replica caches (a graph's
  render) is done once, not once per copy. Adding or losing a replica moves
  only the keys that hashed to it.
- A replica that gives no answer (connection refused or reset, a timeout, HTTP
  502, 503 or 504, or a body that is not a JSON-RPC response to this call) is
  failed over: the call is sent to the next replica. A replica that failed
  sits out a short cool-down while others are healthy, so one dead copy does
  not slow every call; if every replica is cooling down, all are still tried.
- Once every replica has failed, ``AllReplicasDown`` (an ``Unavailable``, so a
  503 to the web tier's handler) is raised, naming the service and each attempt.
- Every attempt is signed with the shared RPC secret (``rpc.signing``). A
  replica that refuses the signature (HTTP 401: a different secret, or a clock
  too far off) is failed over like a dead one, and its reason names the cause.
- An answer the server gave is never retried. A domain error raised remotely
  (JSON-RPC code -32000 carrying ``data.status``) is raised again here as the
  same ``AerieError`` subclass with the remote message, so use cases see
  ``NotFound``, not an RPC error. Any other JSON-RPC error raises ``RpcError``.

Because a timed-out call may still have run on the replica that timed out, and
then runs again on the next one, methods called this way must be safe to
retry: reads and idempotent work only.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self

import httpx
from pydantic import BaseModel, StrictInt, StrictStr, ValidationError, model_validator

from aerie import errors
from aerie.errors import AerieError, Unavailable
from rpc.server import DOMAIN_ERROR, encode
from rpc.signing import sign

COOLDOWN_SECONDS = 2.0

# Answers meaning "this replica cannot serve now", typically from a proxy in front of it.
FAILOVER_STATUSES = frozenset({502, 503, 504})

# Every domain error in aerie.errors, read from the module so a class added there
# crosses the wire without a change here.
ERRORS_BY_KIND: dict[str, type[AerieError]] = {
    name: value
    for name, value in vars(errors).items()
    if isinstance(value, type) and issubclass(value, AerieError)
}
# AerieError shares 400 with BadRequest; the subclass is the one a status alone names.
ERRORS_BY_STATUS = {
    error.status: error for error in ERRORS_BY_KIND.values() if error is not AerieError
}


class RpcError(Exception):
    """The remote answered with a JSON-RPC error that is not a domain error."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{message} (JSON-RPC error {code})")
        self.code = code
        self.message = message
        self.data = data


@dataclass(frozen=True)
class FailedAttempt:
    """One replica that gave no answer to a call, and why."""

    url: str
    reason: str

    def __str__(self) -> str:
        return f"{self.url}: {self.reason}"


class AllReplicasDown(Unavailable):
    """No replica of ``service`` answered a call; ``attempts`` says what each one did."""

    def __init__(self, service: str, attempts: Sequence[FailedAttempt]) -> None:
        self.service = service
        self.attempts = tuple(attempts)
        copies = "its only copy" if len(attempts) == 1 else f"none of its {len(attempts)} copies"
        verb = "did not answer" if len(attempts) == 1 else "answered"
        details = "; ".join(str(attempt) for attempt in attempts)
        super().__init__(f"the {service} service is unavailable: {copies} {verb} ({details})")


class RpcErrorBody(BaseModel):
    code: StrictInt
    message: StrictStr
    data: Any = None


class RpcResponse(BaseModel):
    """A JSON-RPC 2.0 response: exactly one of ``result`` and ``error``."""

    jsonrpc: Literal["2.0"]
    id: StrictInt | StrictStr | None
    result: Any = None
    error: RpcErrorBody | None = None

    @model_validator(mode="after")
    def _result_or_error(self) -> Self:
        if ("result" in self.model_fields_set) == (self.error is not None):
            raise ValueError("a response has either a result or an error")
        return self


class ReplicaFailed(Exception):
    """This replica gave no usable answer; the message says what happened instead."""


def domain_error(status: int, kind: object, message: str) -> AerieError:
    """The local twin of a remote domain error: by class name, else by status."""
    error_class = ERRORS_BY_KIND.get(str(kind)) or ERRORS_BY_STATUS.get(status)
    if error_class is not None:
        return error_class(message)
    error = AerieError(message)
    error.status = status  # a status this side has no class for still reaches the handler
    return error


def raised_for(error: RpcErrorBody) -> Exception:
    """The exception a JSON-RPC error answer is raised as."""
    data = error.data if isinstance(error.data, dict) else {}
    status = data.get("status")
    if error.code == DOMAIN_ERROR and isinstance(status, int) and not isinstance(status, bool):
        return domain_error(status, data.get("kind"), error.message)
    return RpcError(error.code, error.message, error.data)


def transport_failure(exc: httpx.TransportError) -> str:
    """A short reason for a failed exchange; timeouts carry no message of their own."""
    detail = str(exc)
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def refusal(reply: httpx.Response) -> str:
    """The server's reason for refusing a call, from its JSON-RPC error if it gave one."""
    try:
        error = RpcResponse.model_validate_json(reply.content).error
    except ValidationError:
        return "no reason given"
    return error.message if error is not None else "no reason given"


def rendezvous_weight(key: str, url: str) -> int:
    """The replica's weight for ``key``: the same in every process (no salted ``hash``)."""
    digest = hashlib.blake2b(f"{url}\n{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class RpcClient:
    """JSON-RPC calls to one service's replicas over one shared HTTP client.

    Methods called through it must be safe to retry (reads and idempotent
    work): a call that timed out on one replica is sent to the next.
    """

    def __init__(
        self,
        service: str,
        urls: Sequence[str],
        *,
        secret: bytes,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        cooldown: float = COOLDOWN_SECONDS,
    ) -> None:
        if not urls:
            raise ValueError(f"the {service} service needs at least one replica URL")
        self.service = service
        self.urls = tuple(urls)
        self._secret = secret
        self._cooldown = cooldown
        self._cooling_until: dict[str, float] = {}
        self._turn = itertools.count()
        self._ids = itertools.count(1)
        # Replicas are peers on the private network; a proxy set in the
        # environment for the outside world must not capture these calls.
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport, trust_env=False)

    async def call(self, method: str, /, **params: Any) -> Any:
        """The method's result from the first replica that answers, starting at the next
        replica in turn.

        Raises the remote domain error (``NotFound``...), ``RpcError`` for any
        other JSON-RPC error, ``AllReplicasDown`` when no replica answered.
        """
        return await self._call(self._rotated(), method, params)

    async def call_keyed(self, key: str, method: str, /, **params: Any) -> Any:
        """As ``call``, but every call with the same ``key`` goes to the same replica
        (the next one by the key's weights when that one gives no answer)."""
        return await self._call(self._by_weight(key), method, params)

    async def _call(self, order: list[str], method: str, params: dict[str, Any]) -> Any:
        request_id = next(self._ids)
        request = {"jsonrpc": "2.0", "method": method, "params": params, "id": request_id}
        body = encode(request)
        failures = []
        for url in self._healthy_first(order):
            try:
                response = await self._exchange(url, body, request_id)
            except ReplicaFailed as exc:
                failures.append(FailedAttempt(url, str(exc)))
                self._cooling_until[url] = time.monotonic() + self._cooldown
                continue
            self._cooling_until.pop(url, None)
            if response.error is not None:
                raise raised_for(response.error)
            return response.result
        raise AllReplicasDown(self.service, failures)

    def _rotated(self) -> list[str]:
        """Every replica, starting at this call's turn."""
        start = next(self._turn) % len(self.urls)
        return list(self.urls[start:] + self.urls[:start])

    def _by_weight(self, key: str) -> list[str]:
        """Every replica, heaviest first, each weighed by a hash of ``key`` and its URL."""
        return sorted(self.urls, key=lambda url: rendezvous_weight(key, url), reverse=True)

    def _healthy_first(self, order: list[str]) -> list[str]:
        """``order`` with the replicas cooling down moved to the end."""
        now = time.monotonic()
        healthy = [url for url in order if self._cooling_until.get(url, 0.0) <= now]
        cooling = [url for url in order if url not in healthy]
        return healthy + cooling

    async def _exchange(self, url: str, body: bytes, request_id: int) -> RpcResponse:
        """The replica's JSON-RPC answer to this call; raises ReplicaFailed when there is none."""
        try:
            reply = await self._http.post(
                url, content=body,
                headers={"content-type": "application/json", **sign(self._secret, body)},
            )
        except httpx.TransportError as exc:
            raise ReplicaFailed(transport_failure(exc)) from exc
        if reply.status_code == 401:
            raise ReplicaFailed(f"HTTP 401, call refused: {refusal(reply)}")
        if reply.status_code in FAILOVER_STATUSES:
            raise ReplicaFailed(f"HTTP {reply.status_code}")
        try:
            response = RpcResponse.model_validate_json(reply.content)
        except ValidationError as exc:
            raise ReplicaFailed(f"not a JSON-RPC answer (HTTP {reply.status_code})") from exc
        # A null id is the server's answer to a request it could not read (too
        # large, say): an answer, not a failed replica.
        unread = response.id is None and response.error is not None
        if response.id != request_id and not unread:
            raise ReplicaFailed(f"answered request {response.id!r} instead of {request_id}")
        return response

    async def aclose(self) -> None:
        """Close the pooled connections to every replica."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
