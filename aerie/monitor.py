"""Aerie watches itself: each process counts what it does and posts the figures, as stats
of the system account, through its own EZ API.

``Metrics`` is the in-process collector: plain dict updates, no locks, so it must be
called from the event loop's thread only (every role records there; the group-commit
writer records after awaiting its commit thread). Every ``AERIE_MONITOR_SECONDS`` a
``Reporter`` takes a snapshot (which resets the figures) and posts it as one EZ batch;
a post that fails is logged and its figures dropped, so monitoring never blocks or
stops the process it watches.

Stat names are ``aerie <role> ...``, readable and bounded in number: web and RPC
requests are named by their route template (``/stats/{public_id}``), never the raw
path, and errors by status class.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import httpx
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from aerie.settings import Settings
from aerie.system_account import system_ezkey

log = logging.getLogger("aerie.monitor")

POST_TIMEOUT_SECONDS = 5.0
UNMATCHED = "unmatched"  # requests no route answered: one name, however many paths


@dataclass(frozen=True)
class Snapshot:
    """One period's figures: counter totals, and per observed name (mean, count)."""

    counts: dict[str, float]
    observed: dict[str, tuple[float, int]]


class Metrics:
    """Counters and observations of one process; call from the event loop's thread."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.port: int | None = None  # learnt from the first request served
        self._counts: dict[str, float] = {}
        self._sums: dict[str, list[float]] = {}  # name -> [sum, count]

    def count(self, name: str, n: float = 1) -> None:
        counts = self._counts
        counts[name] = counts.get(name, 0) + n

    def observe(self, name: str, value: float) -> None:
        """One observation; reported as the period's mean (and how many were seen)."""
        found = self._sums.get(name)
        if found is None:
            self._sums[name] = [value, 1]
        else:
            found[0] += value
            found[1] += 1

    def snapshot(self) -> Snapshot:
        """The figures so far, which start again from nothing."""
        counts, self._counts = self._counts, {}
        sums, self._sums = self._sums, {}
        return Snapshot(counts, {name: (s / n, int(n)) for name, (s, n) in sums.items()})

    def learn_port(self, scope: dict[str, Any]) -> None:
        server = scope.get("server")
        if server and len(server) > 1 and server[1] is not None:
            self.port = int(server[1])

    def memory_stat(self) -> str:
        where = f"{self.role} {self.port}" if self.port else self.role
        return f"aerie {where} memory MB"


def resident_mb() -> float:
    """This process's resident memory in MB: /proc/self/statm, else the peak from getrusage."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1_048_576
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def ez_items(snapshot: Snapshot, memory: tuple[str, float] | None) -> list[dict[str, Any]]:
    """The snapshot as EZ batch items: counters as counts, observations as their mean."""
    items: list[dict[str, Any]] = [
        {"stat": name, "count": n} for name, n in snapshot.counts.items()]
    items += [{"stat": name, "value": round(mean, 3)}
              for name, (mean, _n) in snapshot.observed.items()]
    if memory is not None:
        items.append({"stat": memory[0], "value": round(memory[1], 1)})
    return items


class Reporter:
    """Posts ``metrics`` every ``settings.monitor_seconds`` to ``settings.api_url + "/ez"``
    under the system account's ezkey (looked up once, in a worker thread)."""

    def __init__(self, metrics: Metrics, settings: Settings, engine: Engine,
                 memory: Callable[[], float] = resident_mb) -> None:
        self._metrics = metrics
        self._settings = settings
        self._engine = engine
        self._memory = memory
        self._url = settings.api_url + "/ez"
        self._ezkey: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None

    @property
    def metrics(self) -> Metrics:
        return self._metrics

    @property
    def enabled(self) -> bool:
        return self._settings.monitor_seconds > 0

    async def start(self) -> None:
        if not self.enabled:
            return
        self._http = httpx.AsyncClient(timeout=POST_TIMEOUT_SECONDS, trust_env=False)
        self._task = asyncio.create_task(self._run(), name=f"aerie-monitor-{self._metrics.role}")

    async def stop(self) -> None:
        """Stop reporting; figures not yet posted are dropped."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._settings.monitor_seconds)
            try:
                await self.report()
            except Exception:  # a bug here must not end the role's monitoring, nor the role
                log.exception("self-monitoring report failed")

    async def report(self) -> bool:
        """Post one period's figures; False (logged, figures dropped) if that failed."""
        items = ez_items(self._metrics.snapshot(),
                         (self._metrics.memory_stat(), self._memory()))
        try:
            if self._ezkey is None:
                self._ezkey = await anyio.to_thread.run_sync(
                    system_ezkey, self._engine, self._settings, int(time.time()))
            if self._http is not None:
                return await self._post(self._http, self._ezkey, items)
            async with httpx.AsyncClient(timeout=POST_TIMEOUT_SECONDS, trust_env=False) as http:
                return await self._post(http, self._ezkey, items)
        except (httpx.HTTPError, OSError, SQLAlchemyError) as exc:
            log.warning("self-monitoring report to %s failed (%s: %s); %d figures dropped",
                        self._url, type(exc).__name__, exc, len(items))
            return False

    async def _post(self, http: httpx.AsyncClient, ezkey: str, items: list[dict[str, Any]]) -> bool:
        limit = self._settings.batch_limit
        for start in range(0, len(items), limit):
            answer = await http.post(
                self._url, json={"ezkey": ezkey, "data": items[start:start + limit]})
            if answer.status_code == 403:
                self._ezkey = None  # changed or turned off: look it up again next time
            if answer.status_code >= 300:
                log.warning("self-monitoring post answered %d: %s; figures dropped",
                            answer.status_code, answer.text[:200])
                return False
        return True


class RequestMetrics:
    """ASGI middleware: requests and latency per route template, errors per status class.

    Put it inside the router's app (``app.add_middleware``) so that, after the call,
    ``scope["route"]`` names the route that matched.
    """

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, send_status)
        finally:
            record_request(self._metrics, route_name(scope), status,
                           (time.perf_counter() - started) * 1000)
            if self._metrics.port is None:
                self._metrics.learn_port(scope)


def route_name(scope: dict[str, Any]) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


def record_request(metrics: Metrics, route: str, status: int, ms: float) -> None:
    role = metrics.role
    metrics.count(f"aerie {role} requests {route}")
    metrics.observe(f"aerie {role} latency ms {route}", ms)
    if status >= 400:
        metrics.count(f"aerie {role} errors {status // 100}xx")
