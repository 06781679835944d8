"""The ``/a1/`` API, authorised by HTTP Basic: the access token as the user name.

StatHat's command-line client sends an empty password; any password is ignored.
Every answer is JSON, errors included (``{"status", "msg"}``), whatever the
client accepts; a missing, malformed, unknown or revoked token answers 401 with
``WWW-Authenticate: Basic realm="Aerie"`` so that clients know to send one.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from aerie.errors import AerieError, NotAuthenticated
from interactor import a1, export
from interactor.base import Services
from presenters import a1 as present
from presenters.alerts import alert_object
from presenters.json import described_stat
from web_service.answers import JSONAnswer, error_answer
from web_service.auth import read_form
from web_service.comment_routes import csv_download

CHALLENGE = 'Basic realm="Aerie"'


class A1Route(APIRoute):
    """Answers domain errors as JSON here, with the Basic challenge on a 401."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handle(request)
            except AerieError as exc:
                response = error_answer(exc.status, exc.message)
                if exc.status == 401:
                    response.headers["WWW-Authenticate"] = CHALLENGE
                return response

        return answer


def basic_token(request: Request) -> str:
    """The user name of the request's HTTP Basic credentials; NotAuthenticated if none."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise NotAuthenticated(
            "send your access token as the HTTP Basic user name, with an empty password "
            "(curl -u TOKEN: ...)"
        )
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise NotAuthenticated("the Basic credentials are not valid base64 of TOKEN:") from None
    token, colon, _password = decoded.partition(":")
    if not colon or not token:
        raise NotAuthenticated(
            "the Basic credentials must be TOKEN: (the token, a colon, no password)"
        )
    return token


# The route's caller: whoever holds the access token sent as the Basic user name.
A1Token = Annotated[str, Depends(basic_token)]


async def _fields(request: Request) -> dict[str, str]:
    """Query parameters and, when there is a form body, its fields (the body wins)."""
    fields = dict(request.query_params)
    if request.headers.get("content-type"):
        fields.update(await read_form(request))
    return fields


def a1_router(svc: Services) -> APIRouter:
    """The ``/a1/`` routes, bound to the app's services (no module-level state)."""
    router = APIRouter(prefix="/a1", default_response_class=JSONAnswer, route_class=A1Route)

    @router.get("/stats")
    async def stats(token: A1Token) -> JSONAnswer:
        return JSONAnswer(present.stat_list(await a1.list_stats(svc, token)))

    @router.post("/stats/{public_id}")
    async def describe_stat(request: Request, token: A1Token, public_id: str) -> JSONAnswer:
        """Aerie's addition: set ``unit``, ``description`` or ``tags`` (comma-separated)."""
        described = await a1.describe_stat(svc, token, public_id, await _fields(request))
        return JSONAnswer(described_stat(described))

    @router.get("/stats/{public_id}/dataset")
    async def dataset(
        token: A1Token, public_id: str, t: str | None = None, start: int | None = Query(None)
    ) -> JSONAnswer:
        series = await a1.dataset(svc, token, public_id, t, start)
        return JSONAnswer(present.dataset(series))

    @router.get("/stats/{public_id}/dataset.csv", response_model=None)
    async def dataset_csv(
        token: A1Token, public_id: str, t: str | None = None, start: int | None = Query(None)
    ) -> Response:
        series = await a1.dataset(svc, token, public_id, t, start)
        return csv_download(*present.dataset_csv(series, t or ""))

    @router.get("/stats/{public_id}/dataset_full")
    async def dataset_full(token: A1Token, public_id: str) -> JSONAnswer:
        series = await a1.dataset_full(svc, token, public_id)
        return JSONAnswer(present.dataset(series))

    @router.get("/comments")
    async def comments(token: A1Token, stat_id: str = Query("", alias="id")) -> JSONAnswer:
        found = await a1.list_comments(svc, token, stat_id)
        return JSONAnswer(present.comment_list(found))

    @router.post("/comments")
    async def add_comment(request: Request, token: A1Token) -> JSONAnswer:
        form = await _fields(request)
        made = await a1.add_comment(
            svc, token, form.get("id", ""), form.get("text", ""), form.get("time")
        )
        return JSONAnswer(present.comment(made))

    @router.get("/alerts")
    async def alert_list(token: A1Token) -> JSONAnswer:
        found = await export.list_alerts(svc, token)
        return JSONAnswer([alert_object(a.alert, a.stat) for a in found])

    @router.post("/alerts")
    async def create_alert(request: Request, token: A1Token) -> JSONAnswer:
        made = await a1.create_alert(svc, token, await _fields(request))
        return JSONAnswer(alert_object(made.alert, made.stat))

    return router
