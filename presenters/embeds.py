"""Embeds as others' pages show them: HTML fragments, placeholder images, the sharing JSON.

A fragment is inserted into someone else's page by ``static/embed.js``, so its
URLs are absolute (the web app's own origin) and it carries its few styles inline
rather than relying on a stylesheet the host page does not have. Nothing here is
given the owner or a stat's public id: the results only hold names and figures.
"""

from __future__ import annotations

import io
from functools import lru_cache
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from PIL import Image, ImageDraw, ImageFont

from aerie import urls
from interactor.embeds import EmbedContent, EmbedRequest, StatFigures
from interactor.sharing import SharingPage
from presenters.filters import compact, local_time, sentence
from presenters.html import HtmlPresenter
from presenters.links import embed_object, share_codes

PLACEHOLDER_LIMITS = ((60, 2000), (20, 1200))
# The table embed's fixed line heights (templates/embed_table.html): its caption and
# heading row, then each row. Its box is a whole number of rows tall, so the last row
# in view shows whole instead of cut through its text.
TABLE_HEAD_PX, TABLE_ROW_PX = 40, 20


def table_box_height(height: int) -> int:
    """The tallest box within ``height`` px holding the heading and whole rows (one at least)."""
    return TABLE_HEAD_PX + max(1, (height - TABLE_HEAD_PX) // TABLE_ROW_PX) * TABLE_ROW_PX


def image_url(web_url: str, request: EmbedRequest, fmt: str, version: str = "") -> str:
    """Where a fragment's ``<img>`` (or a person's e-mail) loads the graph from."""
    keys = "/".join(quote(k, safe="") for k in request.keys)
    query = request.query() | ({"v": version} if version else {})
    return urls.absolute(web_url, urls.embed_image(request.kind, keys, fmt)) + "?" + urlencode(query)


def fragment(html: HtmlPresenter, content: EmbedContent, web_url: str) -> str:
    """The HTML fragment of one embed, from ``templates/embed_<kind>.html``."""
    request = content.request
    page: dict[str, Any] = {
        "kind": request.kind,
        "width": request.width,
        "height": request.height,
        "table_height": table_box_height(request.height),
        "title": request.title,
        "names": ", ".join(s.name for s in content.stats),
        "timeframe_label": content.timeframe_label,
        "timezone": content.timezone,
        "stats": [_figures(s, content) for s in content.stats],
        "image_url": (image_url(web_url, request, "png", content.version)
                      if request.kind in ("graph", "histogram") else ""),
    }
    return html.render(f"embed_{'graph' if request.kind == 'histogram' else request.kind}.html",
                       page)


def _figures(stat: StatFigures, content: EmbedContent) -> dict[str, Any]:
    """A counter reads as its total ("1.2k requests, last 1 week"), a value as its latest."""
    frame = content.timeframe_label.split(" @ ")[0]
    text = (f"{compact(stat.total, stat.unit)} {stat.name}, last {frame}" if stat.counter
            else f"{stat.name}: {compact(stat.latest, stat.unit)}")
    return {
        "name": stat.name,
        "latest": compact(stat.latest, stat.unit),
        "text": text,
        "rows": [[local_time(p.time, content.timezone), compact(p.value, stat.unit)]
                 for p in reversed(stat.points)],
    }


def error_fragment(status: int, message: str) -> str:
    """A one-line notice in place of the embed: what went wrong, said to the page's reader."""
    text = sentence(message)
    return (f'<div class="stathat-embed stathat-embed-error" data-status="{status}" '
            f'style="font:14px sans-serif;color:#555;padding:8px;border:1px dashed #bbb">'
            f"{escape(text)}.</div>")


def error_svg(message: str, width: int, height: int) -> bytes:
    width, height = _placeholder_size(width, height)
    text = escape(sentence(message))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><rect width="100%" height="100%" fill="#f4f4f4" '
        f'stroke="#bbb" stroke-dasharray="4 3"/><text x="50%" y="50%" text-anchor="middle" '
        f'dominant-baseline="middle" font-family="sans-serif" font-size="13" fill="#555">'
        f"{text}</text></svg>"
    ).encode()


def error_png(message: str, width: int, height: int) -> bytes:
    """A grey image saying ``message``, so an ``<img>`` in a mail or a page explains itself."""
    return _placeholder_png(sentence(message), *_placeholder_size(width, height))


def _placeholder_size(width: int, height: int) -> tuple[int, int]:
    (wmin, wmax), (hmin, hmax) = PLACEHOLDER_LIMITS
    return min(max(width, wmin), wmax), min(max(height, hmin), hmax)


@lru_cache(maxsize=64)
def _placeholder_png(text: str, width: int, height: int) -> bytes:
    """Drawn once per message and size: the few messages there are repeat endlessly."""
    image = Image.new("RGB", (width, height), "#f4f4f4")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width - 1, height - 1), outline="#bbbbbb")
    size = 13
    font = ImageFont.load_default(size)
    while size > 6 and draw.textlength(text, font=font) > width - 12:
        size -= 1
        font = ImageFont.load_default(size)
    draw.text((width / 2, height / 2), text, fill="#555555", font=font, anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def sharing_page(result: SharingPage) -> dict[str, Any]:
    """The JSON twin of /sharing: each live key, what it opens, and how to embed it."""
    return {
        "shares": [
            {
                "key": item.share.key,
                "kind": item.kind,
                "id": item.public_id,
                "name": item.name,
                "created_at": item.share.created_at,
                "embed": (embed_object(share_codes(result.web_url, item.share.key, item.name))
                          if item.kind == "stat" else None),
                "link": (urls.absolute(result.web_url, urls.shared_dashboard(item.share.key))
                         if item.kind != "stat" else None),
            }
            for item in result.items
        ],
    }
