"""Graph images: rendered (or served from cache) by the graph servers, for pages,
dashboard cards and embeds alike."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from aerie.accounts import User
from aerie.errors import BadRequest, Unavailable
from interactor.base import Services
from interactor.stat_pages import GRAPH_SIZE, MAX_COMPARE, check_timeframe
from rpc.client import RpcError

FORMATS = ("png", "svg")


@dataclass(frozen=True)
class GraphImage:
    content_type: str
    body: bytes
    etag: str  # the graph server's: equal for equal renders in every copy


async def render(svc: Services, owner: User, stat_ids: list[str], **options: Any) -> dict[str, Any]:
    """The graph server's answer for the owner's stats, drawn in the owner's time zone.

    A JSON-RPC protocol error (a copy that does not know a parameter yet, in the middle
    of a rolling upgrade) is a 503 to retry, not a 500.
    """
    try:
        rendered: dict[str, Any] = await svc.graph.call(
            "render", user_id=owner.id, stat_ids=stat_ids, timezone=owner.timezone, **options)
    except RpcError as exc:
        raise Unavailable(f"the graph service cannot draw this yet ({exc.message})") from exc
    return rendered


async def draw(svc: Services, owner: User, stat_ids: list[str], fmt: str,
               **options: Any) -> GraphImage:
    """The owner's graph as PNG or SVG; BadRequest for another format."""
    if fmt not in FORMATS:
        raise BadRequest(f"graphs come as .png or .svg, not .{fmt}")
    rendered = await render(svc, owner, stat_ids, format=fmt, **options)
    return GraphImage(rendered["content_type"], base64.b64decode(rendered["body"]),
                      rendered["etag"])


async def graph_image(
    svc: Services, user: User, stat_ids: list[str], timeframe: str | None, fmt: str,
    previous: bool,
) -> GraphImage:
    """The user's graph of 1 to 3 stats as PNG or SVG; NotFound for a stat not theirs."""
    if not 1 <= len(stat_ids) <= MAX_COMPARE:
        raise BadRequest(f"a graph shows 1 to {MAX_COMPARE} stats")
    return await draw(svc, user, stat_ids, fmt, timeframe=check_timeframe(timeframe),
                      previous=previous and len(stat_ids) == 1, **GRAPH_SIZE)
