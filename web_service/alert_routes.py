"""Alert pages: the list, a new alert's 30-day preview, an alert with its history."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from aerie.errors import BadRequest
from interactor import alerts
from interactor.base import Services
from presenters import alerts as present
from presenters.html import Flash
from web_service.auth import Auth
from web_service.responder import Responder, see_other

CSRF_FIELD = "csrf"


def alert_router(services: Services, auth: Auth, responder: Responder) -> APIRouter:
    router = APIRouter()

    @router.get("/alerts", response_model=None)
    @router.get("/alerts.json", response_model=None)
    async def alert_list(request: Request) -> Response:
        session = await auth.require(request)
        result = await alerts.alerts_page(services, session.user)
        return responder.page(request, session, "alerts.html", result, present.alerts_page)

    @router.get("/stats/{public_id}/alerts/new", response_model=None)
    @router.get("/stats/{public_id}/alerts/new.json", response_model=None)
    async def new_alert(request: Request, public_id: str) -> Response:
        """The rule's backtest before saving; a rule to fix shows the form and why."""
        session = await auth.require(request)
        form = dict(request.query_params)
        try:
            result = await alerts.preview(services, session.user, public_id, form)
        except BadRequest as exc:
            to_fix = await alerts.rule_to_fix(services, session.user, public_id, form)
            return responder.page(request, session, "alert_new.html", to_fix, present.preview,
                                  flash=Flash(exc.message, "error"), status=exc.status)
        return responder.page(request, session, "alert_new.html", result, present.preview)

    @router.post("/stats/{public_id}/alerts", response_model=None)
    async def create(request: Request, public_id: str) -> Response:
        session, form = await auth.form(request)
        rule = {k: v for k, v in form.items() if k != CSRF_FIELD}
        try:
            alert = await alerts.create_alert(services, session.user, public_id, rule)
        except BadRequest as exc:
            to_fix = await alerts.rule_to_fix(services, session.user, public_id, rule)
            return responder.page(request, session, "alert_new.html", to_fix, present.preview,
                                  flash=Flash(exc.message, "error"), status=exc.status)
        return see_other(f"/alerts/{alert.public_id}", "alert_created")

    @router.get("/alerts/{alert_id}", response_model=None)
    @router.get("/alerts/{alert_id}.json", response_model=None)
    async def alert_page(request: Request, alert_id: str) -> Response:
        session = await auth.require(request)
        result = await alerts.alert_page(services, session.user, alert_id)
        return responder.page(request, session, "alert.html", result, present.alert_page)

    @router.post("/alerts/{alert_id}", response_model=None)
    async def edit(request: Request, alert_id: str) -> Response:
        session, form = await auth.form(request)
        rule = {k: v for k, v in form.items() if k != CSRF_FIELD}
        try:
            await alerts.edit_alert(services, session.user, alert_id, rule)
        except BadRequest as exc:
            result = await alerts.alert_page(services, session.user, alert_id)
            return responder.page(request, session, "alert.html", result, present.alert_page,
                                  flash=Flash(exc.message, "error"), status=exc.status)
        return see_other(f"/alerts/{alert_id}", "alert_saved")

    @router.post("/alerts/{alert_id}/silence", response_model=None)
    async def silence(request: Request, alert_id: str) -> Response:
        session, form = await auth.form(request)
        alert = await alerts.silence_alert(services, session.user, alert_id,
                                           form.get("minutes", ""))
        return see_other(f"/alerts/{alert_id}",
                         "alert_silenced" if alert.silenced_until else "alert_unsilenced")

    @router.post("/alerts/{alert_id}/delete", response_model=None)
    async def delete(request: Request, alert_id: str) -> Response:
        session, _form = await auth.form(request)
        await alerts.delete_alert(services, session.user, alert_id)
        return see_other("/alerts", "alert_deleted")

    return router
