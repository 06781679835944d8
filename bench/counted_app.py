"""A role's ASGI app with counters a bench can read: SQL statements run and charts drawn.

    BENCH_COUNTED_APP=web_service.main:app uvicorn bench.counted_app:app

``GET /bench/counts`` answers ``{"queries": N, "renders": M}`` since the process
started: every statement any SQLAlchemy engine of the process sent to the database
(``before_cursor_execute``), and every chart the graph server drew
(``app_servers.graph.render_chart``, wrapped here). Everything else goes to the app
named by ``BENCH_COUNTED_APP``. For benches only (bench/viewers.py): the counters
cost a few microseconds a statement and are shared, unguarded, between threads,
which is exact enough under the GIL.
"""

from __future__ import annotations

import importlib
import json
import os
from typing import Any

from sqlalchemy import Engine, event

import app_servers.graph

COUNTS = {"queries": 0, "renders": 0}


@event.listens_for(Engine, "before_cursor_execute")
def _count_query(*_args: Any) -> None:
    COUNTS["queries"] += 1


_draw = app_servers.graph.render_chart  # AttributeError here: the graph server changed; adapt


def _counted_draw(*args: Any, **kwargs: Any) -> Any:
    COUNTS["renders"] += 1
    return _draw(*args, **kwargs)


app_servers.graph.render_chart = _counted_draw  # type: ignore[assignment]

_module, _name = os.environ["BENCH_COUNTED_APP"].split(":")
_app = getattr(importlib.import_module(_module), _name)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http" and scope["path"] == "/bench/counts":
        body = json.dumps(COUNTS).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
        return
    await _app(scope, receive, send)
