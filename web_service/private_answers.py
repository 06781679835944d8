"""No cache keeps what a signed-in person was shown.

A page read with a session holds that person's stats, keys and settings. Without a
``Cache-Control`` header a browser may keep it and show it again from its history
(Back after logging out, or to the next person at a shared computer). So every
answer whose route found a live session is ``Cache-Control: no-store`` unless the
route chose its own header: private graph images say ``private, no-cache`` to be
revalidated by their ETag (a 304 costs no render), and public embeds and shared
dashboards, which never read a session, keep their ``public`` caching.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PRIVATE = b"no-store"


class PrivateAnswers:
    """ASGI middleware: ``Cache-Control: no-store`` on answers to a live session.

    The session is the one :class:`web_service.auth.Auth` looked up for the request
    (``request.state.session``, kept in the scope's state), so a stale cookie on a
    public page changes nothing.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_private(message: Message) -> None:
            if message["type"] == "http.response.start" and _signed_in(scope):
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"cache-control" for name, _value in headers):
                    headers.append((b"cache-control", PRIVATE))
                    message = {**message, "headers": headers}
            await send(message)

        await self._app(scope, receive, send_private)


def _signed_in(scope: Scope) -> bool:
    state = scope.get("state")
    return isinstance(state, dict) and state.get("session") is not None
