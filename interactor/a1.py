"""The ``/a1/`` API's use cases (the one StatHat's command-line client speaks).

The caller is named by an access token, as in the export API; here an unknown
or revoked token is NotAuthenticated (the routes answer 401 and ask for HTTP
Basic), and a stat the token's owner does not own answers exactly as a missing
one (NotFound). Times are unix seconds and whole days are UTC days, as in the
export API. The token is never compared with anything: its SHA-256 is looked up
(see ``accounts.user_by_token``), so answer times say nothing about it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

from sqlalchemy import Connection

from aerie import accounts, comments, stats
from aerie.accounts import User
from aerie.comments import Comment
from aerie.db import reading
from aerie.errors import BadRequest, NotAuthenticated
from aerie.schema import DAY
from aerie.series import Series, read_series
from aerie.stats import Stat
from aerie.text_rules import is_decimal
from aerie.timeframes import LATEST_START, MAX_POINTS, Timeframe, check_start, parse_timeframe
from interactor import export, stat_changes
from interactor.base import Services, in_transaction, off_loop
from interactor.export import PAGE_SIZE, StatAlert
from interactor.stat_changes import DescribedStat

# `stathat alert value STAT` (StatHat's command-line tool) has no flags for a value
# alert's threshold and operator: it always posts its placeholders, Go's zero value and
# the delta command's default operator, which would be stored as "greater than 0".
CLI_PLACEHOLDERS = {"threshold": "0", "operator": "gt"}
_VALUE_ALERT_EXAMPLES = {"threshold": "threshold=500", "operator": "operator=greater than"}


@dataclass(frozen=True)
class StatComments:
    """Comments on one stat, oldest first (the stat gives them their public stat id)."""

    stat: Stat
    comments: list[Comment]


def _owner(conn: Connection, token: str) -> User:
    user = accounts.user_by_token(conn, token) if token else None
    if user is None:
        raise NotAuthenticated("unknown or revoked access token; create one in your settings")
    return user


async def describe_stat(
    svc: Services, token: str, public_id: str, fields: Mapping[str, str]
) -> DescribedStat:
    """Set the token owner's stat's unit, description or tags (those ``fields`` name)."""
    return await stat_changes.describe_stat(svc, partial(_owner, token=token), public_id,
                                            fields)


async def list_stats(svc: Services, token: str) -> list[Stat]:
    """All the token owner's live stats, by name."""

    def work() -> list[Stat]:
        with reading(svc.engine) as conn:
            user = _owner(conn, token)
            found: list[Stat] = []
            while True:
                page = stats.stats_of_user(conn, user.id, len(found), PAGE_SIZE)
                found += page
                if len(page) < PAGE_SIZE:
                    return found

    return await off_loop(work)


async def dataset(
    svc: Services, token: str, public_id: str, t: str | None, start: int | None = None
) -> Series:
    """The stat over timeframe ``t`` (``1w3h``), ending now or beginning at ``start``.

    Raises BadRequest for a missing or bad timeframe or start, NotAuthenticated
    for a bad token, NotFound for a stat the owner does not have.
    """
    now = svc.now()

    def work() -> Series:
        with reading(svc.engine) as conn:
            user = _owner(conn, token)  # a bad token is 401 before a bad parameter is 400
            if not t:
                raise BadRequest(
                    "add a timeframe: t=1w1h (one week in hourly points), t=1d5m, t=1M1d, ..."
                )
            timeframe = parse_timeframe(t)
            check_start(start)
            return read_series(conn, stats.owned_stat(conn, user.id, public_id), timeframe, now,
                               start)

    return await off_loop(work)


