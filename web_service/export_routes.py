"""StatHat's export API, ``/x/TOKEN/...``: parse the request, call one use case, present it."""

from __future__ import annotations

from fastapi import APIRouter, Query

from interactor import export
from interactor.export import ExportContext
from presenters import json as present
from web_service.answers import JSONAnswer


def export_router(ctx: ExportContext) -> APIRouter:
    """The export routes, bound to one context (no module-level state)."""
    router = APIRouter(prefix="/x/{token}", default_response_class=JSONAnswer)

    @router.get("/statlist")
    async def statlist(token: str, offset: int = 0) -> JSONAnswer:
        return JSONAnswer(present.stat_list(await export.list_stats(ctx, token, offset)))

    @router.get("/stat")
    async def stat(token: str, name: str) -> JSONAnswer:
        return JSONAnswer(present.stat_object(await export.stat_named(ctx, token, name)))

    @router.get("/data/{ids:path}")
    async def data(
        token: str,
        ids: str,
        t: str | None = None,
        summary: str | None = None,
        start: int | None = Query(None),
    ) -> JSONAnswer:
        public_ids = [i for i in ids.split("/") if i]
        series = await export.stat_data(ctx, token, public_ids, t, summary, start)
        return JSONAnswer(present.series_list(series))

    @router.delete("/stats/{public_id}")
    async def delete_stat(token: str, public_id: str) -> JSONAnswer:
        return JSONAnswer(present.deleted(await export.remove_stat(ctx, token, public_id)))

    return router
