"""Embeds: what a shared stat shows to anyone holding its embed key, without a session.

The key is the only credential. A request names one to three keys; each must be a
live share of a live stat (``aerie.shares.shared_stat``: NotFound for an unknown
key, Gone for a revoked key or a trashed stat), and all must belong to one owner.
Everything is then read as the owner (their user id and time zone), and nothing
that identifies the owner or opens other data (public ids, classic keys, e-mail,
ezkey) ever goes into a result.

Named timeframes, as StatHat's embeds spelled them, map to Aerie timeframes:

=============== ======== =========================================
name            frame    drawn
=============== ======== =========================================
week_compare    ``1w``   the last week, the week before dashed (default)
half_compare    ``12h``  the last 12 hours, the 12 before dashed
hour_compare    ``1h``   the last hour, the hour before dashed
day_compare     ``1d``   the last day, the day before dashed
month_compare   ``1M``   the last 30 days, the 30 before dashed
year_compare    ``1y``   the last 365 days, the 365 before dashed
hour/day/week/  ``1h``.. the same frames without the period before
month/year
=============== ======== =========================================

Any StatHat timeframe (``2d30m``) is accepted as well, without the period before.
StatHat never documented ``half_compare``; "half a day against the half before"
is Aerie's reading of it. The period before is drawn for one stat only (as on
the compare page, three stats and their three pasts would be unreadable).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aerie import accounts, shares
from aerie.accounts import User
from aerie.contracts import MAX_STATS_ON_GRAPH as MAX_STATS
from aerie.contracts import MAX_TITLE, STYLES, SummarizeParams
from aerie.db import reading
from aerie.errors import BadRequest, NotFound
from aerie.series import Point, read_series
from aerie.stats import Stat
from aerie.text_rules import is_whole_number
from aerie.timeframes import parse_timeframe
from interactor.base import Services, off_loop
from interactor.graph_images import GraphImage, draw, render

KINDS = ("graph", "histogram", "data", "table", "text")
IMAGE_KINDS = ("graph", "histogram")
DEFAULT_SIZE = (760, 235)
SIZE_LIMITS = {"w": (16, 2000), "h": (16, 1200)}
DEFAULT_TIMEFRAME = "week_compare"
NAMED_TIMEFRAMES: dict[str, tuple[str, bool]] = {
    "week_compare": ("1w", True),
    "half_compare": ("12h", True),
    "hour_compare": ("1h", True),
    "day_compare": ("1d", True),
    "month_compare": ("1M", True),
    "year_compare": ("1y", True),
    "hour": ("1h", False),
    "day": ("1d", False),
    "week": ("1w", False),
    "month": ("1M", False),
    "year": ("1y", False),
}
# The most rows a table embed lists (the newest ones); a longer frame is cut.
MAX_TABLE_ROWS = 500


@dataclass(frozen=True)
class EmbedRequest:
    """An embed's parameters, checked: build it with ``embed_request``."""

    kind: str
    keys: tuple[str, ...]
    width: int
    height: int
    tf: str  # as asked (``week_compare``, ``2d30m``)
    timeframe: str  # the Aerie timeframe drawn
    previous: bool  # whether the period before is drawn (one stat only)
    style: str
    title: str

    def query(self) -> dict[str, str]:
        """The parameters to repeat in the image URL a fragment points at."""
        query = {"w": str(self.width), "h": str(self.height), "tf": self.tf, "style": self.style}
        return {**query, "title": self.title} if self.title else query


