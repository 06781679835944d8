"""Graph images: rendered (or served from cache) by the graph servers, for pages,
dashboard cards and embeds alike."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from aerie.accounts import User
from aerie.contracts import MAX_STATS_ON_GRAPH, RenderParams, RenderResult
from aerie.errors import BadRequest
from interactor.base import Services
from interactor.stat_pages import GRAPH_SIZE, check_timeframe

FORMATS = ("png", "svg")


@dataclass(frozen=True)
class ImageLook:
    """How the browser asks for a graph: the size of the box it fills (CSS pixels; None:
    the page's default), its pixel ratio and its light or dark mode."""

    width: int | None = None
    height: int | None = None
    scale: float = 1.0
    theme: str = "light"

    def options(self, default: dict[str, int]) -> dict[str, Any]:
        """``RenderParams`` fields: this look over ``default``'s width and height."""
        return {"width": self.width or default["width"],
                "height": self.height or default["height"],
                "scale": self.scale, "theme": self.theme}


DEFAULT_LOOK = ImageLook()


@dataclass(frozen=True)
class GraphImage:
    content_type: str
    body: bytes
    etag: str  # the graph server's: equal for equal renders in every copy


async def render(svc: Services, owner: User, stat_ids: list[str], **options: Any) -> RenderResult:
    """The graph server's answer for the owner's stats, drawn in the owner's time zone;
    ``options`` are the other fields of ``RenderParams``."""
    return await svc.graph.render(RenderParams(
        user_id=owner.id, stat_ids=stat_ids, timezone=owner.timezone, **options))


async def draw(svc: Services, owner: User, stat_ids: list[str], fmt: str,
               **options: Any) -> GraphImage:
    """The owner's graph as PNG or SVG; BadRequest for another format."""
    if fmt not in FORMATS:
        raise BadRequest(f"graphs come as .png or .svg, not .{fmt}")
    rendered = await render(svc, owner, stat_ids, format=fmt, **options)
    return GraphImage(rendered.content_type, base64.b64decode(rendered.body or ""),
                      rendered.etag)


async def graph_image(
    svc: Services, user: User, stat_ids: list[str], timeframe: str | None, fmt: str,
    previous: bool, look: ImageLook = DEFAULT_LOOK, threshold: float | None = None,
    normalise: bool = False,
) -> GraphImage:
    """The user's graph of 1 to 3 stats as PNG or SVG, with an alert's ``threshold``
    drawn across it if given; NotFound for a stat not theirs."""
    if not 1 <= len(stat_ids) <= MAX_STATS_ON_GRAPH:
        raise BadRequest(f"a graph shows 1 to {MAX_STATS_ON_GRAPH} stats")
    return await draw(svc, user, stat_ids, fmt, timeframe=check_timeframe(timeframe),
                      previous=previous and len(stat_ids) == 1, threshold=threshold,
                      normalise=normalise and len(stat_ids) > 1,
                      **look.options(GRAPH_SIZE))
