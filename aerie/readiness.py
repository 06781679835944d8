"""Readiness: can this process do its work right now? (``GET /readyz`` on every role)

``/healthz`` says the process is alive; ``/readyz`` says its dependencies answer,
so a load balancer or an orchestrator sends it traffic only when that is so.
A check is an async function returning None when all is well, or one line
saying what is wrong; ``readiness`` runs a role's checks concurrently, each
bounded by a short timeout, and says which are down. A role that reads from
replicas (the web app, the graph and analysis servers) reports them too: how far
behind each is, or why reads skip it; a replica is never a reason to stop serving,
since reads fall back to the primary.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import anyio
import anyio.to_thread
import httpx
from sqlalchemy import Engine, text

from aerie.db import reading

READY_TIMEOUT_SECONDS = 2.0

ReadyCheck = Callable[[], Awaitable[str | None]]
# Each read replica's state ("ok, 0.3 s behind", or why reads skip it); None without
# replicas. Blocking (``aerie.replicas.ReadRouting.report``): run in a worker thread.
ReplicaReport = Callable[[], dict[str, str] | None]


def database_check(engine: Engine, timeout: float = READY_TIMEOUT_SECONDS) -> ReadyCheck:
    """A check that runs ``SELECT 1`` in a worker thread; a thread stuck past
    ``timeout`` (a database host that does not answer) is abandoned, not waited for.

    In a read transaction: on SQLite an ordinary one takes the one writer's lock, so
    a busy writer (a flood's group commits, a scheduler pass) made a working
    database look down ("database is locked").
    """

    def select_one() -> None:
        with reading(engine) as conn:
            conn.execute(text("SELECT 1"))

    async def check() -> str | None:
        try:
            with anyio.fail_after(timeout):
                await anyio.to_thread.run_sync(select_one, abandon_on_cancel=True)
        except TimeoutError:
            return f"no answer to SELECT 1 within {timeout:g} s"
        except Exception as exc:  # noqa: BLE001 - any failure to reach the database: not ready
            return one_line(exc)
        return None

    return check


def commits_check(recent_failure: Callable[[], str | None]) -> ReadyCheck:
    """A check that fails while the API's latest commits fail: ``SELECT 1`` still
    answers from a database that refuses writes (read-only, disk full)."""

    async def check() -> str | None:
        return recent_failure()

    return check


def peers_check(
    urls: Sequence[str], timeout: float = READY_TIMEOUT_SECONDS
) -> ReadyCheck:
    """A check that passes when at least one of ``urls`` answers ``GET /healthz`` with 200
    (the RPC client fails over, so one live copy of a role is enough)."""

    async def one(client: httpx.AsyncClient, url: str) -> bool:
        try:
            return (await client.get(url + "/healthz")).status_code == 200
        except httpx.HTTPError:
            return False

    async def check() -> str | None:
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            answers = await asyncio.gather(*(one(client, url) for url in urls))
        if any(answers):
            return None
        return "no copy answers /healthz: " + ", ".join(urls)

    return check


async def readiness(checks: Mapping[str, ReadyCheck], replicas: ReplicaReport | None = None
                    ) -> tuple[int, dict[str, Any]]:
    """Run every check at once: ``(200, {"status": "ready", ...})`` when all pass, else
    ``(503, {"status": "not ready", "down": {name: what is wrong}, ...})``; with read
    replicas, ``"replicas"`` says how each is (a lagging one is skipped, not a 503)."""
    problems = await asyncio.gather(*(check() for check in checks.values()))
    results = {name: problem or "ok" for name, problem in zip(checks, problems, strict=True)}
    down = {name: problem for name, problem in zip(checks, problems, strict=True) if problem}
    body: dict[str, Any] = ({"status": "not ready", "down": down, "checks": results} if down
                            else {"status": "ready", "checks": results})
    report = await anyio.to_thread.run_sync(replicas) if replicas is not None else None
    if report is not None:
        body["replicas"] = report
    return (503 if down else 200), body


def one_line(exc: BaseException) -> str:
    """The error as one line of at most 300 characters, naming the driver's error."""
    cause = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    message = " ".join(str(cause).split())
    return f"{type(cause).__name__}: {message}"[:300]
