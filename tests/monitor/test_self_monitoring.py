"""Aerie watches itself: real API and web servers report their figures, through the API,
as stats of the system account."""

from __future__ import annotations

import time
from collections.abc import Iterator

import anyio
import httpx
import pytest
from sqlalchemy import Engine

from aerie.accounts import set_password
from aerie.monitor import Metrics, Reporter
from aerie.settings import Settings
from aerie.system_account import system_ezkey
from api_service.app import create_app as api_app
from tests.conftest import Account, hashed, make_stat
from tests.monitor.conftest import system_stats, total, wait_for
from tests.servers import RunningServer, free_port, serve
from tests.web_service.conftest import PASSWORD, log_in
from web_service.app import create_app as web_app

SECONDS = 0.5


@pytest.fixture
def watched(app_server_settings: Settings, system_email: str) -> Settings:
    """Settings reporting every half second to an API on a port chosen now."""
    return app_server_settings.model_copy(update={
        "monitor_seconds": SECONDS, "system_email": system_email, "api_port": free_port()})


@pytest.fixture
def watched_servers(watched: Settings) -> Iterator[tuple[RunningServer, RunningServer]]:
    with serve(api_app(watched), port=watched.api_port) as api, serve(web_app(watched)) as web:
        yield api, web


def test_requests_latency_and_memory_arrive_as_system_stats(
    watched: Settings, watched_servers: tuple[RunningServer, RunningServer], engine: Engine,
    owner: Account,
) -> None:
    api, web = watched_servers
    stat = make_stat(engine, owner, "visits", "counter")
    for _ in range(5):
        answer = httpx.post(api.url + "/c", data={"ukey": owner.ukey, "key": stat.classic_key,
                                                     "count": 1})
        assert answer.status_code == 200
    assert httpx.get(f"{web.url}/x/{owner.token}/statlist").status_code == 200
    assert httpx.get(f"{web.url}/login").status_code == 200

    wanted = {"aerie api requests /c", "aerie api latency ms /c", "aerie api points ingested",
              "aerie api commit ms", f"aerie api {api.port} memory MB",
              "aerie web requests /x/{token}/statlist", "aerie web requests /login",
              "aerie web latency ms /login", f"aerie web {web.port} memory MB"}
    def all_reported() -> bool:  # the five posts may span two report periods
        found = system_stats(engine, watched)
        return wanted <= set(found) and total(engine, found["aerie api requests /c"])[1] >= 5

    wait_for("system stats", all_reported)
    found = system_stats(engine, watched)
    assert total(engine, found["aerie api requests /c"])[1] == 5  # our own /ez posts not among them
    assert total(engine, found["aerie api latency ms /c"])[1] > 0
    assert not [name for name in found if owner.token in name]  # route templates, not paths


@pytest.mark.anyio
async def test_reporter_drops_its_figures_while_the_api_is_down_and_goes_on(
    app_server_settings: Settings, engine: Engine, system_email: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = app_server_settings.model_copy(update={
        "monitor_seconds": 0.1, "system_email": system_email, "api_port": free_port()})
    metrics = Metrics("web")
    reporter = Reporter(metrics, settings, engine)
    await reporter.start()
    try:
        metrics.count("aerie web requests /lost")
        with anyio.fail_after(30):  # several reports fail meanwhile, none raises
            while len([r for r in caplog.records if "report to" in r.getMessage()]) < 3:
                await anyio.sleep(0.05)
        metrics.count("aerie web requests /lost")
        assert not await reporter.report()
        with serve(api_app(settings.model_copy(update={"monitor_seconds": 0})),
                   port=settings.api_port):
            metrics.count("aerie web requests /kept", 2)
            assert await reporter.report()
    finally:
        await reporter.stop()
    found = system_stats(engine, settings)
    assert "aerie web requests /lost" not in found
    assert total(engine, found["aerie web requests /kept"]) == (1, 2.0)


def test_an_ordinary_user_never_sees_system_stats(
    watched: Settings, engine: Engine, web: RunningServer, owner: Account
) -> None:
    ezkey = system_ezkey(engine, watched, int(time.time()))
    with serve(api_app(watched.model_copy(update={"monitor_seconds": 0})),
               port=watched.api_port) as api:
        answer = httpx.post(api.url + "/ez", json={
            "ezkey": ezkey, "data": [{"stat": "aerie api requests /c", "count": 1}]})
        assert answer.status_code == 200
        answer = httpx.post(api.url + "/ez", json={
            "ezkey": owner.ezkey, "data": [{"stat": "mine", "count": 1}]})
        assert answer.status_code == 200
    listed = httpx.get(f"{web.url}/x/{owner.token}/statlist").json()
    assert [item["name"] for item in listed] == ["mine"]
    with engine.begin() as conn:
        set_password(conn, owner.user.id, hashed(PASSWORD))
    with httpx.Client(base_url=web.url) as browser:
        assert log_in(browser, owner.user.email, PASSWORD).status_code == 303
        page = browser.get("/stats.json", headers={"accept": "application/json"}).json()
    assert [stat["name"] for stat in page["stats"]] == ["mine"]
