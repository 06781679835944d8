"""The landing page: a welcome for visitors, the stat list for people logged in."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from aerie import urls
from aerie.settings import Settings
from interactor.welcome import describe_service
from presenters import json as present
from web_service.auth import MaybeSession
from web_service.responder import Responder, see_other


def page_router(settings: Settings, responder: Responder) -> APIRouter:
    router = APIRouter()

    @router.get("/", response_model=None)
    async def landing(request: Request, session: MaybeSession) -> Response:
        welcome = describe_service(settings)
        if session is not None and "text/html" in request.headers.get("accept", ""):
            return see_other(urls.STATS)
        return responder.page(request, session, "index.html", welcome, present.welcome)

    return router
