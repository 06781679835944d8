"""JSON twin of the daily report page."""

from __future__ import annotations

from typing import Any

from interactor.reports import ReportPage


def report_page(result: ReportPage) -> dict[str, Any]:
    return {
        "hour": result.hour,
        "timezone": result.timezone,
        "stats": [s.public_id for s in result.chosen],
        "yesterday": [
            {"stat_id": f.stat.public_id, "name": f.stat.name, "day": f.day.isoformat(),
             "value": f.value, "day_before": f.day_before, "week_before": f.week_before,
             "change_day": f.change_day, "change_week": f.change_week}
            for f in result.yesterday
        ],
    }
