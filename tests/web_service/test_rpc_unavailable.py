"""With the app servers down or broken, each page that needs one answers 503 saying so,
never 500.

The web app here points its graph and analysis clients at a port nobody listens on
(every call fails to connect), at a copy answering every call with a JSON-RPC
internal error, or at one whose answers are not what the contract says. The typed
clients must turn each into the domain's "unavailable" error on every path, HTML
page and JSON twin alike.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aerie import accounts, alerts, dashboards, shares
from aerie.settings import Settings
from interactor.alert_forms import parse_rule
from tests.conftest import Account, hashed, make_stat, put_points
from tests.servers import free_port, serve
from tests.web_service.conftest import PASSWORD, log_in

RULE = {"kind": "value", "time_window": "5m", "operator": "greater than", "threshold": "500"}


@dataclass(frozen=True)
class Site:
    """A logged-in client of a web app whose app servers are all down, and what it owns."""

    client: httpx.Client
    stat: str  # public ids
    other: str
    board: str
    board_key: str
    stat_key: str
    alert: str


def broken_app_server(answer: dict[str, Any]) -> Starlette:
    """A copy that answers every JSON-RPC call with ``answer`` (a result or an error)."""

    async def call(request: Request) -> Response:
        request_id = (await request.json())["id"]
        return JSONResponse({"jsonrpc": "2.0", "id": request_id, **answer})

    return Starlette(routes=[Route("/", call, methods=["POST"])])


FAILURES = {
    "internal error": {"error": {"code": -32603, "message": "internal error in the method"}},
    "wrong answer": {"result": {"unexpected": True}},
}


@pytest.fixture(params=["no copy listening", *FAILURES])
def app_servers_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param not in FAILURES:
        yield f"http://127.0.0.1:{free_port()}/"
        return
    with serve(broken_app_server(FAILURES[request.param])) as server:
        yield server.url + "/"


@pytest.fixture
def site(settings: Settings, engine: Engine, app_servers_url: str) -> Iterator[Site]:
    down = settings.model_copy(
        update={"graph_urls": app_servers_url, "analysis_urls": app_servers_url})
    from web_service.app import create_app

    now = int(time.time())
    email = f"owner-{secrets.token_hex(4)}@example.com"
    with engine.begin() as conn:
        user = accounts.create_user(conn, email, hashed(PASSWORD), now)
    owner = Account(user, "")
    signups, visits = make_stat(engine, owner, "signups", "counter"), make_stat(
        engine, owner, "visits", "counter")
    put_points(engine, signups, [(now - 120, 5)])
    with engine.begin() as conn:
        board = dashboards.create_dashboard(conn, user.id, "Growth", now)
        dashboards.add_card(conn, board, "number", "1d", "", [signups, visits])
        board_key = shares.share_dashboard(conn, user.id, board.id, now).key
        stat_key = shares.share_stat(conn, user.id, signups.id, now).key
        alert = alerts.create_alert(conn, user.id, signups.id, parse_rule(RULE), now)
    with serve(create_app(down)) as web, httpx.Client(base_url=web.url, timeout=30) as client:
        assert log_in(client, email, PASSWORD).status_code == 303
        yield Site(client, signups.public_id, visits.public_id, board.public_id, board_key,
                   stat_key, alert.public_id)


# (what the page is, its path with {placeholders} filled from Site, a JSON twin or None)
PAGES = [
    ("stat list overview", "/stats", "/stats.json"),
    ("stat page", "/stats/{stat}", "/stats/{stat}.json"),
    ("compare", "/compare?ids={stat}&ids={other}", "/compare.json?ids={stat}&ids={other}"),
    ("dashboard number card", "/dashboards/{board}", "/dashboards/{board}.json"),
    ("shared dashboard", "/d/{board_key}", "/d/{board_key}.json"),
    ("alert preview", "/stats/{stat}/alerts/new?" + "&".join(f"{k}={v}" for k, v in RULE.items()),
     "/stats/{stat}/alerts/new.json?" + "&".join(f"{k}={v}" for k, v in RULE.items())),
    ("alert page backtest", "/alerts/{alert}", "/alerts/{alert}.json"),
    ("graph image", "/stats/{stat}/graph.png", None),
    ("embed data", "/embed/data/{stat_key}", None),
    ("embed table", "/embed/table/{stat_key}", None),
    ("embed text", "/embed/text/{stat_key}", None),
    ("embed graph", "/embed/graph/{stat_key}", None),
]


@pytest.mark.parametrize(("what", "page", "twin"), PAGES, ids=[p[0] for p in PAGES])
def test_every_page_needing_an_app_server_answers_503_when_none_answers(
    site: Site, what: str, page: str, twin: str | None
) -> None:
    fill = vars(site)
    answer = site.client.get(page.format(**fill), headers={"accept": "text/html"})
    assert answer.status_code == 503, f"{what}: {answer.status_code} {answer.text[:300]}"
    assert "unavailable" in answer.text
    if twin is not None:
        answer = site.client.get(twin.format(**fill), headers={"accept": "application/json"})
        assert answer.status_code == 503, f"{what}: {answer.status_code} {answer.text[:300]}"
        assert answer.json()["status"] == 503
        assert "service is unavailable" in answer.json()["msg"]
