"""Headers every answer of the web app carries, so a browser confines its pages.

App pages may run scripts and load styles only from this site, and may not be
framed by another (clickjacking). Embeds, embed.js and shared dashboards exist to
be shown inside other sites, so they carry no frame-blocking header.
Inline ``style`` attributes are allowed (``'unsafe-inline'`` for styles only):
templates place graph marks with them, and embed fragments carry their own look.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aerie import urls

_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'"
)
APP_PAGE_HEADERS = {
    "content-security-policy": _POLICY + "; frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
FRAMEABLE_HEADERS = {
    "content-security-policy": _POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
# What other sites show inside their own pages (see web_service/embed_routes.py).
FRAMEABLE_PREFIXES = (f"{urls.EMBED}/", f"{urls.SHARED_DASHBOARDS}/", urls.EMBED_JS)


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP answer (a route's own
    header of the same name wins)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        path: str = scope["path"]
        extra = FRAMEABLE_HEADERS if path.startswith(FRAMEABLE_PREFIXES) else APP_PAGE_HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _value in headers}
                headers += [
                    (name.encode(), value.encode())
                    for name, value in extra.items()
                    if name.encode() not in present
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, send_with_headers)
