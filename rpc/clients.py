"""Typed clients of the app servers: one method per RPC method, models in and out.

Each method sends its ``aerie.contracts`` params model and reads the answer as its
result model, so callers never spell a method name or a result's keys. It is also
the one place where a failure of the RPC machinery becomes the domain's
``Unavailable`` (a 503 the caller may retry): no copy answering
(``AllReplicasDown``), a JSON-RPC error that is not a domain error (a copy
mid-upgrade that does not know a parameter yet, an internal error), an answer
that does not fit the contract, or any other HTTP failure. A domain error raised
by the method (``NotFound``, ``BadRequest``...) is raised as itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

import httpx
from pydantic import TypeAdapter, ValidationError

from aerie.contracts import (
    BacktestParams,
    BacktestResult,
    OverviewParams,
    Params,
    RankParams,
    RenderParams,
    RenderResult,
    StatOverview,
    SummarizeParams,
    Summary,
)
from aerie.errors import AerieError, Unavailable
from rpc.client import COOLDOWN_SECONDS, RpcClient, RpcError
from rpc.server import describe

T = TypeVar("T")

_IDS: TypeAdapter[list[str]] = TypeAdapter(list[str])
_OVERVIEW: TypeAdapter[dict[str, StatOverview]] = TypeAdapter(dict[str, StatOverview])


class TypedClient(RpcClient):
    """An ``RpcClient`` for one kind of app server, named by ``service_name``."""

    service_name: ClassVar[str]

    def __init__(
        self,
        urls: Sequence[str],
        *,
        secret: bytes,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        cooldown: float = COOLDOWN_SECONDS,
    ) -> None:
        super().__init__(self.service_name, urls, secret=secret, timeout=timeout,
                         transport=transport, cooldown=cooldown)

    async def _ask(self, method: str, params: Params, answer: TypeAdapter[T],
                   affinity: str | None = None) -> T:
        """The method's answer as ``answer`` reads it; Unavailable for any RPC failure.
        Calls with the same ``affinity`` go to the same copy while it answers."""
        sent = params.model_dump(mode="json", exclude_unset=True)
        try:
            raw: Any = await (self.call(method, **sent) if affinity is None
                              else self.call_keyed(affinity, method, **sent))
        except AerieError:
            raise  # the method's own error, or AllReplicasDown (already Unavailable)
        except RpcError as exc:
            raise self._unavailable(f"{method} failed: {exc.message}") from exc
        except httpx.HTTPError as exc:
            raise self._unavailable(f"{method} failed: {type(exc).__name__}") from exc
        try:
            return answer.validate_python(raw)
        except ValidationError as exc:
            raise self._unavailable(f"its answer to {method} is not as agreed ({describe(exc)})"
                                    ) from exc

    def _unavailable(self, why: str) -> Unavailable:
        return Unavailable(f"the {self.service} service is unavailable: {why}")


_RENDER = TypeAdapter(RenderResult)


def graph_key(params: RenderParams) -> str:
    """What names one picture: every param but whether the image itself is sent back."""
    return params.model_dump_json(exclude={"with_body"})
_SUMMARY = TypeAdapter(Summary)
_BACKTEST = TypeAdapter(BacktestResult)


class GraphClient(TypedClient):
    """The graph servers (``app_servers.graph.GraphServer``).

    Each copy caches its renders, so every request for one graph (the same params
    but ``with_body``) goes to the same copy by rendezvous hashing: a page's layout
    call and its image request make one render between them, not one per copy.
    """

    service_name = "graph"

    async def render(self, params: RenderParams) -> RenderResult:
        """The drawn graph; NotFound for a stat not the user's, BadRequest for options
        the server cannot draw, Unavailable when no copy can answer."""
        return await self._ask("render", params, _RENDER, affinity=graph_key(params))


class AnalysisClient(TypedClient):
    """The analysis servers (``app_servers.analysis.AnalysisServer``)."""

    service_name = "analysis"

    async def summarize(self, params: SummarizeParams) -> Summary:
        """The stat's figures over the frame and the one before; NotFound for a stat not
        the user's."""
        return await self._ask("summarize", params, _SUMMARY)

    async def overview(self, params: OverviewParams) -> dict[str, StatOverview]:
        """Each of the user's stats among ``stat_ids`` by public id; others are absent."""
        return await self._ask("overview", params, _OVERVIEW)

    async def rank_by_latest(self, params: RankParams) -> list[str]:
        """The public ids of one page of the user's matching stats, by latest value."""
        return await self._ask("rank_by_latest", params, _IDS)

    async def backtest(self, params: BacktestParams) -> BacktestResult:
        """What the rule would have done on the stat; NotFound for a stat not the user's."""
        return await self._ask("backtest", params, _BACKTEST)

