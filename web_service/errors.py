"""The web app's error handling: every failure answers ``{"status": S, "msg": "..."}``.

Use cases raise :class:`AerieError`; routes never build HTTP errors themselves.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from aerie.errors import AerieError
from web_service.answers import error_answer

DATABASE_UNAVAILABLE = "the database is unavailable; try again shortly"

# What to tell a caller whose query parameter did not parse, by parameter name.
_PARAMETER_HINTS = {
    "start": "start must be a time in unix seconds, such as start=1700000000",
    "offset": "offset must be a whole number of rows, such as offset=10000",
    "name": "add name=... with the stat's name, such as /x/TOKEN/stat?name=signups",
}


async def _domain_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AerieError)
    return error_answer(exc.status, exc.message)


async def _database_error(_request: Request, exc: Exception) -> Response:
    """A lost or unreachable database is the caller's cue to retry; anything else is a bug."""
    assert isinstance(exc, DBAPIError)
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        return error_answer(503, DATABASE_UNAVAILABLE)
    raise exc


async def _invalid_parameter(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0]
    name = str(first["loc"][-1])
    return error_answer(400, _PARAMETER_HINTS.get(name, f"{name}: {first['msg']}"))


async def _http_error(request: Request, exc: Exception) -> Response:
    """Routing misses (404, 405): say so without echoing the path, which may hold a token."""
    assert isinstance(exc, HTTPException)
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


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AerieError, _domain_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(RequestValidationError, _invalid_parameter)
    app.add_exception_handler(HTTPException, _http_error)
