"""Sharing pages (owner only) and embeds (anyone holding a key), and embed.js itself.

Embeds answer without a session and set no cookie: the key in the path is the
only credential. Their failures are answered here, not by the app's error
handler, because an embed's answer must stay what the page embedding it asked
for: an HTML fragment for embed.js (readable cross-origin), or an image for an
``<img>`` in a page, a mail or a chat, which then shows the message itself.

Caching: a successful embed is ``Cache-Control: public, max-age=60`` with a strong
ETag (the graph server's for images, a hash of the fragment otherwise), and
``If-None-Match`` answers 304. Shares are public by nature, so shared caches may
keep them; a minute matches embed.js's default refresh and the minute in which the
ingestion API marks new data, and bounds how long a revoked key keeps showing
(at most 60 s, in a cache that already held it). The web app keeps these answers
itself too (``web_service/public_cache.py``), so a revoke made here answers 410 at
once only because ``revoke`` makes that cache forget the key; made elsewhere (another
web copy, the database), it shows within the minute. Failures are ``no-store``: a key
fixed or shared again must show at once.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import FileResponse, Response

from aerie import urls
from aerie.contracts import MAX_SCALE
from aerie.errors import AerieError, BadRequest
from aerie.text_rules import is_whole_number
from interactor import embeds, sharing
from interactor.base import Services
from presenters import embeds as present
from web_service.answers import etag_answer, web_url_of
from web_service.auth import CurrentSession, SessionForm
from web_service.public_cache import PublicCache
from web_service.responder import Responder, page_route, see_other

EMBED_JS = Path(__file__).resolve().parent.parent / "static" / "embed.js"
CACHE_SHARED = "public, max-age=60"
CORS = {"Access-Control-Allow-Origin": "*"}
# Where a revoke form may send the browser back to (never a URL from the form as is).
_BACK = re.compile(rf"^{re.escape(urls.STATS)}/[A-Za-z0-9]{{1,32}}$")


def embed_router(services: Services, responder: Responder, cache: PublicCache) -> APIRouter:
    router = APIRouter()

    @router.post("/stats/{public_id}/share", response_model=None)
    async def share(posted: SessionForm, public_id: str) -> Response:
        await sharing.share_stat(services, posted.session.user, public_id)
        return see_other(urls.stat_page(public_id) + "#sharing", "shared")

    @router.post("/sharing/{key}/revoke", response_model=None)
    async def revoke(posted: SessionForm, key: str) -> Response:
        await sharing.revoke_key(services, posted.session.user, key)
        cache.forget(key)  # this process answers 410 at once; others within max-age
        back = posted.fields.get("back", "")
        return see_other(f"{back}#sharing" if _BACK.match(back) else urls.SHARING, "share_revoked")

    @page_route(router, "/sharing")
    async def sharing_page(request: Request, session: CurrentSession) -> Response:
        result = await sharing.sharing_page(services, session.user, web_url_of(request))
        return responder.page(request, session, "sharing.html", result, present.sharing_page)

    @router.get("/javascripts/embed.js", response_model=None)
    async def embed_js() -> Response:
        return FileResponse(EMBED_JS, media_type="text/javascript",
                            headers={**CORS, "Cache-Control": "public, max-age=300"})

    @router.get("/embed/{kind}/{keys:path}", response_model=None)
    async def embed(
        request: Request, kind: str, keys: str, w: str | None = None, h: str | None = None,
        tf: str | None = None, style: str | None = None, title: str | None = None,
        scale: Annotated[float, Query(ge=1, le=MAX_SCALE)] = 1.0,
    ) -> Response:
        names = keys.split("/")
        names[-1], dot, fmt = names[-1].partition(".")
        try:
            asked = embeds.embed_request(kind, names, w, h, tf, style, title)
        except AerieError as exc:
            return _failure(exc, fmt if dot else None, w, h)
        if dot:
            try:
                image = await embeds.embed_image(services, asked, fmt, scale)
            except AerieError as exc:
                return _failure(exc, fmt, w, h)
            return _cached(request, image.body, image.content_type, image.etag)
        try:
            content = await embeds.embed_content(services, asked)
        except AerieError as exc:
            return _failure(exc, None, w, h)
        body = present.fragment(responder.html, content, web_url_of(request))
        etag = hashlib.sha256(body.encode()).hexdigest()[:32]
        return _cached(request, body.encode(), "text/html; charset=utf-8", etag)

    return router


def _cached(request: Request, body: bytes, content_type: str, etag: str) -> Response:
    return etag_answer(request, body, content_type, etag,
                       {**CORS, "Cache-Control": CACHE_SHARED})


def _failure(exc: AerieError, fmt: str | None, w: str | None, h: str | None) -> Response:
    """Why the embed cannot be shown, in the form that was asked for.

    Chromium shows an image's body whatever the status (checked by
    tests/browser/test_embed_browser.py), so image URLs keep the real status too.
    """
    headers = {**CORS, "Cache-Control": "no-store"}
    status = exc.status
    if fmt is None:
        return Response(present.error_fragment(status, exc.message), status_code=status,
                        media_type="text/html; charset=utf-8", headers=headers)
    width = int(w) if w and is_whole_number(w) and len(w) < 6 else embeds.DEFAULT_SIZE[0]
    height = int(h) if h and is_whole_number(h) and len(h) < 6 else embeds.DEFAULT_SIZE[1]
    if fmt == "svg":
        return Response(present.error_svg(exc.message, width, height), status_code=status,
                        media_type="image/svg+xml", headers=headers)
    if fmt != "png":
        exc = BadRequest(f"embed images come as .png or .svg, not .{fmt}")
    return Response(present.error_png(exc.message, width, height), status_code=exc.status,
                    media_type="image/png", headers=headers)
