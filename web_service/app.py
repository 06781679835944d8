"""The web service's app factory: pages for people, their JSON twins, and the export API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from aerie.access_log import redact_access_log
from aerie.clock import Clock, system_clock
from aerie.db import make_engine
from aerie.monitor import Metrics, Reporter, RequestMetrics
from aerie.passwords import Passwords
from aerie.readiness import database_check, peers_check, readiness
from aerie.replicas import ReadRouting
from aerie.secret_key import load_rpc_secret, load_secret_key
from aerie.settings import Settings
from interactor.base import Services
from presenters.html import HtmlPresenter, make_environment
from presenters.mail import TemplateMail
from rpc.clients import AnalysisClient, GraphClient
from web_service.a1_routes import a1_router
from web_service.account_routes import account_router
from web_service.alert_routes import alert_router
from web_service.answers import JSONAnswer
from web_service.auth import Auth
from web_service.comment_routes import comment_router
from web_service.dashboard_routes import dashboard_router
from web_service.dev_routes import dev_router
from web_service.embed_routes import embed_router
from web_service.errors import install_error_handlers
from web_service.export_routes import export_router
from web_service.fresh_reads import FreshReads
from web_service.pages import page_router
from web_service.public_cache import PublicCache, PublicCacheLayer
from web_service.report_routes import report_router
from web_service.responder import Responder
from web_service.security_headers import SecurityHeaders
from web_service.stat_routes import stat_router

STATIC = Path(__file__).resolve().parent.parent / "static"


def create_app(settings: Settings, clock: Clock = system_clock) -> FastAPI:
    """Build the web app; its engine and RPC clients close when the app shuts down."""
    engine = make_engine(settings)
    routing = ReadRouting.from_settings(settings, engine)
    timeout = settings.rpc_timeout_seconds
    rpc_secret = load_rpc_secret(settings)
    services = Services(
        engine=engine,
        reads=routing.engine if settings.replica_nodes else None,
        graph=GraphClient(settings.graph_replicas, secret=rpc_secret, timeout=timeout),
        analysis=AnalysisClient(settings.analysis_replicas, secret=rpc_secret, timeout=timeout),
        clock=clock,
        webhook_allow=settings.webhook_targets,
        passwords=Passwords.from_settings(settings),
        max_stats_per_account=settings.max_stats_per_account,
        signups_per_hour=settings.signups_per_hour,
        account_mail=TemplateMail(settings),
    )
    html = HtmlPresenter(make_environment())
    auth = Auth(services, load_secret_key(settings))
    responder = Responder(html)
    public_cache = PublicCache(settings.public_cache_bytes, clock)
    metrics = Metrics("web")
    reporter = Reporter(metrics, settings, engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await reporter.start()
        try:
            yield
        finally:
            await reporter.stop()
            await services.graph.aclose()
            await services.analysis.aclose()
            routing.dispose()
            engine.dispose()

    app = FastAPI(title="Aerie", lifespan=lifespan, docs_url=settings.docs_url,
                  openapi_url=settings.openapi_url, redoc_url=None)
    app.state.api_url = settings.api_url
    app.state.web_url = settings.web_url
    app.state.auth = auth  # for the session dependencies (web_service.auth)
    app.state.public_cache = public_cache  # for benches and tests to read its size
    app.add_middleware(PublicCacheLayer, cache=public_cache)  # innermost: hits skip routing
    app.add_middleware(RequestMetrics, metrics=metrics)  # inside the router's error handling
    app.add_middleware(SecurityHeaders)
    if settings.replica_nodes:
        app.add_middleware(FreshReads, routing=routing, max_lag=settings.max_replica_lag_seconds)
    # Outermost: the client address and scheme every layer sees are the proxy's word only
    # when the proxy is trusted (uvicorn runs with its own proxy handling off, see cli.py).
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)
    redact_access_log()
    install_error_handlers(app, html)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(export_router(services))
    app.include_router(a1_router(services))
    app.include_router(account_router(services, auth, responder))
    app.include_router(stat_router(services, responder))
    app.include_router(comment_router(services, responder))
    app.include_router(alert_router(services, responder))
    app.include_router(report_router(services, responder))
    if settings.dev_mail and settings.dev_mail_view != "off":
        app.include_router(dev_router(services, responder,
                                      everyone=settings.dev_mail_view == "all"))
    app.include_router(dashboard_router(services, responder, public_cache))
    app.include_router(embed_router(services, responder, public_cache))
    app.include_router(page_router(settings, responder))

    @app.get("/healthz")
    async def healthz() -> JSONAnswer:
        return JSONAnswer({"status": "ok"})

    ready_checks = {
        "database": database_check(engine),
        "graph": peers_check(settings.graph_replicas),
        "analysis": peers_check(settings.analysis_replicas),
    }

    @app.get("/readyz")
    async def readyz() -> JSONAnswer:
        """200 when the database and at least one copy of each app server answer, else 503;
        with replicas, how far behind each is (or why page reads skip it)."""
        status, body = await readiness(ready_checks, routing.report)
        return JSONAnswer(body, status_code=status)

    return app
