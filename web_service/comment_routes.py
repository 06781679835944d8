"""The stat page's comment forms and its CSV download (owner only; others get 404).

A comment form that fails (empty or too long text, a bad time) shows the stat
page again with the message and a 400, having written nothing; one that works
returns to the page, at the timeframe it was sent from, with a done message.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from aerie import urls
from aerie.errors import BadRequest
from interactor import comments as use
from interactor import stat_pages
from interactor.base import Services
from presenters import a1 as present
from presenters import stats as present_stats
from presenters.html import Flash
from web_service.answers import web_url_of
from web_service.auth import CurrentSession, SessionForm
from web_service.responder import Responder, see_other


def _back_to(public_id: str, tf: str) -> str:
    """The stat page at the timeframe the form was on (if it names a good one)."""
    try:
        return urls.stat_page(public_id) + "?" + urlencode({"tf": stat_pages.check_timeframe(tf)})
    except BadRequest:
        return urls.stat_page(public_id)


def csv_download(filename: str, body: str) -> Response:
    """A CSV file the browser saves (``filename`` holds only safe characters)."""
    return Response(
        body, media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"',
                 "Cache-Control": "private, no-cache"},
    )


def comment_router(services: Services, responder: Responder) -> APIRouter:
    router = APIRouter()

    @router.post("/stats/{public_id}/comments", response_model=None)
    async def add(request: Request, posted: SessionForm, public_id: str) -> Response:
        session, form = posted.session, posted.fields
        try:
            await use.add_stat_comment(
                services, session.user, public_id, form.get("text", ""), form.get("time", "")
            )
        except BadRequest as exc:
            page = await stat_pages.stat_page(
                services, session.user, public_id, form.get("tf") or None,
                request.app.state.api_url, web_url_of(request),
            )
            return responder.page(request, session, "stat.html", page, present_stats.stat_page,
                                  flash=Flash.error(exc.message), status=exc.status)
        return see_other(_back_to(public_id, form.get("tf", "")), "comment_added")

    @router.post("/stats/{public_id}/comments/{comment_id}/delete", response_model=None)
    async def delete(posted: SessionForm, public_id: str, comment_id: str) -> Response:
        await use.remove_stat_comment(services, posted.session.user, public_id, comment_id)
        return see_other(_back_to(public_id, posted.fields.get("tf", "")), "comment_deleted")

    @router.get("/stats/{public_id}/data.csv", response_model=None)
    async def data_csv(session: CurrentSession, public_id: str, tf: str | None = None) -> Response:
        data = await use.stat_data(services, session.user, public_id, tf)
        return csv_download(*present.stat_data_csv(data))

    return router
