"""Headers every answer of the web app carries, so a browser confines its pages.

App pages may run scripts and load styles only from this site, and may not be
framed by another (clickjacking). Embeds, embed.js and shared dashboards exist to
be shown inside other sites, so they carry no frame-blocking header.
Inline ``style`` attributes are allowed (``'unsafe-inline'`` for styles only):
templates place graph marks with them, and embed fragments carry their own look.

No cache keeps what a signed-in person was shown: a page read with a session holds
that person's stats, keys and settings, and without a ``Cache-Control`` header a
browser may show it again from its history (Back after logging out, or to the next
person at a shared computer). So every answer whose route found a live session (the
one :class:`web_service.auth.Auth` looked up, in the scope's state) is
``Cache-Control: no-store`` unless the route chose its own: private graph images say
``private, no-cache`` to be revalidated by their ETag, and public embeds and shared
dashboards, which never read a session, keep their ``public`` caching.
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
SIGNED_IN_HEADERS = {"cache-control": "no-store"}
# What other sites show inside their own pages (see web_service/embed_routes.py).
FRAMEABLE_PREFIXES = (f"{urls.EMBED}/", f"{urls.SHARED_DASHBOARDS}/", urls.EMBED_JS)


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP answer (a route's own
    header of the same name wins), and ``SIGNED_IN_HEADERS`` to a signed-in person's."""

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
                adding = {**extra, **SIGNED_IN_HEADERS} if _signed_in(scope) else extra
                headers += [
                    (name.encode(), value.encode())
                    for name, value in adding.items()
                    if name.encode() not in present
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, send_with_headers)


def _signed_in(scope: Scope) -> bool:
    state = scope.get("state")
    return isinstance(state, dict) and state.get("session") is not None
