"""Graph images for the pages: rendered (or served from cache) by the graph servers."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from aerie.accounts import User
from aerie.errors import BadRequest
from interactor.base import Services
from interactor.stat_pages import GRAPH_SIZE, MAX_COMPARE, check_timeframe

FORMATS = ("png", "svg")


@dataclass(frozen=True)
class GraphImage:
    content_type: str
    body: bytes
    etag: str


async def graph_image(
    svc: Services, user: User, stat_ids: list[str], timeframe: str | None, fmt: str,
    previous: bool,
) -> GraphImage:
    """The user's graph of 1 to 3 stats as PNG or SVG; NotFound for a stat not theirs."""
    if fmt not in FORMATS:
        raise BadRequest(f"graphs come as .png or .svg, not .{fmt}")
    if not 1 <= len(stat_ids) <= MAX_COMPARE:
        raise BadRequest(f"a graph shows 1 to {MAX_COMPARE} stats")
    rendered = await svc.graph.call(
        "render", user_id=user.id, stat_ids=stat_ids, timeframe=check_timeframe(timeframe),
        previous=previous and len(stat_ids) == 1, format=fmt, timezone=user.timezone,
        **GRAPH_SIZE,
    )
    return GraphImage(rendered["content_type"], base64.b64decode(rendered["body"]), rendered["etag"])
