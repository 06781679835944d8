"""Use cases' references (stat ids, embed keys, timeframes) turned into web addresses.

Use cases say which graph or key a page shows; these functions spell where it
lives with :mod:`aerie.urls`, for the HTML pages (as Jinja2 globals) and their
JSON twins alike, so both always carry the same addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aerie import urls
from interactor.stat_pages import Graph

EMBED_SIZE = {"w": 760, "h": 235}


def graph_image(graph: Graph, fmt: str) -> str:
    """The address of a page's graph image (``fmt`` is png or svg)."""
    if graph.compared:
        return urls.compare_graph_image(graph.stat_ids, graph.timeframe, fmt, graph.normalised)
    return urls.stat_graph_image(graph.stat_ids[0], fmt, graph.timeframe, graph.previous,
                                 graph.threshold)


def graph_object(graph: Graph | None) -> dict[str, Any] | None:
    """A page's graph in its JSON twin: the image's addresses and the hover geometry."""
    if graph is None:
        return None
    return {"png_url": graph_image(graph, "png"), "svg_url": graph_image(graph, "svg"),
            "plot_area": graph.plot_area, "first": graph.first, "end": graph.end}


@dataclass(frozen=True)
class ShareCodes:
    """Copy-paste ways to show a shared stat, all naming it by its key only."""

    key: str
    script: str  # the embed.js snippet
    png_url: str
    svg_url: str
    markdown: str


def share_codes(web_url: str, key: str, name: str) -> ShareCodes:
    """The embed snippet, image URLs and Markdown for ``key`` served from ``web_url``
    (``https://host``: the script tag uses the scheme-relative ``//host``)."""
    host = web_url.split("://", 1)[-1].rstrip("/")
    script = (
        f'<script src="//{host}{urls.EMBED_JS}"></script>'
        f"<script>StatHatEmbed.render({{s1: '{key}', w: {EMBED_SIZE['w']}, "
        f"h: {EMBED_SIZE['h']}, tf: 'week_compare'}});</script>"
    )
    query = urlencode({**EMBED_SIZE, "tf": "week_compare"})
    png = urls.absolute(web_url, urls.embed_image("graph", key, "png")) + f"?{query}"
    svg = urls.absolute(web_url, urls.embed_image("graph", key, "svg")) + f"?{query}"
    alt = name.replace("[", "(").replace("]", ")")
    return ShareCodes(key, script, png, svg, f"![{alt}]({png})")


def embed_object(codes: ShareCodes) -> dict[str, str]:
    """Share codes in a JSON twin."""
    return {"script": codes.script, "png": codes.png_url, "svg": codes.svg_url,
            "markdown": codes.markdown}
