"""``/dev/mail``: in development (no ``AERIE_SMTP_HOST``), the mail Aerie would have sent."""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, Request
from starlette.responses import Response

from aerie.accounts import User
from interactor import dev_mail
from interactor.base import Services
from presenters import mail as present
from web_service.auth import MaybeSession, require_session
from web_service.params import RowId
from web_service.responder import Responder, page_route


async def _reader(request: Request, session: MaybeSession) -> User | None:
    """Whose mail the page shows: the logged-in user's; None (every address's account mail)
    for a visitor at this machine, who may be resetting a password; anyone else must log in."""
    if session is not None:
        return session.user
    if _at_this_machine(request):
        return None
    return (await require_session(request)).user


# Headers a proxy adds to say whom it forwards for: a request bearing one came through it.
_FORWARDING = ("x-forwarded-for", "forwarded", "x-real-ip")


def _at_this_machine(request: Request) -> bool:
    """A loopback peer that asked for a loopback name, through no proxy: the person at
    the machine. A proxy or tunnel on the same host (nginx, cloudflared, an SSH
    tunnel) also connects from loopback, and may forward no address: its visitors
    name the site's public host, or come with a forwarding header."""
    if request.client is None or any(name in request.headers for name in _FORWARDING):
        return False
    try:
        peer = ipaddress.ip_address(request.client.host)
        asked = request.url.hostname or ""
        return peer.is_loopback and (asked == "localhost"
                                     or ipaddress.ip_address(asked).is_loopback)
    except ValueError:
        return False


def dev_router(services: Services, responder: Responder) -> APIRouter:
    """Only mounted when no relay is configured; a production site has no such page."""
    router = APIRouter()

    @page_route(router, "/dev/mail")
    async def mail_list(request: Request, session: MaybeSession) -> Response:
        result = await dev_mail.mail_page(services, await _reader(request, session))
        return responder.page(request, session, "dev_mail.html", result, present.mail_page)

    @page_route(router, "/dev/mail/{mail_id}")
    async def one_mail(request: Request, session: MaybeSession, mail_id: RowId) -> Response:
        result = await dev_mail.open_mail(services, await _reader(request, session), mail_id)
        return responder.page(request, session, "dev_mail_one.html", result, present.opened_mail)

    return router
