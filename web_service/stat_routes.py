"""The stat pages: list, one stat, graphs, compare, create, rename, trash and restore.

Routes only parse the request, call one use case and hand its result to the
responder; each page is also served as JSON at the same path plus ``.json``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from aerie.errors import AerieError
from aerie.sessions import Session
from interactor import stat_changes, stat_pages
from interactor.base import Services
from interactor.graph_images import GraphImage, graph_image
from presenters import stats as present
from presenters.html import Flash
from web_service.answers import etag_answer, web_url_of
from web_service.auth import Auth
from web_service.responder import Responder, see_other


def stat_router(services: Services, auth: Auth, responder: Responder) -> APIRouter:
    router = APIRouter()

    async def list_page(
        request: Request, session: Session, search: str, flash: Flash | None = None,
        status: int = 200,
    ) -> Response:
        result = await stat_pages.stat_list(
            services, session.user, search, request.app.state.api_url
        )
        return responder.page(request, session, "stats.html", result, present.stat_list,
                              flash=flash, status=status)

    @router.get("/stats", response_model=None)
    @router.get("/stats.json", response_model=None)
    async def stats_list(request: Request, q: str = "") -> Response:
        return await list_page(request, await auth.require(request), q)

    @router.post("/stats", response_model=None)
    async def create(request: Request) -> Response:
        session, form = await auth.form(request)
        try:
            stat = await stat_changes.create_stat(
                services, session.user, form.get("name", ""), form.get("kind", "")
            )
        except AerieError as exc:
            return await list_page(request, session, "", Flash(exc.message, "error"), exc.status)
        return see_other(f"/stats/{stat.public_id}", "created")

    @router.get("/stats/{public_id}", response_model=None)
    @router.get("/stats/{public_id}.json", response_model=None)
    async def stat_page(request: Request, public_id: str, tf: str | None = None) -> Response:
        session = await auth.require(request)
        result = await stat_pages.stat_page(
            services, session.user, public_id, tf, request.app.state.api_url, web_url_of(request)
        )
        return responder.page(request, session, "stat.html", result, present.stat_page)

    @router.get("/stats/{public_id}/graph.{fmt}", response_model=None)
    async def stat_graph(
        request: Request, public_id: str, fmt: str, tf: str | None = None, prev: int = 1
    ) -> Response:
        session = await auth.require(request)
        image = await graph_image(services, session.user, [public_id], tf, fmt, prev != 0)
        return _image_answer(request, image)

    @router.post("/stats/{public_id}/rename", response_model=None)
    async def rename(request: Request, public_id: str) -> Response:
        session, form = await auth.form(request)
        stat = await stat_changes.rename_stat(services, session.user, public_id, form.get("name", ""))
        return see_other(f"/stats/{stat.public_id}", "renamed")

    @router.get("/stats/{public_id}/delete", response_model=None)
    async def confirm_trash(request: Request, public_id: str) -> Response:
        """The page a new-stat mail's delete link opens: one click, never a GET, deletes."""
        session = await auth.require(request)
        stat = await stat_changes.stat_to_delete(services, session.user, public_id)
        return responder.page(request, session, "stat_delete.html", stat, present.stat_with_kind)

    @router.post("/stats/{public_id}/delete", response_model=None)
    async def trash(request: Request, public_id: str) -> Response:
        session, _form = await auth.form(request)
        await stat_changes.trash_stat(services, session.user, public_id)
        return see_other("/stats", "trashed")

    @router.get("/trash", response_model=None)
    @router.get("/trash.json", response_model=None)
    async def trash_page(request: Request) -> Response:
        session = await auth.require(request)
        result = await stat_changes.trash_page(services, session.user)
        return responder.page(request, session, "trash.html", result, present.trash_page)

    @router.post("/trash/{public_id}/restore", response_model=None)
    async def restore(request: Request, public_id: str) -> Response:
        session, _form = await auth.form(request)
        stat = await stat_changes.restore_stat(services, session.user, public_id)
        return see_other(f"/stats/{stat.public_id}", "restored")

    @router.get("/compare", response_model=None)
    @router.get("/compare.json", response_model=None)
    async def compare(
        request: Request, ids: Annotated[list[str] | None, Query()] = None, tf: str | None = None
    ) -> Response:
        session = await auth.require(request)
        result = await stat_pages.compare_page(services, session.user, ids or [], tf)
        return responder.page(request, session, "compare.html", result, present.compare_page)

    @router.get("/compare/graph.{fmt}", response_model=None)
    async def compare_graph(
        request: Request, fmt: str, ids: Annotated[list[str] | None, Query()] = None, tf: str | None = None
    ) -> Response:
        session = await auth.require(request)
        image = await graph_image(services, session.user, ids or [], tf, fmt, previous=False)
        return _image_answer(request, image)

    return router


def _image_answer(request: Request, image: GraphImage) -> Response:
    """The image, or 304 when the browser already holds this render."""
    return etag_answer(request, image.body, image.content_type, image.etag,
                       {"Cache-Control": "private, no-cache"})