async def dataset_full(svc: Services, token: str, public_id: str) -> Series:
    """The stat's whole history in UTC days, from the day of its first data to today.

    Daily points, because day rollups are kept forever while finer ones expire,
    and a day is the finest resolution whole histories fit in under the
    timeframe limit (``MAX_POINTS`` days, over 27 years; the ingestion API takes
    points at most 10 years old by default). The history starts at the earlier of
    the first day with data and the day the stat was created; data older than
    ``MAX_POINTS`` days is left out. The answer has the same shape as
    :func:`dataset`, labelled like ``"12 days @ 1 day"``.
    """
    now = svc.now()
    widest = Timeframe(MAX_POINTS * DAY, DAY, "")

    def work() -> Series:
        with reading(svc.engine) as conn:
            stat = stats.owned_stat(conn, _owner(conn, token).id, public_id)
            return read_series(conn, stat, widest, now)

    everything = await off_loop(work)
    points = everything.points
    created = max(0, min(len(points) - 1, (everything.stat.created_at - points[0].time) // DAY))
    first = next((i for i, p in enumerate(points) if p.rcount), created)
    kept = points[min(first, created):]
    days = len(kept)
    label = f"{days} day{'' if days == 1 else 's'} @ 1 day"
    return Series(everything.stat, Timeframe(days * DAY, DAY, label), kept, everything.end)


async def create_alert(svc: Services, token: str, form: Mapping[str, str]) -> StatAlert:
    """An alert from the command-line tool's form; a value alert must name its threshold and
    operator (BadRequest names what is missing, nothing is stored)."""
    if (form.get("kind") or "").strip() == "value":
        _check_value_alert(form)
    return await export.create_alert(svc, token, form)


def _check_value_alert(form: Mapping[str, str]) -> None:
    sent = {name: (form.get(name) or "").strip() for name in CLI_PLACEHOLDERS}
    missing = [name for name, value in sent.items() if not value]
    if sent == CLI_PLACEHOLDERS:
        raise BadRequest(
            "a value alert needs a threshold and an operator: the command-line tool's "
            "'alert value' sends neither (only its placeholders threshold=0&operator=gt); "
            "create the alert in the web app, or post threshold=500&operator=greater than "
            "(operator=greater than with threshold=0 if you mean above 0)"
        )
    if missing:
        raise BadRequest(
            f"a value alert needs {' and '.join(missing)}: add "
            + "&".join(_VALUE_ALERT_EXAMPLES[name] for name in missing)
        )


async def add_comment(
    svc: Services, token: str, public_id: str, text: str, time: str | None = None
) -> StatComments:
    """Mark ``time`` (unix seconds; absent or blank is now) on the stat with ``text``.

    Raises BadRequest for a missing id, empty or too long text or a bad time
    (nothing is written), NotAuthenticated, or NotFound.
    """
    now = svc.now()

    def work(conn: Connection) -> StatComments:
        user = _owner(conn, token)
        if not public_id:
            raise BadRequest("add id=... with the stat's id")
        checked = comments.check_text(text)
        at = _unix_time(time) if time and time.strip() else now
        stat = stats.owned_stat(conn, user.id, public_id)
        made = comments.add_comment(conn, user.id, stat.id, at, checked, now)
        return StatComments(stat, [made])

    return await in_transaction(svc, work)


async def list_comments(svc: Services, token: str, public_id: str) -> StatComments:
    """Every comment on the stat, oldest first."""
    def work() -> StatComments:
        with reading(svc.engine) as conn:
            user = _owner(conn, token)
            if not public_id:
                raise BadRequest("add id=... with the stat's id, such as /a1/comments?id=VP6Z")
            stat = stats.owned_stat(conn, user.id, public_id)
            found = comments.comments_between(conn, [stat.id], 0, LATEST_START + 1)
            return StatComments(stat, found)

    return await off_loop(work)


def _unix_time(text: str) -> int:
    if not is_decimal(text.strip(" ")):
        raise BadRequest(f"time must be unix seconds, such as time=1700000000, not {text!r}")
    try:
        at = int(float(text))
    except OverflowError:  # 1e999 reads as infinity
        raise BadRequest(f"time must be unix seconds from 0 to {LATEST_START}, not {text!r}") from None
    if not 0 <= at <= LATEST_START:
        raise BadRequest(f"time must be unix seconds from 0 to {LATEST_START}, not {text!r}")
    return at
