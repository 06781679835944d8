"""The scheduler judges alerts each minute under a lease and notifies by mail and webhook."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from aerie import accounts, alerts
from aerie.alert_notices import webhook_body
from aerie.alerts import FIRING, OK, AlertEvent
from aerie.db import make_engine
from aerie.secret_key import load_rpc_secret
from aerie.settings import Settings
from aerie.stats import Stat
from app_servers.scheduler import Scheduler
from interactor.alert_forms import parse_rule
from presenters.mail import TemplateMail
from rpc.clients import GraphClient
from tests.conflicts import impatient, lock_held
from tests.conftest import Account, make_stat, put_points
from tests.security.scheduling import clear_scheduler_work
from tests.servers import RunningServer, free_port, serve
from tests.smtp import Relay

pytestmark = pytest.mark.anyio


class Clock:
    """Real time, moved ahead by the test to reach the next minute."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead


class Hooks:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []

    async def receive(self, request: Request) -> JSONResponse:
        self.received.append(await request.json())
        return JSONResponse({"ok": True})


@pytest.fixture
def hooks() -> Iterator[tuple[Hooks, RunningServer]]:
    hooks = Hooks()
    app = Starlette(routes=[Route("/hook", hooks.receive, methods=["POST"])])
    with serve(app) as server:
        yield hooks, server


Make = Callable[..., Scheduler]


@pytest.fixture
async def scheduler() -> AsyncIterator[Make]:
    """Makes schedulers (each its own graph client, closed after the test)."""
    clients: list[GraphClient] = []

    def make(settings: Settings, engine: Engine, clock: Clock, relay: Relay | None = None,
             graph_urls: list[str] | None = None) -> Scheduler:
        if relay is not None:
            settings = relay.settings_for(settings)
        settings = settings.model_copy(update={"webhook_allow": "127.0.0.1"})  # the test hooks
        clients.append(GraphClient(graph_urls or settings.graph_replicas,
                                 secret=load_rpc_secret(settings), timeout=10))
        return Scheduler(settings, engine, clients[-1], clock, mail=TemplateMail(settings))

    yield make
    for client in clients:
        await client.aclose()


def make_alert(engine: Engine, account: Account, stat_id: int, **form: str) -> alerts.Alert:
    with engine.begin() as conn:
        return alerts.create_alert(conn, account.user.id, stat_id, parse_rule(form), int(time.time()))


def alert_now(engine: Engine, alert: alerts.Alert) -> tuple[alerts.Alert, list[alerts.AlertEvent]]:
    with engine.connect() as conn:
        fresh = alerts.owned_alert(conn, alert.user_id, alert.public_id)
        return fresh, alerts.events_of_alert(conn, fresh)


@pytest.fixture(autouse=True)
def _only_this_tests_alerts(engine: Engine) -> None:
    clear_scheduler_work(engine)


async def test_an_alert_fires_and_resolves_by_mail_with_its_graph_and_by_webhook(
    engine: Engine, app_server_settings: Settings, owner: Account, relay: Relay,
    hooks: tuple[Hooks, RunningServer], scheduler: Make,
) -> None:
    received, server = hooks
    stat = make_stat(engine, owner, "cpu", "value")
    alert = make_alert(engine, owner, stat.id, kind="value", time_window="5m", operator="gt",
                       threshold="90", webhook_url=f"{server.url}/hook")
    clock = Clock()
    put_points(engine, stat, [(int(time.time()) - 30, 97)])

    first = await scheduler(app_server_settings, engine, clock, relay).tick()

    assert (first.leader, first.events, first.mailed) == (True, 1, 1)
    alert, [event] = alert_now(engine, alert)
    assert alert.state == FIRING and event.event == "firing"
    assert (event.email_status, event.webhook_status) == ("sent", "delivered (HTTP 2xx)")
    [(to, mail)] = relay.received
    assert to == [owner.user.email]
    assert mail["Subject"].startswith("[Aerie] ALERT: cpu is 97")
    [graph] = [p for p in mail.walk() if p.get_content_type() == "image/png"]
    assert graph.get_payload(decode=True).startswith(b"\x89PNG")
    assert received.received[0]["event"] == "firing" and received.received[0]["value"] == 97

    put_points(engine, stat, [(int(time.time()) - 20, 10)] * 5)  # the mean drops to 24.5
    clock.ahead += 60
    await scheduler(app_server_settings, engine, clock, relay).tick()

    alert, events = alert_now(engine, alert)
    assert alert.state == OK and [e.event for e in events] == ["resolved", "firing"]
    assert relay.received[1][1]["Subject"].strip().startswith("[Aerie] RESOLVED: cpu")
    assert received.received[1]["state"] == "ok"


