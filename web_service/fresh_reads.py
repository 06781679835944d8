"""Read-your-writes with read replicas: a client's pages wait for its own last change.

After a change that succeeded (any method but GET and HEAD, answered below 400),
the answer carries a cookie with the primary's GTID position; while the cookie
lives, that client's page reads, in any web copy, use a replica only once it has
applied that position (``aerie.replicas``). The cookie holds no secret: a forged
position only makes its own sender's pages read the primary.
"""

from __future__ import annotations

import math
from http.cookies import SimpleCookie

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aerie.replicas import ReadRouting, seen_position, valid_position

COOKIE = "aerie_seen"
_READS = {"GET", "HEAD"}


class FreshReads:
    """ASGI middleware: the cookie in, as ``seen_position`` for the request; out, after
    a change. Installed only when there are replicas to read."""

    def __init__(self, app: ASGIApp, routing: ReadRouting, max_lag: float) -> None:
        self._app = app
        self._routing = routing
        # past the most a replica in use may lag, any of them has the change
        self._max_age = math.ceil(max_lag) + 1

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        position = _cookie(scope)
        token = seen_position.set(position)
        changing = scope["method"] not in _READS

        async def send_with_position(message: Message) -> None:
            if changing and message["type"] == "http.response.start" and message["status"] < 400:
                seen = await anyio.to_thread.run_sync(self._routing.primary_position)
                cookie = (f"{COOKIE}={seen}; Max-Age={self._max_age}; Path=/; HttpOnly; "
                          "SameSite=Lax")
                message = {**message,
                           "headers": [*message.get("headers", []), (b"set-cookie", cookie.encode())]}
            await send(message)

        try:
            await self._app(scope, receive, send_with_position)
        finally:
            seen_position.reset(token)


def _cookie(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            morsel = SimpleCookie(value.decode("latin-1")).get(COOKIE)
            if morsel is not None and valid_position(morsel.value):
                return morsel.value
    return None
