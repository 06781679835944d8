"""The web tier's cache of finished public answers: embeds and shared dashboards.

One popular page embedding a graph sends every viewer here, and each answer used to
cost a database query and an RPC call carrying the image. This ASGI layer keeps the
finished bytes of such answers, so a repeat costs neither: only new data costs work.

What is kept: a ``GET`` under ``/embed/`` or ``/d/`` whose answer is a 200 marked
``Cache-Control: public, max-age=N`` and sets no cookie. Those routes never read a
session, and only keys (131-bit secrets) name what they show, so the answer is the
same for everyone asking with the same URL. The cache key is the path, the query
string exactly as sent and whether JSON was asked for (``Accept``): an answer is
only ever given again for the very URL, and so the very keys, it was made for.
Private pages (``Cache-Control: private``) are never kept.

Freshness is a TTL, not a version check: an answer is kept for its ``max-age``
(60 s) from when it was made, and a hit says ``max-age=<seconds left>``, so no cache
behind this one (nginx, a browser) keeps it past that first minute either: new data,
a revoke elsewhere, a trashed stat show within the max-age the first answer stated.
A revoke through this process forgets the key's answers at once (``forget``). A TTL
costs nothing per hit; checking ``data_received_at`` would cost a query per hit, more
than the rest of a hit together.

Concurrent misses of one URL make one answer: the first goes to the routes, the
others wait for it. A popular answer is made again shortly before it expires: the
first request in its last ``REFRESH_AHEAD`` of life starts the new one in the
background and is answered from the old one, so viewers do not wait for remakes. Memory is bounded: least recently used answers go first once
their bytes pass ``max_bytes``. Every hit has a strong ``ETag`` (the route's, or a
hash of the body) and ``If-None-Match`` answers 304.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
from collections import OrderedDict
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aerie import urls
from aerie.clock import Clock
from web_service.answers import etag_matches, wants_json_accept

PREFIXES = (f"{urls.EMBED}/", f"{urls.SHARED_DASHBOARDS}/")
REFRESH_AHEAD = 0.15  # of an answer's lifetime
_MAX_AGE = re.compile(rb"max-age=(\d+)")
_CONDITIONAL = (b"if-none-match", b"if-modified-since")
_DROPPED_ON_304 = (b"content-length", b"content-type")
_NOT_KEPT = (b"cache-control", b"content-length")
_SEGMENTS = re.compile(r"[/.]")
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    """A finished answer: its headers without Cache-Control and Content-Length."""

    headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: bytes  # quoted, as sent
    expires: float  # clock time
    refresh_at: float  # clock time from which a request starts making it again
    route: Any  # the route that made it, for the request metrics of hits

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(n) + len(v) for n, v in self.headers) + 200


class PublicCache:
    """Finished answers by (path, query, JSON wanted), least recently used first out."""

    def __init__(self, max_bytes: int, clock: Clock) -> None:
        self.max_bytes = max_bytes
        self.clock = clock
        self._entries: OrderedDict[tuple[str, bytes, bool], Entry] = OrderedDict()
        self._bytes = 0
        self._pending: dict[tuple[str, bytes, bool], asyncio.Event] = {}
        self.refreshing: set[asyncio.Task[None]] = set()  # held, so none is collected early

    def fresh(self, key: tuple[str, bytes, bool]) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= self.clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry

    def keep(self, key: tuple[str, bytes, bool], entry: Entry) -> None:
        if entry.size > self.max_bytes // 8:
            return  # one huge answer would flush everything else
        if key in self._entries:
            self._drop(key)
        self._entries[key] = entry
        self._bytes += entry.size
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def discard(self, key: tuple[str, bytes, bool]) -> None:
        if key in self._entries:
            self._drop(key)

    def forget(self, embed_key: str) -> int:
        """Drop every answer whose path names ``embed_key``; how many were dropped."""
        named = [k for k in self._entries if embed_key in _SEGMENTS.split(k[0])]
        for key in named:
            self._drop(key)
        return len(named)

    def pending(self, key: tuple[str, bytes, bool]) -> asyncio.Event | None:
        """Set once the answer being made for ``key`` is done (kept or not)."""
        return self._pending.get(key)

    def making(self, key: tuple[str, bytes, bool]) -> None:
        self._pending[key] = asyncio.Event()

    def made(self, key: tuple[str, bytes, bool]) -> None:
        self._pending.pop(key).set()

    @property
    def bytes_held(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, key: tuple[str, bytes, bool]) -> None:
        self._bytes -= self._entries.pop(key).size


class PublicCacheLayer:
    """ASGI middleware answering kept answers itself; the rest goes to the app."""

    def __init__(self, app: ASGIApp, cache: PublicCache) -> None:
        self._app = app
        self._cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] != "GET"
                or not scope["path"].startswith(PREFIXES) or not self._cache.max_bytes):
            await self._app(scope, receive, send)
            return
        key = (scope["path"], scope["query_string"], wants_json_accept(_header(scope, b"accept")))
        entry = self._cache.fresh(key)
        pending = self._cache.pending(key) if entry is None else None
        if pending is not None:
            await pending.wait()
            entry = self._cache.fresh(key)
            if entry is None:  # the answer made was not one to keep: ask the app as usual
                await self._app(scope, receive, send)
                return
        if entry is None:
            self._cache.making(key)
            entry = await self._make(key, scope, receive, send)
            if entry is None:
                return  # not cacheable: the app's answer was sent as it was
        elif entry.refresh_at <= self._cache.clock() and self._cache.pending(key) is None:
            self._refresh(key, scope)
        scope["route"] = entry.route
        await self._answer(entry, scope, send)

    async def _make(self, key: tuple[str, bytes, bool], scope: Scope, receive: Receive,
                    send: Send) -> Entry | None:
        """Ask the app (without the client's conditions, so a 200 comes back to keep); the
        caller has marked ``key`` as being made."""
        inner: dict[str, Any] = {
            **scope, "headers": [(n, v) for n, v in scope["headers"] if n not in _CONDITIONAL]}
        messages: list[Message] = []

        async def collect(message: Message) -> None:
            messages.append(message)

        try:
            await self._app(inner, receive, collect)
        finally:
            self._cache.made(key)
        scope["route"] = inner.get("route")
        entry = self._entry(messages, inner.get("route"))
        if entry is None:
            self._cache.discard(key)  # an answer kept from before is no longer the answer
            for message in messages:
                await send(message)
            return None
        self._cache.keep(key, entry)
        return entry

    def _refresh(self, key: tuple[str, bytes, bool], scope: Scope) -> None:
        """Make the answer again in the background, as if asked by this request."""
        async def no_body() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def dropped(_message: Message) -> None:
            pass

        async def remake() -> None:
            try:
                await self._make(key, dict(scope), no_body, dropped)
            except Exception:  # the old answer stays until it expires; the next miss retries
                logger.exception("remaking %r failed", scope["path"])  # repr: no line breaks

        self._cache.making(key)
        task = asyncio.create_task(remake())
        self._cache.refreshing.add(task)
        task.add_done_callback(self._cache.refreshing.discard)

    def _entry(self, messages: list[Message], route: Any) -> Entry | None:
        start = messages[0] if messages else {}
        if start.get("type") != "http.response.start" or start["status"] != 200:
            return None
        headers: list[tuple[bytes, bytes]] = start.get("headers", [])
        named = {n.lower(): v for n, v in headers}
        control = named.get(b"cache-control", b"")
        max_age = _MAX_AGE.search(control)
        if not control.startswith(b"public") or max_age is None or b"set-cookie" in named:
            return None
        body = b"".join(m.get("body", b"") for m in messages[1:])
        kept = [(n, v) for n, v in headers if n.lower() not in _NOT_KEPT]
        etag = named.get(b"etag")
        if etag is None:
            etag = b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'
            kept.append((b"etag", etag))
        made = self._cache.clock()
        if b"last-modified" not in named:  # nginx counts the max-age from it (expires modified)
            kept.append((b"last-modified", formatdate(made, usegmt=True).encode()))
        lifetime = int(max_age.group(1))
        return Entry(kept, body, etag, made + lifetime, made + lifetime * (1 - REFRESH_AHEAD),
                     route)

    async def _answer(self, entry: Entry, scope: Scope, send: Send) -> None:
        left = max(0, math.ceil(entry.expires - self._cache.clock()))
        control = (b"cache-control", b"public, max-age=%d" % left)
        if etag_matches(_header(scope, b"if-none-match"), entry.etag.decode()):
            headers = [h for h in entry.headers if h[0].lower() not in _DROPPED_ON_304]
            await send({"type": "http.response.start", "status": 304,
                        "headers": [*headers, control]})
            await send({"type": "http.response.body", "body": b""})
            return
        length = (b"content-length", b"%d" % len(entry.body))
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*entry.headers, control, length]})
        await send({"type": "http.response.body", "body": entry.body})


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""
