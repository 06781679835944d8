"""The daily report page: which stats, at what hour of the user's day."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from aerie import urls
from aerie.errors import AerieError
from interactor import reports
from interactor.base import Services
from presenters import reports as present
from presenters.html import Flash
from web_service.auth import CurrentSession, SessionForm
from web_service.responder import Responder, page_route, see_other


def report_router(services: Services, responder: Responder) -> APIRouter:
    router = APIRouter()

    @page_route(router, "/reports")
    async def report_page(request: Request, session: CurrentSession) -> Response:
        result = await reports.report_page(services, session.user)
        return responder.page(request, session, "reports.html", result, present.report_page)

    @router.post("/reports", response_model=None)
    async def save(request: Request, form: SessionForm) -> Response:
        session = form.session
        try:
            await reports.save_report(services, session.user, form.fields)
        except AerieError as exc:
            result = await reports.report_page(services, session.user)
            return responder.page(request, session, "reports.html", result, present.report_page,
                                  flash=Flash.error(exc.message), status=exc.status)
        return see_other(urls.REPORTS, "report_saved")

    return router
