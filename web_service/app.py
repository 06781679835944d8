"""The web service's app factory: the export API, pages and health check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from aerie.db import make_engine
from aerie.settings import Settings
from interactor.export import ExportContext
from presenters.html import HtmlPresenter, make_environment
from web_service.answers import JSONAnswer
from web_service.errors import install_error_handlers
from web_service.export_routes import export_router
from web_service.pages import page_router


def create_app(settings: Settings) -> FastAPI:
    """Build the web app; its engine is disposed when the app shuts down."""
    engine = make_engine(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(title="Aerie", lifespan=lifespan, docs_url="/docs", redoc_url=None)
    install_error_handlers(app)
    app.include_router(export_router(ExportContext(engine)))
    app.include_router(page_router(settings, HtmlPresenter(make_environment())))

    @app.get("/healthz")
    async def healthz() -> JSONAnswer:
        return JSONAnswer({"status": "ok"})

    return app
