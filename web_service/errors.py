"""The web app's error handling: one handler per kind of failure.

Use cases raise :class:`AerieError`; routes never build HTTP errors themselves.
A browser (``Accept: text/html``) gets an error page in the site's layout; every
other client, and the export API, gets ``{"status": S, "msg": "..."}``. A page
that needs a session sends a browser to the log-in page and back afterwards.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, RedirectResponse, Response

from aerie import urls
from aerie.errors import AerieError
from aerie.sessions import Session
from presenters.html import HtmlPresenter
from web_service.answers import error_answer
from web_service.auth import LoginRequired, auth_of
from web_service.responder import viewer_of

DATABASE_UNAVAILABLE = "the database is unavailable; try again shortly"

# What to tell a caller whose query parameter did not parse, by parameter name.
_PARAMETER_HINTS = {
    "start": "start must be a time in unix seconds, such as start=1700000000",
    "offset": "offset must be a whole number of rows, from 0 up, such as offset=10000",
    "name": "add name=... with the stat's name, such as /x/TOKEN/stat?name=signups",
    "page": "page must be a whole number from 1, such as page=2",
    "w": "w must be a width in pixels from 1 to 10000, such as w=600",
    "h": "h must be a height in pixels from 1 to 10000, such as h=300",
}


_TITLES = {
    400: "That request needs fixing", 401: "Please log in", 403: "Not allowed",
    404: "Not found", 405: "Not allowed here", 409: "Already exists", 410: "No longer shared",
    413: "Too large",
    429: "Slow down", 503: "Temporarily unavailable",
}


class ErrorPages:
    """Answers an error as a page for browsers and as JSON for everyone else."""

    def __init__(self, html: HtmlPresenter) -> None:
        self._html = html

    async def answer(self, request: Request, status: int, message: str, *,
                     signed_in: bool = True) -> Response:
        """The error as a page or JSON; a signed-in person's page keeps their header and
        navigation (``signed_in=False`` when the database, which knows them, is down)."""
        if not _browser(request):
            return error_answer(status, message)
        page = {"status": status, "title": _TITLES.get(status, "Something went wrong"),
                "message": message}
        session = await _session_if_any(request) if signed_in else None
        body = self._html.render("error.html", page, viewer=viewer_of(session),
                                 csrf=session.csrf_token if session else "")
        return HTMLResponse(body, status_code=status)

    async def domain_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AerieError)
        if isinstance(exc, LoginRequired) and _browser(request):
            return RedirectResponse(urls.login(exc.next_path), status_code=303)
        answer = await self.answer(request, exc.status, exc.message, signed_in=exc.status != 503)
        if isinstance(exc, LoginRequired):
            answer.headers["WWW-Authenticate"] = 'Cookie realm="aerie"'
        return answer

    async def database_error(self, request: Request, exc: Exception) -> Response:
        """A lost or unreachable database is the caller's cue to retry; anything else is a bug."""
        assert isinstance(exc, DBAPIError)
        if isinstance(exc, OperationalError) or exc.connection_invalidated:
            return await self.answer(request, 503, DATABASE_UNAVAILABLE, signed_in=False)
        raise exc

    async def invalid_parameter(self, request: Request, exc: Exception) -> Response:
        """A query or path parameter that did not parse: what to fix, as a page for a
        browser (a typed or edited address) and as JSON for everyone else."""
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0]
        name = str(first["loc"][-1])
        message = _PARAMETER_HINTS.get(name, f"{name}: {first['msg']}")
        return await self.answer(request, 400, message)


async def _session_if_any(request: Request) -> Session | None:
    """The visitor's session, or None when there is none or it cannot be looked up."""
    try:
        return await auth_of(request).session(request)
    except (AerieError, DBAPIError):
        return None


def _browser(request: Request) -> bool:
    """A person's browser, not a script: it asks for HTML and is not using the export API."""
    return (
        "text/html" in request.headers.get("accept", "")
        and not request.url.path.startswith("/x/")
        and not request.url.path.endswith(".json")
    )


def _http_error(pages: ErrorPages) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handle(request: Request, exc: Exception) -> Response:
        """Routing misses (404, 405): say so without echoing the path, which may hold a token."""
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404 and not request.url.path.startswith("/x/"):
            return await pages.answer(request, 404, "there is no page at this address")
        if exc.status_code == 405 and not request.url.path.startswith("/x/"):
            answer = await pages.answer(request, 405, f"{request.method} is not allowed here")
            answer.headers.update(exc.headers or {})
            return answer
        return await _routing_error(request, exc)

    return handle


async def _routing_error(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == 404 and request.url.path.startswith("/x/"):
        message = (
            "no such export endpoint; use /x/TOKEN/statlist, /x/TOKEN/stat?name=..., "
            "/x/TOKEN/data/ID?t=1w1h or DELETE /x/TOKEN/stats/ID"
        )
    elif exc.status_code == 404:
        message = "not found"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed here"
    else:
        message = str(exc.detail)
    answer = error_answer(exc.status_code, message)
    answer.headers.update(exc.headers or {})
    return answer


def install_error_handlers(app: FastAPI, html: HtmlPresenter) -> None:
    pages = ErrorPages(html)
    app.add_exception_handler(AerieError, pages.domain_error)
    app.add_exception_handler(DBAPIError, pages.database_error)
    app.add_exception_handler(RequestValidationError, pages.invalid_parameter)
    app.add_exception_handler(HTTPException, _http_error(pages))