def embed_request(
    kind: str, keys: list[str], w: str | None, h: str | None, tf: str | None,
    style: str | None, title: str | None,
) -> EmbedRequest:
    """Check an embed's parameters; BadRequest says which one to fix and how."""
    if kind not in KINDS:
        raise BadRequest(f"embed kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if not keys or any(not k for k in keys):
        raise BadRequest("name a stat by its embed key: /embed/graph/KEY")
    if len(keys) > MAX_STATS:
        raise BadRequest(f"an embed shows 1 to {MAX_STATS} stats (s1, s2, s3), not {len(keys)}")
    if len(set(keys)) != len(keys):
        raise BadRequest("the same embed key appears twice; give each stat once")
    style = style or "full"
    if style not in STYLES:
        raise BadRequest(f"style must be one of {', '.join(STYLES[1:])} or left out, not {style!r}")
    title = title or ""
    if len(title) > MAX_TITLE:
        raise BadRequest(f"title is {len(title)} characters; the limit is {MAX_TITLE}")
    tf = (tf or DEFAULT_TIMEFRAME).strip()
    timeframe, previous = _timeframe(tf)
    return EmbedRequest(
        kind, tuple(keys), _size("w", w, DEFAULT_SIZE[0]), _size("h", h, DEFAULT_SIZE[1]), tf,
        timeframe, previous and len(keys) == 1, style, title,
    )


def _timeframe(tf: str) -> tuple[str, bool]:
    if tf in NAMED_TIMEFRAMES:
        return NAMED_TIMEFRAMES[tf]
    try:
        parse_timeframe(tf)
    except BadRequest as exc:
        raise BadRequest(
            f"the timeframe tf={tf} is not understood; use one of {', '.join(NAMED_TIMEFRAMES)}, or a "
            "StatHat timeframe such as 2d30m (units m, h, d, w, M, y)"
        ) from exc
    return tf, False


def _size(name: str, text: str | None, default: int) -> int:
    least, most = SIZE_LIMITS[name]
    if text is None or text == "":
        return default
    if not is_whole_number(text) or not least <= int(text) <= most:
        what = "width" if name == "w" else "height"
        raise BadRequest(f"the {what} {name} must be a whole number of pixels from {least} to "
                         f"{most}, not {text}")
    return int(text)


@dataclass(frozen=True)
class Shared:
    """What the keys open: the owner (never shown) and their stats, in the keys' order."""

    owner: User
    stats: list[Stat]


async def resolve(svc: Services, keys: tuple[str, ...]) -> Shared:
    """The owner and stats behind the keys: NotFound (unknown key), Gone (revoked key or
    trashed stat), BadRequest when the keys belong to different accounts."""

    def load() -> Shared:
        with reading(svc.read_engine()) as conn:
            listed = [shares.shared_stat(conn, key) for key in keys]
            if len({stat.user_id for stat in listed}) > 1:
                raise BadRequest("the stats of one embed must all be shared by the same account")
            owner = accounts.user_by_id(conn, listed[0].user_id)
        if owner is None:
            raise NotFound("no graph is shared by this key; check the link")
        return Shared(owner, listed)

    return await off_loop(load)


def _render_options(request: EmbedRequest) -> dict[str, Any]:
    return {"timeframe": request.timeframe, "previous": request.previous,
            "width": request.width, "height": request.height, "style": request.style,
            "title": request.title, "chart": "histogram" if request.kind == "histogram" else "line"}


async def embed_image(
    svc: Services, request: EmbedRequest, fmt: str, scale: float = 1.0
) -> GraphImage:
    """The shared graph (or histogram) as PNG or SVG, drawn as its owner sees it; ``scale``
    draws a PNG for high-density screens (the page's ``srcset`` asks for 2x)."""
    if request.kind not in IMAGE_KINDS:
        raise BadRequest(f"only graph and histogram embeds come as images, not {request.kind}")
    shared = await resolve(svc, request.keys)
    return await draw(svc, shared.owner, [s.public_id for s in shared.stats], fmt,
                      scale=scale, **_render_options(request))


@dataclass(frozen=True)
class StatFigures:
    """One stat as the data, text and table embeds show it."""

    name: str
    unit: str | None
    counter: bool
    latest: float | None
    total: float | None
    points: list[Point]  # the table's rows, oldest first; empty for other kinds


@dataclass(frozen=True)
class EmbedContent:
    """What a fragment shows; ``version`` changes when the picture does (new data)."""

    request: EmbedRequest
    timeframe_label: str
    timezone: str  # the owner's, in which the table's times are written
    stats: list[StatFigures]
    version: str  # the graph server's etag for images; empty for other kinds


async def embed_content(svc: Services, request: EmbedRequest) -> EmbedContent:
    """The figures a fragment of ``request.kind`` shows, read as the owner."""
    shared = await resolve(svc, request.keys)
    owner = shared.owner
    label = parse_timeframe(request.timeframe).label
    if request.kind in IMAGE_KINDS:
        # Warms the graph server's cache for the image the fragment points at.
        rendered = await render(svc, owner, [s.public_id for s in shared.stats],
                                format="png", with_body=False, **_render_options(request))
        figures = [StatFigures(s.name, s.unit, s.counter, None, None, []) for s in shared.stats]
        return EmbedContent(request, label, owner.timezone, figures, rendered.etag[:16])
    summaries = await asyncio.gather(*(
        svc.analysis.summarize(SummarizeParams(user_id=owner.id, stat_id=stat.public_id,
                                               timeframe=request.timeframe,
                                               timezone=owner.timezone))
        for stat in shared.stats
    ))
    tables = await _tables(svc, shared, request.timeframe) if request.kind == "table" else {}
    figures = [
        StatFigures(stat.name, stat.unit, stat.counter, summary.current.latest,
                    summary.current.total, tables.get(stat.id, []))
        for stat, summary in zip(shared.stats, summaries, strict=True)
    ]
    return EmbedContent(request, label, owner.timezone, figures, "")


async def _tables(svc: Services, shared: Shared, timeframe: str) -> dict[int, list[Point]]:
    """Each stat's points over the frame in the owner's zone, the newest ``MAX_TABLE_ROWS``."""
    frame = parse_timeframe(timeframe)
    now = svc.now()

    def load() -> dict[int, list[Point]]:
        with reading(svc.read_engine()) as conn:
            return {
                stat.id: read_series(conn, stat, frame, now, timezone=shared.owner.timezone)
                .points[-MAX_TABLE_ROWS:]
                for stat in shared.stats
            }

    return await off_loop(load)
