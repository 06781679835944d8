"""The export API's use cases (StatHat's ``/x/TOKEN/...``), independent of HTTP.

Each use case takes the :class:`~interactor.base.Services` and plain arguments, returns plain
data, and raises :mod:`aerie.errors` on purpose. Blocking database work runs in
worker threads so the event loop keeps serving; independent reads run at the
same time. A stat the token's owner does not own answers exactly as a stat that
does not exist, so a token never reveals anything about other users' stats.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

from sqlalchemy import Connection

from aerie import accounts, alerts, stats
from aerie.accounts import User
from aerie.alerts import Alert
from aerie.db import reading
from aerie.errors import BadRequest, NotFound
from aerie.series import Series, read_series
from aerie.stats import Stat
from aerie.timeframes import Timeframe, check_start, parse_timeframe
from interactor import stat_changes
from interactor.alerts import checked_rule
from interactor.base import Services, in_transaction, off_loop
from interactor.stat_changes import DescribedStat

PAGE_SIZE = 10_000  # stats in one statlist page, as StatHat pages them
MAX_IDS = 5  # stats in one data request
_DURATION = re.compile(r"\d+[mhdwMy]", re.ASCII)


@dataclass(frozen=True)
class StatList:
    stats: list[Stat]
    offset: int


@dataclass(frozen=True)
class DeletedStat:
    public_id: str
    name: str


def _owner(conn: Connection, token: str) -> User:
    """The owner of a live token; NotFound for an unknown or revoked one."""
    user = accounts.user_by_token(conn, token)
    if user is None:
        raise NotFound("unknown access token")
    return user


async def list_stats(svc: Services, token: str, offset: int = 0) -> StatList:
    """The token owner's stats by name, ``PAGE_SIZE`` at a time from row ``offset``."""
    if offset < 0:
        raise BadRequest(f"offset must be 0 or more, not {offset}")

    def work() -> StatList:
        with reading(svc.engine) as conn:
            user = _owner(conn, token)
            return StatList(stats.stats_of_user(conn, user.id, offset, PAGE_SIZE), offset)

    return await off_loop(work)


async def stat_named(svc: Services, token: str, name: str) -> Stat:
    """The token owner's stat called ``name``; NotFound if they have none."""

    def work() -> Stat:
        with reading(svc.engine) as conn:
            user = _owner(conn, token)
            stat = stats.stat_by_name(conn, user.id, name)
        if stat is None:
            raise NotFound(f"no stat named {name!r}")
        return stat

    return await off_loop(work)


def data_timeframe(t: str | None, summary: str | None) -> Timeframe:
    """The frame a data request asks for: ``t`` as given, or ``summary=X`` as X in days."""
    if t and summary:
        raise BadRequest("give either t (such as t=1w1h) or summary (such as summary=1w), not both")
    if t:
        return parse_timeframe(t)
    if summary:
        if not _DURATION.fullmatch(summary.strip()):
            raise BadRequest(
                f"summary {summary!r} is not understood; use a duration such as summary=1w "
                "(units d, w, M, y)"
            )
        try:
            return parse_timeframe(summary.strip() + "1d")
        except BadRequest:
            raise BadRequest(
                f"summary {summary!r} is shorter than a day; summaries give one point per day, "
                "so use summary=1d or longer"
            ) from None
    raise BadRequest(
        "add a timeframe: t=1w1h (one week in hourly points), t=1d5m, t=1M1d, ... "
        "or summary=1w for one point per day"
    )


async def stat_data(
    svc: Services,
    token: str,
    public_ids: list[str],
    t: str | None = None,
    summary: str | None = None,
    start: int | None = None,
) -> list[Series]:
    """One series per id, in the order asked, each over the same frame.

    ``start`` (unix seconds) fixes the frame's beginning; without it the
    frame ends with the interval holding now. Raises BadRequest for no ids,
    more than ``MAX_IDS``, or a bad frame or start; NotFound for a bad token
    or an id the token's owner does not own.
    """
    if not public_ids:
        raise BadRequest("name at least one stat id: /x/TOKEN/data/ID")
    if len(public_ids) > MAX_IDS:
        raise BadRequest(f"asked for {len(public_ids)} stats; the limit is {MAX_IDS} at a time")
    timeframe = data_timeframe(t, summary)
    check_start(start)
    now = svc.now()

    def owner() -> User:
        with reading(svc.engine) as conn:
            return _owner(conn, token)

    user = await off_loop(owner)

    def one_series(public_id: str) -> Series:
        with reading(svc.engine) as conn:
            return read_series(conn, stats.owned_stat(conn, user.id, public_id), timeframe, now, start)

    return list(await asyncio.gather(*(off_loop(partial(one_series, i)) for i in public_ids)))


async def describe_stat(
    svc: Services, token: str, public_id: str, fields: Mapping[str, str]
) -> DescribedStat:
    """Set the token owner's stat's unit, description or tags (those ``fields`` name)."""
    return await stat_changes.describe_stat(svc, partial(_owner, token=token), public_id,
                                            fields)


async def remove_stat(svc: Services, token: str, public_id: str) -> DeletedStat:
    """Delete the token owner's stat and all its data, in one transaction."""

    def work(conn: Connection) -> DeletedStat:
        stat = stats.owned_stat(conn, _owner(conn, token).id, public_id)
        stats.delete_stat(conn, stat)
        return DeletedStat(stat.public_id, stat.name)

    return await in_transaction(svc, work)


@dataclass(frozen=True)
class StatAlert:
    """An alert with its stat, which the alert object names."""

    alert: Alert
    stat: Stat


async def list_alerts(svc: Services, token: str) -> list[StatAlert]:
    def work() -> list[StatAlert]:
        with reading(svc.engine) as conn:
            user = _owner(conn, token)
            return [StatAlert(a, stats.stat_by_id(conn, a.stat_id))
                    for a in alerts.alerts_of_user(conn, user.id)]

    return await off_loop(work)


async def create_alert(svc: Services, token: str, form: Mapping[str, str]) -> StatAlert:
    """An alert from StatHat's form (``stat_id=...&kind=value&time_window=1h&...``)."""
    rule = await checked_rule(form, svc.webhook_allow)
    public_id = (form.get("stat_id") or "").strip()
    if not public_id:
        raise BadRequest("name the stat to watch: stat_id=ID (the id in /x/TOKEN/statlist)")
    now = svc.now()

    def work(conn: Connection) -> StatAlert:
        user = _owner(conn, token)
        stat = stats.owned_stat(conn, user.id, public_id)
        return StatAlert(alerts.create_alert(conn, user.id, stat.id, rule, now), stat)

    return await in_transaction(svc, work)


async def alert_of(svc: Services, token: str, alert_id: str) -> StatAlert:
    def work() -> StatAlert:
        with reading(svc.engine) as conn:
            alert = alerts.owned_alert(conn, _owner(conn, token).id, alert_id)
            return StatAlert(alert, stats.stat_by_id(conn, alert.stat_id))

    return await off_loop(work)


async def remove_alert(svc: Services, token: str, alert_id: str) -> StatAlert:
    def work(conn: Connection) -> StatAlert:
        alert = alerts.owned_alert(conn, _owner(conn, token).id, alert_id)
        alerts.delete_alert(conn, alert)
        return StatAlert(alert, stats.stat_by_id(conn, alert.stat_id))

    return await in_transaction(svc, work)
