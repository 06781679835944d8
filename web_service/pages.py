"""Pages for people, each with a JSON twin chosen by the Accept header."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from aerie.settings import Settings
from interactor.welcome import describe_service
from presenters import json as present
from presenters.html import HtmlPresenter
from web_service.answers import JSONAnswer, wants_json


def page_router(settings: Settings, html: HtmlPresenter) -> APIRouter:
    router = APIRouter()

    @router.get("/", response_model=None)
    async def landing(request: Request) -> Response:
        welcome = describe_service(settings)
        if wants_json(request):
            return JSONAnswer(present.welcome(welcome))
        return HTMLResponse(html.welcome(welcome))

    return router
