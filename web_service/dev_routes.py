"""``/dev/mail``: in development (no ``AERIE_SMTP_HOST``), the mail Aerie would have sent.

Who may read it is a setting, ``AERIE_DEV_MAIL_VIEW``, never something the request says.
Telling the person at the machine from a visitor cannot be done from the request: a
tunnel or TCP forwarder on the same host (``ssh -R``, ``ngrok tcp``, stunnel) connects
from loopback, adds no forwarding header and passes on whatever ``Host`` its client
sent, so every check of addresses and headers can be fooled from outside, and the
outbox holds password-reset links, which take over accounts. So:

- ``own`` (the default): a logged-in user reads the mail to their own account, which
  is enough to confirm the address they signed up with; anyone else is asked to log in.
- ``all``: a visitor who is not logged in reads every address's account mail
  (password, confirmation, invitation), to recover a password while trying Aerie on
  one machine. Only for a machine nobody else can reach.
- ``off``: no page (``web_service.app`` does not mount this router).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from aerie.accounts import User
from interactor import dev_mail
from interactor.base import Services
from presenters import mail as present
from web_service.auth import MaybeSession, require_session
from web_service.params import RowId
from web_service.responder import Responder, page_route


def dev_router(services: Services, responder: Responder, *, everyone: bool) -> APIRouter:
    """Only mounted when no relay is configured; a production site has no such page.
    ``everyone``: visitors who are not logged in read every address's account mail
    (``AERIE_DEV_MAIL_VIEW=all``); otherwise they must log in and read their own."""
    router = APIRouter()

    async def reader(request: Request, session: MaybeSession) -> User | None:
        """Whose mail the page shows: the logged-in user's; None (every address's account
        mail) for anyone else when ``everyone``; otherwise LoginRequired."""
        if session is not None:
            return session.user
        if everyone:
            return None
        return (await require_session(request)).user

    @page_route(router, "/dev/mail")
    async def mail_list(request: Request, session: MaybeSession) -> Response:
        result = await dev_mail.mail_page(services, await reader(request, session))
        return responder.page(request, session, "dev_mail.html", result, present.mail_page)

    @page_route(router, "/dev/mail/{mail_id}")
    async def one_mail(request: Request, session: MaybeSession, mail_id: RowId) -> Response:
        result = await dev_mail.open_mail(services, await reader(request, session), mail_id)
        return responder.page(request, session, "dev_mail_one.html", result, present.opened_mail)

    return router
