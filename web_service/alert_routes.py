"""Alert pages: the list, a new alert's 30-day preview, an alert with its history."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from aerie import urls
from aerie.errors import BadRequest
from interactor import alerts
from interactor.base import Services
from presenters import alerts as present
from presenters.html import Flash
from web_service.auth import CSRF_FIELD, CurrentSession, SessionForm
from web_service.responder import Responder, page_route, see_other


def alert_router(services: Services, responder: Responder) -> APIRouter:
    router = APIRouter()

    @page_route(router, "/alerts")
    async def alert_list(request: Request, session: CurrentSession) -> Response:
        result = await alerts.alerts_page(services, session.user)
        return responder.page(request, session, "alerts.html", result, present.alerts_page)

    @page_route(router, "/stats/{public_id}/alerts/new")
    async def new_alert(request: Request, session: CurrentSession, public_id: str) -> Response:
        """The rule's backtest before saving; a rule to fix shows the form and why, and
        no rule at all (a bookmark, a reload) the blank form."""
        form = dict(request.query_params)
        if not form:
            blank = await alerts.rule_to_fix(services, session.user, public_id, form)
            return responder.page(request, session, "alert_new.html", blank, present.preview)
        try:
            result = await alerts.preview(services, session.user, public_id, form)
        except BadRequest as exc:
            to_fix = await alerts.rule_to_fix(services, session.user, public_id, form)
            return responder.page(request, session, "alert_new.html", to_fix, present.preview,
                                  flash=Flash.error(exc.message), status=exc.status)
        return responder.page(request, session, "alert_new.html", result, present.preview)

    @router.post("/stats/{public_id}/alerts", response_model=None)
    async def create(request: Request, form: SessionForm, public_id: str) -> Response:
        session = form.session
        rule = {k: v for k, v in form.fields.items() if k != CSRF_FIELD}
        try:
            alert = await alerts.create_alert(services, session.user, public_id, rule)
        except BadRequest as exc:
            to_fix = await alerts.rule_to_fix(services, session.user, public_id, rule)
            return responder.page(request, session, "alert_new.html", to_fix, present.preview,
                                  flash=Flash.error(exc.message), status=exc.status)
        return see_other(urls.alert_page(alert.public_id), "alert_created")

    @page_route(router, "/alerts/{alert_id}")
    async def alert_page(request: Request, session: CurrentSession, alert_id: str) -> Response:
        result = await alerts.alert_page(services, session.user, alert_id)
        return responder.page(request, session, "alert.html", result, present.alert_page)

    @router.post("/alerts/{alert_id}", response_model=None)
    async def edit(request: Request, form: SessionForm, alert_id: str) -> Response:
        session = form.session
        rule = {k: v for k, v in form.fields.items() if k != CSRF_FIELD}
        try:
            await alerts.edit_alert(services, session.user, alert_id, rule)
        except BadRequest as exc:
            result = await alerts.alert_page(services, session.user, alert_id)
            return responder.page(request, session, "alert.html", result, present.alert_page,
                                  flash=Flash.error(exc.message), status=exc.status)
        return see_other(urls.alert_page(alert_id), "alert_saved")

    @router.post("/alerts/{alert_id}/silence", response_model=None)
    async def silence(form: SessionForm, alert_id: str) -> Response:
        alert = await alerts.silence_alert(services, form.session.user, alert_id,
                                           form.fields.get("minutes", ""))
        return see_other(urls.alert_page(alert_id),
                         "alert_silenced" if alert.silenced_until else "alert_unsilenced")

    @router.post("/alerts/{alert_id}/delete", response_model=None)
    async def delete(form: SessionForm, alert_id: str) -> Response:
        await alerts.delete_alert(services, form.session.user, alert_id)
        return see_other(urls.ALERTS, "alert_deleted")

    return router
