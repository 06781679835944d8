"""What an alert says when it fires, repeats or resolves: its headline and the webhook body
(the mail is a template: ``templates/mail/alert.*``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aerie.alerts import Alert, AlertEvent
from aerie.numbers import compact_number
from aerie.stats import Stat

# The graph in an alert mail spans a few windows, so the change shows in context.
# Intervals coarse enough that sparse data still draws lines, not lonely dots.
GRAPH_TIMEFRAMES = {"5m": "3h5m", "1h": "1d15m", "3h": "2d1h", "1d": "1w3h", "1w": "1M1d",
                    "1M": "3M1d", "1y": "1y1w"}
_WINDOW_WORDS = {"5m": "5 minutes", "1h": "hour", "3h": "3 hours", "1d": "day", "1w": "week",
                 "1M": "month", "1y": "year"}


def condition(alert: Alert) -> str:
    """The rule in words: "total over the last hour greater than 500"."""
    window = _WINDOW_WORDS[alert.time_window]
    if alert.kind == "data":
        return f"no data for a {window}" if alert.time_window != "5m" else "no data for 5 minutes"
    if alert.kind == "value":
        return f"over the last {window}, {alert.operator} {compact_number(alert.threshold or 0)}"
    earlier = _WINDOW_WORDS[alert.time_delta or alert.time_window]
    return (f"the last {window} {alert.operator} {compact_number(alert.percentage or 0)}% "
            f"from the {window} one {earlier} earlier")


def headline(alert: Alert, stat: Stat, event: str, value: float | None) -> str:
    """One line for a subject, a chat message or the history."""
    what = {"firing": "ALERT", "repeat": "STILL FIRING", "resolved": "RESOLVED"}[event]
    if alert.kind == "data":
        figure = "no data arrived" if event != "resolved" else "data is arriving again"
    elif alert.kind == "delta":
        figure = f"changed {value:+.1f}%" if value is not None else "changed"
    else:
        figure = f"is {compact_number(value) if value is not None else 'unknown'}"
    return f"{what}: {stat.name} {figure} ({condition(alert)})"


def webhook_body(url: str, alert: Alert, stat: Stat, event: AlertEvent, link: str) -> dict[str, Any]:
    """A Slack-compatible body for Slack's hooks, plain JSON for everyone else."""
    if urlsplit(url).hostname == "hooks.slack.com":
        return {"text": f"{event.message} <{link}|details>"}
    return {
        "alert_id": alert.public_id, "stat_name": stat.name, "event": event.event,
        "state": "ok" if event.event == "resolved" else "firing", "value": event.value,
        "kind": alert.kind, "time_window": alert.time_window, "message": event.message,
        "at": event.at, "url": link,
    }
