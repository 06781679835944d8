"""The stat pages: list, one stat, graphs, compare, create, rename, trash and restore.

Routes only parse the request, call one use case and hand its result to the
responder; each page is also served as JSON at the same path plus ``.json``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from aerie import urls
from aerie.errors import AerieError, BadRequest, Conflict, NotFound
from aerie.sessions import Session
from interactor import stat_changes, stat_pages
from interactor.base import Services
from interactor.graph_images import GraphImage, graph_image
from presenters import stats as present
from presenters.html import Flash
from web_service.answers import etag_answer, web_url_of
from web_service.auth import CurrentSession, SessionForm
from web_service.params import Look, PageNumber
from web_service.responder import Responder, json_requested, page_route, see_other


def stat_router(services: Services, responder: Responder) -> APIRouter:
    router = APIRouter()

    async def list_page(
        request: Request, session: Session, search: str, flash: Flash | None = None,
        status: int = 200, tag: str = "", sort: str = "name", page: int = 1,
    ) -> Response:
        result = await stat_pages.stat_list(
            services, session.user, search, request.app.state.api_url, tag, sort, page
        )
        return responder.page(request, session, "stats.html", result, present.stat_list,
                              flash=flash, status=status)

    @page_route(router, "/stats")
    async def stats_list(
        request: Request, session: CurrentSession, q: str = "", tag: str = "",
        sort: str = "name", page: PageNumber = 1,
    ) -> Response:
        return await list_page(request, session, q, tag=tag, sort=sort, page=page)

    @router.post("/stats", response_model=None)
    async def create(request: Request, form: SessionForm) -> Response:
        session, fields = form.session, form.fields
        try:
            stat = await stat_changes.create_stat(
                services, session.user, fields.get("name", ""), fields.get("kind", "")
            )
        except AerieError as exc:
            return await list_page(request, session, "", Flash.error(exc.message), exc.status)
        return see_other(urls.stat_page(stat.public_id), "created")

    async def refused_on_stat_page(request: Request, session: Session, public_id: str,
                                   mistake: AerieError) -> Response:
        """The stat page again, saying above it what to fix in the form it sent; a stat
        that is not the visitor's, and the JSON twin, get the error alone."""
        if json_requested(request) or not isinstance(mistake, (BadRequest, Conflict)):
            raise mistake
        result = await stat_pages.stat_page(services, session.user, public_id, None,
                                            request.app.state.api_url, web_url_of(request))
        return responder.page(request, session, "stat.html", result, present.stat_page,
                              flash=Flash.error(mistake.message), status=mistake.status)

    async def in_trash(request: Request, session: Session, public_id: str,
                       missing: NotFound) -> Response:
        """The owner's stat in the trash, asked for at its old address: a 404 that says so,
        with a Restore button; any other missing stat (another user's too) the 404 alone."""
        trashed = await stat_changes.trashed_stat(services, session.user, public_id)
        if trashed is None:
            raise missing
        return responder.page(request, session, "stat_in_trash.html", trashed,
                              present.trashed_stat, status=404)

    @page_route(router, "/stats/{public_id}")
    async def stat_page(
        request: Request, session: CurrentSession, public_id: str, tf: str | None = None
    ) -> Response:
        """A timeframe that cannot be read keeps the page (on its opening timeframe) and
        says what to fix above the graph, with a 400, the typed text left in the box to
        fix; the JSON twin answers the 400 alone.
        A stat in the trash answers 404 with a page offering to restore it."""
        api_url, web_url = request.app.state.api_url, web_url_of(request)
        try:
            result = await stat_pages.stat_page(services, session.user, public_id, tf, api_url,
                                                web_url)
        except NotFound as missing:
            return await in_trash(request, session, public_id, missing)
        except BadRequest as exc:
            if tf is None or json_requested(request):
                raise
            try:
                result = await stat_pages.stat_page(services, session.user, public_id, None,
                                                    api_url, web_url)
            except AerieError:
                raise exc from None  # the input is refused first, as before any lookup
            return responder.page(request, session, "stat.html", replace(result, typed=tf),
                                  present.stat_page, flash=Flash.error(exc.message),
                                  status=exc.status)
        return responder.page(request, session, "stat.html", result, present.stat_page)

    @router.get("/stats/{public_id}/graph.{fmt}", response_model=None)
    async def stat_graph(
        request: Request, session: CurrentSession, public_id: str, fmt: str,
        look: Look, tf: str | None = None, prev: int = 1,
        threshold: Annotated[float | None, Query(allow_inf_nan=False)] = None,
    ) -> Response:
        image = await graph_image(services, session.user, [public_id], tf, fmt, prev != 0, look,
                                  threshold)
        return _image_answer(request, image)

    @router.post("/stats/{public_id}/details", response_model=None)
    async def describe(request: Request, form: SessionForm, public_id: str) -> Response:
        fields = {k: v for k, v in form.fields.items() if k in ("unit", "description", "tags")}
        try:
            await stat_changes.describe_stat(services, form.session.user, public_id, fields)
        except AerieError as exc:
            return await refused_on_stat_page(request, form.session, public_id, exc)
        return see_other(urls.stat_page(public_id), "described")

    @router.post("/stats/{public_id}/rename", response_model=None)
    async def rename(request: Request, form: SessionForm, public_id: str) -> Response:
        try:
            stat = await stat_changes.rename_stat(
                services, form.session.user, public_id, form.fields.get("name", "")
            )
        except AerieError as exc:
            return await refused_on_stat_page(request, form.session, public_id, exc)
        return see_other(urls.stat_page(stat.public_id), "renamed")

    @router.get("/stats/{public_id}/delete", response_model=None)
    async def confirm_trash(request: Request, session: CurrentSession, public_id: str) -> Response:
        """The page a new-stat mail's delete link opens: one click, never a GET, deletes."""
        stat = await stat_changes.stat_to_delete(services, session.user, public_id)
        return responder.page(request, session, "stat_delete.html", stat, present.stat_with_kind)

    @router.post("/stats/{public_id}/delete", response_model=None)
    async def trash(form: SessionForm, public_id: str) -> Response:
        await stat_changes.trash_stat(services, form.session.user, public_id)
        return see_other(urls.STATS, "trashed")

    @page_route(router, "/trash")
    async def trash_page(request: Request, session: CurrentSession) -> Response:
        result = await stat_changes.trash_page(services, session.user)
        return responder.page(request, session, "trash.html", result, present.trash_page)

    @router.post("/trash/{public_id}/restore", response_model=None)
    async def restore(form: SessionForm, public_id: str) -> Response:
        stat = await stat_changes.restore_stat(services, form.session.user, public_id)
        return see_other(urls.stat_page(stat.public_id), "restored")

    @page_route(router, "/compare")
    async def compare(
        request: Request, session: CurrentSession,
        ids: Annotated[list[str] | None, Query()] = None, tf: str | None = None,
        norm: Literal["", "0", "1"] = "",
    ) -> Response:
        """The stats ``ids`` names, repeated (``ids=A&ids=B``, as the form sends them) or
        comma-separated (``ids=A,B``, as people type them). ``norm=1`` draws each stat as %
        of its largest value, ``norm=0`` on one plain axis; without it, normalised when the
        stats' units differ."""
        normalise = None if norm == "" else norm == "1"
        try:
            result = await stat_pages.compare_page(services, session.user, stat_ids(ids), tf,
                                                   normalise)
        except BadRequest as exc:  # as on the stat page: said above, the page kept
            if tf is None or json_requested(request):
                raise
            try:
                result = await stat_pages.compare_page(services, session.user, stat_ids(ids),
                                                       None, normalise)
            except AerieError:
                raise exc from None
            return responder.page(request, session, "compare.html", replace(result, typed=tf),
                                  present.compare_page, flash=Flash.error(exc.message),
                                  status=exc.status)
        return responder.page(request, session, "compare.html", result, present.compare_page)

    @router.get("/compare/graph.{fmt}", response_model=None)
    async def compare_graph(
        request: Request, session: CurrentSession, fmt: str, look: Look,
        ids: Annotated[list[str] | None, Query()] = None, tf: str | None = None,
        norm: Literal["0", "1"] = "0",
    ) -> Response:
        image = await graph_image(services, session.user, stat_ids(ids), tf, fmt, False, look,
                                  normalise=norm == "1")
        return _image_answer(request, image)

    return router


def stat_ids(ids: list[str] | None) -> list[str]:
    """The stat ids of repeated ``ids=`` parameters, each of which may list several
    separated by commas (a stat's id has none), in order, blanks left out."""
    return [part.strip() for given in ids or [] for part in given.split(",") if part.strip()]


def _image_answer(request: Request, image: GraphImage) -> Response:
    """The image, or 304 when the browser already holds this render."""
    return etag_answer(request, image.body, image.content_type, image.etag,
                       {"Cache-Control": "private, no-cache"})
