"""The stat page's own forms and downloads: comments on a moment, and the points as CSV.

Every use case answers another user's stat (or comment) exactly as a missing one:
NotFound. Input is checked whole before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from aerie import comments, stats
from aerie.accounts import User
from aerie.comments import Comment
from aerie.db import reading
from aerie.errors import BadRequest, NotFound
from aerie.series import Point, read_series
from aerie.stats import Stat
from aerie.text_rules import is_whole_number
from aerie.timeframes import LATEST_START, parse_timeframe
from interactor.base import Services, in_transaction, off_loop
from interactor.stat_pages import check_timeframe, opening_timeframe

# What a browser's <input type="datetime-local"> sends: minutes, or seconds when the
# user typed them. No zone: the zone is the user's.
_LOCAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?", re.ASCII)


def local_moment(text: str, timezone: str) -> int:
    """A ``datetime-local`` value (``2026-03-08T14:30``) in ``timezone``, as unix seconds.

    Daylight-saving rule, as RFC 5545 and JavaScript's Temporal ("compatible") read
    wall-clock times: a time skipped when the clocks go forward is read with the
    offset in force before the change, so it lands as far past the change as it
    was written past the last valid minute (02:30 on the night New York skips
    02:00-03:00 is 03:30 EDT); a time that happens twice when the clocks go back
    is its first occurrence (01:30 EDT, not 01:30 EST). Python's ``fold=0`` is
    exactly this rule. Raises BadRequest for anything but a local date and time from
    1970 on.
    """
    text = text.strip()
    if not _LOCAL_TIME.fullmatch(text):
        raise BadRequest(
            f"the time {text!r} is not understood; give a date and time such as 2026-03-08T14:30"
        )
    try:
        wall = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"the time {text!r} is not a real date and time") from None
    at = int(wall.replace(tzinfo=ZoneInfo(timezone), fold=0).timestamp())
    if not 0 <= at <= LATEST_START:
        raise BadRequest(f"the time {text!r} is out of range; give a time after 1970")
    return at


async def add_stat_comment(
    svc: Services, user: User, public_id: str, text: str, local_time: str
) -> Comment:
    """Mark a moment on the user's stat; ``local_time`` is in the user's zone, blank is now.

    Raises BadRequest for empty or too long text or a bad time (nothing is
    written), NotFound if the stat is not the user's.
    """
    text = comments.check_text(text)
    now = svc.now()
    at = local_moment(local_time, user.timezone) if local_time.strip() else now

    def work(conn: Connection) -> Comment:
        stat = stats.owned_stat(conn, user.id, public_id)
        return comments.add_comment(conn, user.id, stat.id, at, text, now)

    return await in_transaction(svc, work)


async def remove_stat_comment(svc: Services, user: User, public_id: str, comment_id: str) -> None:
    """Delete one of the user's comments on their stat; NotFound if there is no such one."""
    if not is_whole_number(comment_id) or len(comment_id) > 18:
        raise NotFound(f"no comment with id {comment_id!r}")

    def work(conn: Connection) -> None:
        stat = stats.owned_stat(conn, user.id, public_id)
        if not comments.delete_comment(conn, user.id, stat.id, int(comment_id)):
            raise NotFound(f"no comment with id {comment_id!r} on this stat")

    await in_transaction(svc, work)


@dataclass(frozen=True)
class StatData:
    """The points the stat page shows for a timeframe, for downloading."""

    stat: Stat
    timeframe: str
    points: list[Point]
    timezone: str


async def stat_data(svc: Services, user: User, public_id: str, timeframe: str | None) -> StatData:
    """The same series the stat page reads (same frame, the user's local days), alone.

    Raises BadRequest for a bad timeframe, NotFound if the stat is not the user's.
    """
    now = svc.now()
    if timeframe is None:  # the page's own opening timeframe
        timeframe = await off_loop(lambda: opening_timeframe(svc, user, public_id, now))
    tf = check_timeframe(timeframe)
    frame = parse_timeframe(tf)

    def load() -> StatData:
        with reading(svc.engine) as conn:
            stat = stats.owned_stat(conn, user.id, public_id)
            series = read_series(conn, stat, frame, now, timezone=user.timezone)
        return StatData(stat, tf, series.points, user.timezone)

    return await off_loop(load)