async def test_only_the_lease_holder_acts_and_a_twin_takes_over_when_it_dies(
    engine: Engine, app_server_settings: Settings, owner: Account, scheduler: Make
) -> None:
    stat = make_stat(engine, owner, "jobs", "counter")
    make_alert(engine, owner, stat.id, kind="value", time_window="1h", operator="lt",
               threshold="5", email="0")
    clock = Clock()
    first = scheduler(app_server_settings, engine, clock)
    second = scheduler(app_server_settings, engine, clock)

    assert (await first.tick()).judged == 1
    assert (await second.tick()).leader is False
    clock.ahead += 20
    assert (await first.tick()).leader  # renewed
    assert (await second.tick()).leader is False

    clock.ahead += 60  # the first stopped renewing 60 s ago, as if it died: a new minute
    taken = await second.tick()
    assert taken.leader and taken.judged == 1  # a new minute: judged once, by the twin
    assert (await first.tick()).leader is False


async def test_a_silenced_alert_changes_state_but_sends_nothing(
    engine: Engine, app_server_settings: Settings, owner: Account, relay: Relay, scheduler: Make
) -> None:
    stat = make_stat(engine, owner, "queue", "value")
    alert = make_alert(engine, owner, stat.id, kind="value", time_window="5m", operator="gt",
                       threshold="1")
    with engine.begin() as conn:
        alerts.silence(conn, alert, int(time.time()) + 3600)
    put_points(engine, stat, [(int(time.time()) - 10, 50)])

    await scheduler(app_server_settings, engine, Clock(), relay).tick()

    alert, [event] = alert_now(engine, alert)
    assert alert.state == FIRING and event.email_status == "silenced"
    assert relay.received == []


async def test_an_alert_another_writer_holds_is_judged_once_the_lock_is_let_go(
    engine: Engine, app_server_settings: Settings, owner: Account, scheduler: Make
) -> None:
    stat = make_stat(engine, owner, "load", "value")
    alert = make_alert(engine, owner, stat.id, kind="value", time_window="5m", operator="gt",
                       threshold="1", email="0")
    put_points(engine, stat, [(int(time.time()) - 10, 50)])
    settings = impatient(app_server_settings)  # gives up waiting for a lock after a second
    impatient_engine = make_engine(settings)
    try:
        with lock_held(engine, "UPDATE alerts SET state = state WHERE id = :id", id=alert.id):
            passed = await scheduler(settings, impatient_engine, Clock()).tick()
    finally:
        impatient_engine.dispose()

    assert (passed.leader, passed.judged, passed.events) == (True, 1, 1)
    alert, [event] = alert_now(engine, alert)
    assert alert.state == FIRING and event.event == "firing"


async def test_with_every_graph_server_down_the_mail_still_goes_without_its_graph(
    engine: Engine, app_server_settings: Settings, owner: Account, relay: Relay, scheduler: Make
) -> None:
    stat = make_stat(engine, owner, "disk", "value")
    make_alert(engine, owner, stat.id, kind="value", time_window="5m", operator="gt",
               threshold="80")
    put_points(engine, stat, [(int(time.time()) - 10, 95)])
    dead = [f"http://127.0.0.1:{free_port()}"]

    await scheduler(app_server_settings, engine, Clock(), relay, graph_urls=dead).tick()

    [(_to, mail)] = relay.received
    assert "could not be drawn" in mail.get_body(("html",)).get_content()
    assert not [p for p in mail.walk() if p.get_content_type() == "image/png"]


def test_a_slack_hook_gets_a_slack_message() -> None:
    alert = alerts.Alert(1, "Ab1", 1, 1, "value", "1h", "greater than", 5.0, None, None, 0,
                         False, "https://hooks.slack.com/services/T/B/X", FIRING, 0, 9.0, 0, 0,
                         None, 0)
    event = AlertEvent(1, 1, 0, "firing", 9.0, "ALERT: jobs is 9", None, "pending")
    stat = Stat(1, "Ab", 1, "jobs", "counter", "k", None, False, 0, None)
    assert webhook_body(alert.webhook_url or "", alert, stat, event, "http://x/alerts/Ab1") == {
        "text": "ALERT: jobs is 9 <http://x/alerts/Ab1|details>"
    }


async def test_an_unverified_owners_alert_fires_but_sends_no_mail_and_says_why(
    engine: Engine, app_server_settings: Settings, relay: Relay, scheduler: Make,
) -> None:
    with engine.begin() as conn:
        user = accounts.create_user(conn, f"unsure-{time.time_ns()}@example.com", None,
                                    int(time.time()), verified=False)
    owner = Account(user, "")
    stat = make_stat(engine, owner, "cpu", "value")
    alert = make_alert(engine, owner, stat.id, kind="value", time_window="5m", operator="gt",
                       threshold="90")
    put_points(engine, stat, [(int(time.time()) - 30, 97)])

    first = await scheduler(app_server_settings, engine, Clock(), relay).tick()

    alert, [event] = alert_now(engine, alert)
    assert (alert.state, first.events, first.mailed) == (FIRING, 1, 0)
    assert event.email_status == "not sent (e-mail not confirmed)"
    assert relay.received == []
