"""HTTP answers: JSON bytes from the JSON presenter, and content negotiation for pages."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from presenters import json as present


class JSONAnswer(Response):
    """A JSON response encoded by orjson (FastAPI's ORJSONResponse is deprecated)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return present.encode(content)


def error_answer(status: int, message: str) -> JSONAnswer:
    return JSONAnswer(present.error(status, message), status_code=status)


def etag_answer(request: Request, body: bytes, content_type: str, etag: str,
                headers: dict[str, str]) -> Response:
    """The body with its ETag, or 304 when ``If-None-Match`` names it (or ``*``): a
    browser or cache holding this render gets no bytes again."""
    tag = f'"{etag}"'
    headers = {**headers, "ETag": tag}
    if etag_matches(request.headers.get("if-none-match", ""), tag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=content_type, headers=headers)


def etag_matches(if_none_match: str, tag: str) -> bool:
    """Whether an ``If-None-Match`` header names the quoted ``tag`` (weakly) or is ``*``."""
    held = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return tag in held or "*" in held


def web_url_of(request: Request) -> str:
    """This app's public address (``AERIE_PUBLIC_WEB_URL``), for links pasted into other
    pages. Never the request's Host header: a forged one would be echoed into answers
    that shared caches keep and hand to everyone."""
    web_url: str = request.app.state.web_url
    return web_url


def web_host_of(request: Request) -> str:
    """The public address without its scheme (``host[:port][/path]``), for ``//host`` links."""
    return web_url_of(request).split("://", 1)[-1]


def wants_json(request: Request) -> bool:
    """True when the client asks for JSON rather than HTML (a page's JSON twin)."""
    return wants_json_accept(request.headers.get("accept", ""))


def wants_json_accept(accept: str) -> bool:
    """The rule of ``wants_json`` for an ``Accept`` header's value."""
    return "application/json" in accept and "text/html" not in accept
