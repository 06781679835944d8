"""A bare ASGI app answering a fixed 200: the ceiling bench/ingest.py and bench/embed.py
compare against.

Served exactly as the API is (one uvicorn worker, uvloop, httptools), it reads
the request body like the API does and answers the same small headers. Its body
is ``ok\n``, or ``BENCH_BARE_BYTES`` bytes when that is set (bench/embed.py makes
it as long as the embed it compares with).
"""

from __future__ import annotations

import os
from typing import Any

_SIZE = os.environ.get("BENCH_BARE_BYTES")
_BODY_BYTES = b"x" * int(_SIZE) if _SIZE else b"ok\n"
_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/plain"),
                (b"content-length", str(len(_BODY_BYTES)).encode())],
}
_BODY = {"type": "http.response.body", "body": _BODY_BYTES}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    more = True
    while more:  # drain the body, as a real handler must
        message = await receive()
        more = message.get("more_body", False) and message["type"] == "http.request"
    await send(_START)
    await send(_BODY)
