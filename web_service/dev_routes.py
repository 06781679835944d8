"""``/dev/mail``: in development (no ``AERIE_SMTP_HOST``), the mail Aerie would have sent."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from interactor import dev_mail
from interactor.base import Services
from presenters import mail as present
from web_service.auth import Auth
from web_service.params import RowId
from web_service.responder import Responder


def dev_router(services: Services, auth: Auth, responder: Responder) -> APIRouter:
    """Only mounted when no relay is configured; a production site has no such page."""
    router = APIRouter()

    @router.get("/dev/mail", response_model=None)
    @router.get("/dev/mail.json", response_model=None)
    async def mail_list(request: Request) -> Response:
        session = await auth.require(request)
        result = await dev_mail.mail_page(services, session.user)
        return responder.page(request, session, "dev_mail.html", result, present.mail_page)

    @router.get("/dev/mail/{mail_id}", response_model=None)
    @router.get("/dev/mail/{mail_id}.json", response_model=None)
    async def one_mail(request: Request, mail_id: RowId) -> Response:
        session = await auth.require(request)
        result = await dev_mail.open_mail(services, session.user, mail_id)
        return responder.page(request, session, "dev_mail_one.html", result, present.opened_mail)

    return router
