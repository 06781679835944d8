"""JSON of alerts: StatHat's alert object, and the alert pages' twins."""

from __future__ import annotations

from typing import Any

from aerie.alerts import Alert, AlertEvent
from aerie.stats import Stat
from interactor.alerts import AlertPage, AlertsPage, Preview
from presenters.links import graph_object


def alert_object(alert: Alert, stat: Stat) -> dict[str, Any]:
    """``{"id","stat_id","stat_name","kind","time_window",...}`` as STATHAT_API.md gives it."""
    return {
        "id": alert.public_id, "stat_id": stat.public_id, "stat_name": stat.name,
        "kind": alert.kind, "time_window": alert.time_window, "operator": alert.operator,
        "threshold": alert.threshold, "percentage": alert.percentage,
        "time_delta": alert.time_delta, "state": alert.state, "state_since": alert.state_since,
        "last_value": alert.last_value, "last_evaluated_at": alert.last_evaluated_at,
        "repeat_minutes": alert.repeat_minutes, "email": alert.email,
        "webhook_url": alert.webhook_url, "silenced_until": alert.silenced_until,
        "created_at": alert.created_at,
    }


def event_object(event: AlertEvent) -> dict[str, Any]:
    return {"time": event.at, "event": event.event, "value": event.value,
            "message": event.message, "email": event.email_status,
            "webhook": event.webhook_status}


def alerts_page(result: AlertsPage) -> list[dict[str, Any]]:
    return [alert_object(row.alert, row.stat) for row in result.alerts]


def preview(result: Preview) -> dict[str, Any]:
    return {"stat_id": result.stat.public_id, "rule": result.form,
            "backtest": result.backtest, "graph": graph_object(result.graph)}


def alert_page(result: AlertPage) -> dict[str, Any]:
    return {**alert_object(result.alert, result.stat),
            "history": [event_object(e) for e in result.events],
            "backtest": result.preview.backtest}
