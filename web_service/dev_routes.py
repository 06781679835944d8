"""``/dev/mail``: in development (no ``AERIE_SMTP_HOST``), the mail Aerie would have sent."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from interactor import dev_mail
from interactor.base import Services
from presenters import mail as present
from web_service.auth import CurrentSession
from web_service.params import RowId
from web_service.responder import Responder, page_route


def dev_router(services: Services, responder: Responder) -> APIRouter:
    """Only mounted when no relay is configured; a production site has no such page."""
    router = APIRouter()

    @page_route(router, "/dev/mail")
    async def mail_list(request: Request, session: CurrentSession) -> Response:
        result = await dev_mail.mail_page(services, session.user)
        return responder.page(request, session, "dev_mail.html", result, present.mail_page)

    @page_route(router, "/dev/mail/{mail_id}")
    async def one_mail(request: Request, session: CurrentSession, mail_id: RowId) -> Response:
        result = await dev_mail.open_mail(services, session.user, mail_id)
        return responder.page(request, session, "dev_mail_one.html", result, present.opened_mail)

    return router
