"""``page_route``: one registration answers a page and its ``.json`` twin."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Request

from web_service.answers import JSONAnswer
from web_service.responder import json_requested, page_route


@pytest.mark.anyio
async def test_a_page_and_its_json_twin_reach_the_same_handler_with_the_same_id() -> None:
    app = FastAPI()

    @page_route(app.router, "/things/{thing_id}")
    async def thing(request: Request, thing_id: str) -> JSONAnswer:
        return JSONAnswer({"id": thing_id, "json": json_requested(request)})

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/things/abc")).json() == {"id": "abc", "json": False}
        # Not a thing called "abc.json": the twin is matched first.
        assert (await client.get("/things/abc.json")).json() == {"id": "abc", "json": True}
