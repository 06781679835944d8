"""StatHat's export API, ``/x/TOKEN/...``: parse the request, call one use case, present it."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from interactor import export
from interactor.base import Services
from presenters import json as present
from presenters.alerts import alert_object
from web_service.answers import JSONAnswer
from web_service.auth import read_form
from web_service.params import Offset


def export_router(svc: Services) -> APIRouter:
    """The export routes, bound to the app's services (no module-level state); the
    token in the path is the caller's only credential."""
    router = APIRouter(prefix="/x/{token}", default_response_class=JSONAnswer)

    @router.get("/statlist")
    async def statlist(token: str, offset: Offset = 0) -> JSONAnswer:
        return JSONAnswer(present.stat_list(await export.list_stats(svc, token, offset)))

    @router.get("/stat")
    async def stat(token: str, name: str) -> JSONAnswer:
        return JSONAnswer(present.stat_object(await export.stat_named(svc, token, name)))

    @router.get("/data/{ids:path}")
    async def data(
        token: str,
        ids: str,
        t: str | None = None,
        summary: str | None = None,
        start: int | None = Query(None),
    ) -> JSONAnswer:
        public_ids = [i for i in ids.split("/") if i]
        series = await export.stat_data(svc, token, public_ids, t, summary, start)
        return JSONAnswer(present.series_list(series))

    @router.post("/stats/{public_id}")
    async def describe_stat(token: str, public_id: str, request: Request) -> JSONAnswer:
        """Aerie's addition: set ``unit``, ``description`` or ``tags`` (comma-separated),
        from the query string or a form body; answers the stat object with them."""
        fields = dict(request.query_params)
        if request.headers.get("content-type"):
            fields.update(await read_form(request))
        described = await export.describe_stat(svc, token, public_id, fields)
        return JSONAnswer(present.described_stat(described))

    @router.delete("/stats/{public_id}")
    async def delete_stat(token: str, public_id: str) -> JSONAnswer:
        return JSONAnswer(present.deleted(await export.remove_stat(svc, token, public_id)))

    @router.get("/alerts")
    async def alert_list(token: str) -> JSONAnswer:
        found = await export.list_alerts(svc, token)
        return JSONAnswer([alert_object(a.alert, a.stat) for a in found])

    @router.post("/alerts")
    async def create_alert(token: str, request: Request) -> JSONAnswer:
        form = await read_form(request)
        made = await export.create_alert(svc, token, form)
        return JSONAnswer(alert_object(made.alert, made.stat))

    @router.get("/alerts/{alert_id}")
    async def alert(token: str, alert_id: str) -> JSONAnswer:
        found = await export.alert_of(svc, token, alert_id)
        return JSONAnswer(alert_object(found.alert, found.stat))

    @router.delete("/alerts/{alert_id}")
    async def delete_alert(token: str, alert_id: str) -> JSONAnswer:
        await export.remove_alert(svc, token, alert_id)
        return JSONAnswer({"msg": "alert deleted."})

    return router
