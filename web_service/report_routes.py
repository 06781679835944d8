"""The daily report page: which stats, at what hour of the user's day."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from aerie.errors import AerieError
from interactor import reports
from interactor.base import Services
from presenters import reports as present
from presenters.html import Flash
from web_service.auth import Auth
from web_service.responder import Responder, see_other


def report_router(services: Services, auth: Auth, responder: Responder) -> APIRouter:
    router = APIRouter()

    @router.get("/reports", response_model=None)
    @router.get("/reports.json", response_model=None)
    async def report_page(request: Request) -> Response:
        session = await auth.require(request)
        result = await reports.report_page(services, session.user)
        return responder.page(request, session, "reports.html", result, present.report_page)

    @router.post("/reports", response_model=None)
    async def save(request: Request) -> Response:
        session, form = await auth.form(request)
        try:
            await reports.save_report(services, session.user, form)
        except AerieError as exc:
            result = await reports.report_page(services, session.user)
            return responder.page(request, session, "reports.html", result, present.report_page,
                                  flash=Flash(exc.message, "error"), status=exc.status)
        return see_other("/reports", "report_saved")

    return router
