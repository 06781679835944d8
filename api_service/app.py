"""The ingestion service's app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from aerie.access_log import redact_access_log
from aerie.db import make_engine
from aerie.monitor import Metrics, Reporter
from aerie.readiness import commits_check, database_check, readiness
from aerie.settings import Settings
from api_service.commit_process import ProcessLanes
from api_service.ez_signup import EzSignup
from api_service.ingest import Ingestor
from api_service.keycache import KeyCache
from api_service.routes import IngestionRoutes
from api_service.writer import GroupCommitWriter

# What an unknown path or method on the API is told, in StatHat's error shape.
_NOT_HERE = {404: "no such endpoint: the API takes posts at /ez, /c and /v",
             405: "this endpoint does not take that method; post to it (or GET)"}


def create_app(settings: Settings) -> IngestionRoutes:
    """The API: StatHat's ``/ez``, ``/c`` and ``/v`` plus ``/healthz`` (alive) and
    ``/readyz`` (the database answers and takes writes).

    The ingestion routes are the outermost ASGI app, in front of FastAPI's
    whole stack; everything else (lifespan, /healthz, /readyz, /docs) falls through to
    FastAPI. As a FastAPI middleware they ran under four layers of its own
    middleware and a per-request telemetry check, about 10 microseconds of a
    /c request's 70-80 (bench/ingest.py).
    """
    engine = make_engine(settings)
    metrics = Metrics("api")
    lanes = ProcessLanes(settings, engine) if settings.commit_process else None
    writer = GroupCommitWriter(engine, settings.commit_interval_ms / 1000, metrics, lanes=lanes)
    keys = KeyCache(engine, settings.key_cache_seconds, writer, settings.max_stats_per_account)
    signup = EzSignup(settings, engine) if settings.ez_signup else None
    ingestor = Ingestor(settings, keys, writer, signup)
    reporter = Reporter(metrics, settings, engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await writer.start()
        await reporter.start()
        try:
            yield
        finally:
            await reporter.stop()
            await writer.stop()
            engine.dispose()

    redact_access_log()
    app = FastAPI(title="Aerie ingestion API", lifespan=lifespan, docs_url=settings.docs_url,
                  openapi_url=settings.openapi_url, redoc_url=None)

    @app.exception_handler(HTTPException)
    async def not_here(_request: Request, exc: HTTPException) -> JSONResponse:
        """Errors from FastAPI's own routing (an unknown path, ``/ez/``) answer in the
        shape StatHat's clients read every error in."""
        message = _NOT_HERE.get(exc.status_code, str(exc.detail))
        return JSONResponse({"status": exc.status_code, "msg": message},
                            status_code=exc.status_code,
                            headers=exc.headers)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    ready_checks = {
        "database": database_check(engine),
        "commits": commits_check(writer.recent_failure),
    }

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """200 when the database answers ``SELECT 1`` and the latest commit (if one failed
        in the last half minute) went through; 503 naming what is down otherwise."""
        status, body = await readiness(ready_checks)
        return JSONResponse(body, status_code=status)

    return IngestionRoutes(
        app,
        ingestor=ingestor,
        verbose=settings.verbose_answers,
        max_body_bytes=settings.max_body_bytes,
        metrics=metrics,
    )
