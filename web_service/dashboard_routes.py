"""Dashboards: the owner's pages and forms, and the read-only pages an embed key opens.

Every ``/dashboards`` route answers another user's dashboard or card exactly as
a missing one (404). ``/d/KEY`` and ``/embed/dashboard/KEY`` need no session
and never show the visitor's own account: they are rendered without one. The
embed page sends no framing restrictions, so any site can put it in an iframe.

The app must include this router before ``embed_router``: that router's
``/embed/{kind}/{keys:path}`` would otherwise answer ``/embed/dashboard/KEY``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from aerie import urls
from aerie.contracts import MAX_STATS_ON_GRAPH
from aerie.errors import AerieError
from aerie.sessions import Session
from interactor import dashboards as use
from interactor.base import Services
from interactor.graph_images import GraphImage
from presenters import dashboards as present
from presenters.html import Flash
from web_service.answers import etag_answer, web_host_of
from web_service.auth import CurrentSession, SessionForm
from web_service.params import Look, RowId
from web_service.public_cache import PublicCache
from web_service.responder import Responder, page_route, see_other

# Shared pages and images may be cached briefly by browsers and proxies; a revoked
# key stops working everywhere within this long.
SHARED_CACHE = "public, max-age=60"


def dashboard_router(services: Services, responder: Responder, cache: PublicCache) -> APIRouter:
    router = APIRouter()

    async def list_page(request: Request, session: Session, flash: Flash | None = None,
                        status: int = 200) -> Response:
        result = await use.dashboard_list(services, session.user)
        return responder.page(request, session, "dashboards.html", result,
                              present.dashboard_list, flash=flash, status=status)

    async def one_page(request: Request, session: Session, public_id: str,
                       flash: Flash | None = None, status: int = 200, *, editing: bool = True,
                       timeframe: str | None = None) -> Response:
        """The dashboard; after a change (a form that needs fixing too) in edit mode."""
        result = await use.dashboard_page(services, session.user, public_id, web_host_of(request),
                                          editing=editing, timeframe=timeframe)
        return responder.page(request, session, "dashboard.html", result,
                              present.dashboard_page, flash=flash, status=status)

    @page_route(router, "/dashboards")
    async def dashboards(request: Request, session: CurrentSession) -> Response:
        return await list_page(request, session)

    @router.post("/dashboards", response_model=None)
    async def create(request: Request, posted: SessionForm) -> Response:
        session = posted.session
        try:
            made = await use.create_dashboard(services, session.user, posted.fields.get("name", ""))
        except AerieError as exc:
            return await list_page(request, session, Flash.error(exc.message), exc.status)
        return see_other(urls.dashboard_editor(made.public_id), "dashboard_created")

    @page_route(router, "/dashboards/{public_id}")
    async def dashboard(
        request: Request, session: CurrentSession, public_id: str, edit: int = 0,
        tf: str | None = None,
    ) -> Response:
        """View mode (clean) unless ``edit=1``; ``tf`` shows every card over one timeframe."""
        return await one_page(request, session, public_id, editing=edit != 0, timeframe=tf or None)

    @router.post("/dashboards/{public_id}/rename", response_model=None)
    async def rename(request: Request, posted: SessionForm, public_id: str) -> Response:
        session, form = posted.session, posted.fields
        try:
            await use.rename_dashboard(services, session.user, public_id, form.get("name", ""))
        except AerieError as exc:
            return await one_page(request, session, public_id, Flash.error(exc.message),
                                  exc.status)
        return see_other(urls.dashboard_editor(public_id), "dashboard_renamed")

    @router.post("/dashboards/{public_id}/delete", response_model=None)
    async def delete(posted: SessionForm, public_id: str) -> Response:
        await use.delete_dashboard(services, posted.session.user, public_id)
        return see_other(urls.DASHBOARDS, "dashboard_deleted")

    @router.post("/dashboards/{public_id}/cards", response_model=None)
    async def add_card(request: Request, posted: SessionForm, public_id: str) -> Response:
        """Stats come as ``stat1``..``stat3`` (the page's selects) and/or ``stats``, ids
        separated by commas (for scripts)."""
        session, form = posted.session, posted.fields
        stat_ids = [form.get(f"stat{i}", "") for i in range(1, MAX_STATS_ON_GRAPH + 1)]
        stat_ids += form.get("stats", "").replace(" ", ",").split(",")
        try:
            await use.add_card(services, session.user, public_id, form.get("kind", ""),
                               form.get("timeframe", ""), form.get("title", ""), stat_ids)
        except AerieError as exc:
            return await one_page(request, session, public_id, Flash.error(exc.message),
                                  exc.status)
        return see_other(urls.dashboard_editor(public_id), "card_added")

    @router.post("/dashboards/{public_id}/cards/{card_id}/remove", response_model=None)
    async def remove_card(posted: SessionForm, public_id: str, card_id: RowId) -> Response:
        await use.remove_card(services, posted.session.user, public_id, card_id)
        return see_other(urls.dashboard_editor(public_id), "card_removed")

    @router.post("/dashboards/{public_id}/cards/{card_id}/move", response_model=None)
    async def move_card(posted: SessionForm, public_id: str, card_id: RowId) -> Response:
        form = posted.fields
        await use.move_card(services, posted.session.user, public_id, card_id,
                            form.get("direction", ""), form.get("position", ""))
        return see_other(urls.dashboard_editor(public_id), "card_moved")

    @router.get("/dashboards/{public_id}/cards/{card_id}/graph.{fmt}", response_model=None)
    async def card_graph(
        request: Request, session: CurrentSession, public_id: str, card_id: RowId, fmt: str,
        look: Look, tf: str | None = None,
    ) -> Response:
        image = await use.card_graph(services, session.user, public_id, card_id, fmt, look,
                                     tf or None)
        return _image_answer(request, image, "private, no-cache")

    @router.post("/dashboards/{public_id}/share", response_model=None)
    async def share(posted: SessionForm, public_id: str) -> Response:
        await use.share(services, posted.session.user, public_id)
        return see_other(urls.dashboard_editor(public_id), "dashboard_shared")

    @router.post("/dashboards/{public_id}/unshare", response_model=None)
    async def unshare(posted: SessionForm, public_id: str) -> Response:
        revoked = await use.unshare(services, posted.session.user, public_id)
        if revoked is not None:
            cache.forget(revoked)  # this process answers 410 at once; others within max-age
        return see_other(urls.dashboard_editor(public_id), "dashboard_unshared")

    @page_route(router, "/d/{key}")
    async def shared(request: Request, key: str) -> Response:
        result = await use.shared_dashboard(services, key, embed=False)
        answer = responder.page(request, None, "shared_dashboard.html", result,
                                present.shared_dashboard)
        answer.headers["Cache-Control"] = SHARED_CACHE
        answer.headers["Vary"] = "Accept"  # the JSON twin has the same URL
        return answer

    @router.get("/embed/dashboard/{key}", response_model=None)
    async def embedded(request: Request, key: str) -> Response:
        result = await use.shared_dashboard(services, key, embed=True)
        answer = responder.page(request, None, "shared_dashboard.html", result,
                                present.shared_dashboard)
        answer.headers["Cache-Control"] = SHARED_CACHE
        answer.headers["Vary"] = "Accept"  # the JSON twin has the same URL
        return answer

    @router.get("/d/{key}/cards/{card_id}/graph.{fmt}", response_model=None)
    async def shared_graph(
        request: Request, key: str, card_id: RowId, fmt: str, look: Look
    ) -> Response:
        image = await use.shared_card_graph(services, key, card_id, fmt, look)
        return _image_answer(request, image, SHARED_CACHE)

    return router


def _image_answer(request: Request, image: GraphImage, cache: str) -> Response:
    return etag_answer(request, image.body, image.content_type, image.etag,
                       {"Cache-Control": cache})
