"""One result, two renderings: a page as HTML, or its JSON twin.

A page's JSON twin is asked for with a ``.json`` suffix on the path or an
``Accept: application/json`` header; both come from the same use-case result.
:func:`page_route` registers a page and its twin in one go.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from aerie.sessions import Session
from presenters.html import Flash, HtmlPresenter, Viewer
from web_service.answers import JSONAnswer, wants_json

R = TypeVar("R")
H = TypeVar("H", bound=Callable[..., Any])

# Messages shown after an action, named by ``?done=`` on the page redirected to, so no
# visitor-supplied text ever reaches a page through a link.
DONE_MESSAGES = {
    "created": "Stat created.",
    "renamed": "Stat renamed.",
    "described": "Unit, description and tags saved.",
    "trashed": "Stat moved to the trash; you can restore it for 48 hours.",
    "restored": "Stat restored.",
    "profile": "Settings saved.",
    "ezkey": "EZ settings saved.",
    "password": "Password changed.",
    "revoked": "Token revoked; it no longer opens anything.",
    "welcome": "Welcome to Aerie! Send your first point with the example below.",
    "alert_created": "Alert saved. It is judged every minute from now on.",
    "alert_saved": "Alert saved; its state starts afresh.",
    "alert_silenced": "Alert silenced: it still changes state, but sends nothing until then.",
    "alert_unsilenced": "Silence lifted: notifications are on again.",
    "alert_deleted": "Alert deleted.",
    "report_saved": "Daily report saved.",
    "shared": "Shared: the codes below show this graph to whoever you give them.",
    "share_revoked": "Sharing stopped: the key now answers \"no longer shared\".",
    "dashboard_created": "Dashboard created. Add a card to show your stats on it.",
    "dashboard_renamed": "Dashboard renamed.",
    "dashboard_deleted": "Dashboard deleted; its stats are untouched.",
    "card_added": "Card added.",
    "card_removed": "Card removed.",
    "card_moved": "Card moved.",
    "dashboard_shared": "Dashboard shared: anyone with the link below can see it.",
    "dashboard_unshared": "Sharing stopped; the old link no longer opens this dashboard.",
    "comment_added": "Comment added.",
    "comment_deleted": "Comment deleted.",
    "logged_out": "You are logged out.",
    "password_set": "Password saved. Every other browser has been logged out.",
    "verified": "E-mail confirmed: Aerie's alerts, digests and daily reports can reach you now.",
    "already_verified": "Your e-mail is already confirmed: there is nothing more to do.",
    "verify_sent": "A new confirmation link is on its way to your e-mail.",
    "account_deleted": "Your account and all its data are deleted. Goodbye!",
}


def json_requested(request: Request) -> bool:
    return request.url.path.endswith(".json") or wants_json(request)


def viewer_of(session: Session | None) -> Viewer | None:
    if session is None:
        return None
    return Viewer(session.user.email, session.user.timezone, session.user.verified)


class Responder:
    """Turns a use-case result into the answer the request asked for."""

    def __init__(self, html: HtmlPresenter) -> None:
        self.html = html

    def page(
        self,
        request: Request,
        session: Session | None,
        template: str,
        result: R,
        to_json: Callable[[R], Any],
        *,
        status: int = 200,
        flash: Flash | None = None,
    ) -> Response:
        """HTML from ``template`` given ``result``, or ``to_json(result)`` for the JSON twin."""
        if json_requested(request):
            return JSONAnswer(to_json(result), status_code=status)
        done = DONE_MESSAGES.get(request.query_params.get("done", ""))
        body = self.html.render(
            template,
            result,
            viewer=viewer_of(session),
            csrf=session.csrf_token if session else "",
            flash=flash or (Flash(done) if done else None),
        )
        return HTMLResponse(body, status_code=status)


def page_route(router: APIRouter, path: str) -> Callable[[H], H]:
    """Register a GET handler at ``path`` and at its JSON twin, ``path + ".json"``.

    The twin goes first: ``/stats/{public_id}`` would otherwise take
    ``/stats/abc.json`` as a stat named ``abc.json``.
    """

    def register(handler: H) -> H:
        for twin in (path + ".json", path):
            router.add_api_route(twin, handler, methods=["GET"], response_model=None)
        return handler

    return register


def see_other(path: str, done: str = "") -> RedirectResponse:
    """Post/redirect/get: after a form, send the browser to a page (with a done message)."""
    path, hash_, fragment = path.partition("#")
    if done:
        path += ("&" if "?" in path else "?") + f"done={done}"
    return RedirectResponse(path + hash_ + fragment, status_code=303)
