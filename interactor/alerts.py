"""Alerts' use cases: list, preview with a 30-day backtest, create, edit, silence, delete.

The backtest runs on the analysis servers (``AnalysisServer.backtest``), the
graph on the graph servers, and the database reads meanwhile, all at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from aerie import alerts, stats
from aerie.accounts import User
from aerie.alerts import Alert, AlertEvent
from aerie.contracts import BacktestParams, Rule
from aerie.db import reading
from aerie.errors import BadRequest
from aerie.series import frame_bounds
from aerie.stats import Stat
from aerie.text_rules import is_whole_number
from aerie.timeframes import parse_timeframe
from aerie.webhook_targets import AllowList
from interactor import alert_forms
from interactor.base import Services, in_transaction, off_loop
from interactor.stat_pages import Graph, page_graph

BACKTEST_TIMEFRAME = "1M"  # the graph a backtest is marked on: the same 30 days
MAX_SILENCE_MINUTES = 30 * 24 * 60


@dataclass(frozen=True)
class ListedAlert:
    alert: Alert
    stat: Stat


@dataclass(frozen=True)
class AlertsPage:
    alerts: list[ListedAlert]
    now: int
    timezone: str


@dataclass(frozen=True)
class Preview:
    """What an alert would have done over the last 30 days, marked on the stat's graph."""

    stat: Stat
    form: dict[str, str]
    backtest: dict[str, Any] | None  # None: the rule needs fixing first
    graph: Graph | None
    timezone: str


@dataclass(frozen=True)
class AlertPage:
    alert: Alert
    stat: Stat
    events: list[AlertEvent]
    preview: Preview
    now: int
    timezone: str


def rule_form(alert: Alert) -> dict[str, str]:
    """The alert's rule as the form fields that would create it."""
    rule = alerts.rule_of(alert)
    form = {k: "" if v is None else str(v) for k, v in vars(rule).items()}
    form["email"] = "1" if rule.email else "0"
    if rule.threshold is not None:
        form["threshold"] = f"{rule.threshold:g}"
    if rule.percentage is not None:
        form["percentage"] = f"{rule.percentage:g}"
    return form


async def alerts_page(svc: Services, user: User) -> AlertsPage:
    def load() -> list[ListedAlert]:
        with reading(svc.engine) as conn:
            found = alerts.alerts_of_user(conn, user.id)
            return [ListedAlert(a, stats.stat_by_id(conn, a.stat_id)) for a in found]

    return AlertsPage(await off_loop(load), svc.now(), user.timezone)


async def preview(svc: Services, user: User, public_id: str, form: Mapping[str, str]) -> Preview:
    """The backtest of an unsaved rule; BadRequest names the field to fix."""
    rule = alert_forms.parse_rule(form)  # fail fast, before any call

    def load() -> Stat:
        with reading(svc.engine) as conn:
            return stats.owned_stat(conn, user.id, public_id)

    threshold = rule.threshold if rule.kind == "value" else None  # drawn across the graph
    stat, tested = await asyncio.gather(
        off_loop(load),
        svc.analysis.backtest(BacktestParams(user_id=user.id, stat_id=public_id, rule=rule)),
    )
    first, end = frame_bounds(parse_timeframe(BACKTEST_TIMEFRAME), None, svc.now(), user.timezone)
    graph = page_graph([public_id], BACKTEST_TIMEFRAME, first, end, previous=False,
                       threshold=threshold)
    return Preview(stat, dict(form), tested.model_dump(), graph, user.timezone)


async def rule_to_fix(svc: Services, user: User, public_id: str, form: Mapping[str, str]) -> Preview:
    """The alert form again, as sent, for a rule that needs fixing (no backtest)."""

    def load() -> Stat:
        with reading(svc.engine) as conn:
            return stats.owned_stat(conn, user.id, public_id)

    return Preview(await off_loop(load), dict(form), None, None, user.timezone)


async def checked_rule(form: Mapping[str, str], allow: AllowList) -> Rule:
    """The rule, with its webhook (if any) checked to lead outside: BadRequest otherwise."""
    rule = alert_forms.parse_rule(form)
    await off_loop(lambda: alerts.check_webhook(rule, allow))
    return rule


async def create_alert(svc: Services, user: User, public_id: str, form: Mapping[str, str]) -> Alert:
    rule = await checked_rule(form, svc.webhook_allow)
    now = svc.now()

    def work(conn: Connection) -> Alert:
        stat = stats.owned_stat(conn, user.id, public_id)
        return alerts.create_alert(conn, user.id, stat.id, rule, now)

    return await in_transaction(svc, work)


async def alert_page(svc: Services, user: User, alert_id: str) -> AlertPage:
    def load() -> tuple[Alert, Stat, list[AlertEvent]]:
        with reading(svc.engine) as conn:
            alert = alerts.owned_alert(conn, user.id, alert_id)
            return alert, stats.stat_by_id(conn, alert.stat_id), alerts.events_of_alert(conn, alert)

    alert, stat, events = await off_loop(load)
    tested = await preview(svc, user, stat.public_id, rule_form(alert))
    return AlertPage(alert, stat, events, tested, svc.now(), user.timezone)


async def edit_alert(svc: Services, user: User, alert_id: str, form: Mapping[str, str]) -> Alert:
    rule = await checked_rule(form, svc.webhook_allow)

    def work(conn: Connection) -> Alert:
        return alerts.update_rule(conn, alerts.owned_alert(conn, user.id, alert_id), rule)

    return await in_transaction(svc, work)


async def silence_alert(svc: Services, user: User, alert_id: str, minutes: str) -> Alert:
    """Hold notifications back for ``minutes`` (0 lifts the silence)."""
    text = minutes.strip()
    if not is_whole_number(text) or int(text) > MAX_SILENCE_MINUTES:
        raise BadRequest(f"silence for 0 to {MAX_SILENCE_MINUTES} minutes, not {minutes!r}")
    until = svc.now() + int(text) * 60 if int(text) else None

    def work(conn: Connection) -> Alert:
        return alerts.silence(conn, alerts.owned_alert(conn, user.id, alert_id), until)

    return await in_transaction(svc, work)


async def delete_alert(svc: Services, user: User, alert_id: str) -> Alert:
    def work(conn: Connection) -> Alert:
        alert = alerts.owned_alert(conn, user.id, alert_id)
        alerts.delete_alert(conn, alert)
        return alert

    return await in_transaction(svc, work)
