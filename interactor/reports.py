"""The daily report's settings page, with yesterday's report as it would arrive."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from aerie import reports, stats
from aerie.accounts import User
from aerie.db import reading
from aerie.errors import BadRequest
from aerie.reports import DayFigure
from aerie.stats import Stat
from aerie.text_rules import check_text, is_whole_number
from interactor.base import Services, in_transaction, off_loop


@dataclass(frozen=True)
class ReportPage:
    hour: int | None
    chosen: list[Stat]
    choices: list[Stat]
    yesterday: list[DayFigure]  # the report as it would arrive today
    timezone: str


async def report_page(svc: Services, user: User) -> ReportPage:
    yesterday = datetime.fromtimestamp(svc.now(), ZoneInfo(user.timezone)).date() - timedelta(1)

    def load() -> ReportPage:
        with reading(svc.engine) as conn:
            chosen = reports.report_settings(conn, user.id)
            figures = [reports.day_figure(conn, s, yesterday, user.timezone)
                       for s in chosen.stats]
            return ReportPage(chosen.hour, chosen.stats, stats.stats_of_user(conn, user.id),
                              figures, user.timezone)

    return await off_loop(load)


async def save_report(svc: Services, user: User, form: Mapping[str, str]) -> None:
    """``hour`` (``off`` or 0-23) and a ``stat_<id>`` field per chosen stat."""
    text = check_text("hour", form.get("hour", "off")).strip()
    if text != "off" and not (is_whole_number(text) and 0 <= int(text) <= 23):
        raise BadRequest(f"choose the hour the report arrives, 0 to 23, or off; not {text!r}")
    hour = None if text == "off" else int(text)
    wanted = [name.removeprefix("stat_") for name in form if name.startswith("stat_")]

    def work(conn: Connection) -> None:
        chosen = [stats.owned_stat(conn, user.id, public_id).id for public_id in wanted]
        if hour is not None and not chosen:
            raise BadRequest("choose at least one stat for the report, or turn it off")
        reports.save_report_settings(conn, user.id, hour, chosen)

    await in_transaction(svc, work)
