"""The scheduler's other mail: the new-stat digest and the daily report, through a real relay."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine

from aerie import accounts
from aerie.digests import due_digests, note_new_stat
from aerie.reports import save_report_settings
from aerie.secret_key import load_rpc_secret
from aerie.settings import Settings
from aerie.stats import stats_by_names
from app_servers.scheduler import Scheduler
from presenters.mail import TemplateMail
from rpc.clients import GraphClient
from tests.conftest import Account, make_stat, put_points
from tests.security.scheduling import clear_scheduler_work
from tests.servers import RunningServer
from tests.smtp import Relay

pytestmark = pytest.mark.anyio

Make = Callable[[Settings, Engine, Callable[[], float]], Scheduler]


@pytest.fixture
async def scheduler(relay: Relay) -> AsyncIterator[Make]:
    clients: list[GraphClient] = []

    def make(settings: Settings, engine: Engine, clock: Callable[[], float]) -> Scheduler:
        settings = relay.settings_for(settings)
        clients.append(GraphClient(settings.graph_replicas,
                                   secret=load_rpc_secret(settings), timeout=10))
        return Scheduler(settings, engine, clients[-1], clock, holder="only",
                         mail=TemplateMail(settings))

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture(autouse=True)
def _quiet_database(engine: Engine) -> None:
    clear_scheduler_work(engine)


def mail_to(relay: Relay, account: Account) -> list[object]:
    return [m for to, m in relay.received if to == [account.user.email]]


async def test_stats_created_by_ez_posts_arrive_in_one_digest_with_delete_links(
    engine: Engine, app_server_settings: Settings, owner: Account, api: RunningServer,
    relay: Relay, scheduler: Make,
) -> None:
    async with httpx.AsyncClient(base_url=api.url) as client:
        posted = await client.post("/ez", json={"ezkey": owner.ezkey, "data": [
            {"stat": "signups", "count": 1}, {"stat": "sigups", "count": 1},
            {"stat": "latency", "value": 12}]})
    assert posted.is_success, posted.text
    later = time.time() + 61
    run = scheduler(app_server_settings, engine, lambda: later)

    assert (await run.tick()).digests == 1
    [mail] = mail_to(relay, owner)
    assert mail["Subject"] == "[Aerie] 3 new stats"  # type: ignore[index]
    text = mail.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    with engine.connect() as conn:
        typo = stats_by_names(conn, owner.user.id, ["sigups"])["sigups"]
    assert f"- sigups: {app_server_settings.web_url}/stats/{typo.public_id}/delete" in text

    # Another stat a minute later waits for the next digest, five minutes after the first.
    async with httpx.AsyncClient(base_url=api.url) as client:
        await client.post("/ez", data={"ezkey": owner.ezkey, "stat": "errors", "count": "1"})
    assert (await scheduler(app_server_settings, engine, lambda: later + 120).tick()).digests == 0
    assert (await scheduler(app_server_settings, engine, lambda: later + 301).tick()).digests == 1
    assert mail_to(relay, owner)[1]["Subject"] == "[Aerie] New stat: errors"  # type: ignore[index]


async def test_an_unconfirmed_address_gets_no_digest_and_its_notices_are_forgotten(
    engine: Engine, app_server_settings: Settings, relay: Relay, scheduler: Make,
) -> None:
    now = int(time.time())
    with engine.begin() as conn:
        user = accounts.create_user(conn, f"unsure-{time.time_ns()}@example.com", None, now,
                                    verified=False)
    unsure = Account(user, "")
    signups = make_stat(engine, unsure, "signups", "counter")
    with engine.begin() as conn:
        note_new_stat(conn, signups, now)

    assert (await scheduler(app_server_settings, engine, lambda: now + 61).tick()).digests == 1

    assert mail_to(relay, unsure) == []
    with engine.connect() as conn:
        assert user.id not in {d.user_id for d in due_digests(conn, now + 3600)}


async def test_the_daily_report_arrives_at_its_local_hour_once_with_figures_and_graphs(
    engine: Engine, app_server_settings: Settings, owner: Account, relay: Relay,
    scheduler: Make,
) -> None:
    zone = owner.user.timezone  # UTC for test accounts
    now = time.time()
    local = datetime.fromtimestamp(now, ZoneInfo(zone))
    midnight = int(datetime.combine(local.date(), datetime.min.time(), ZoneInfo(zone)).timestamp())
    orders = make_stat(engine, owner, "orders", "counter")
    put_points(engine, orders, [(midnight - 3600, 30), (midnight - 7200, 12)])  # yesterday: 42
    put_points(engine, orders, [(midnight - 86400 - 60, 21)])  # the day before: 21
    with engine.begin() as conn:
        save_report_settings(conn, owner.user.id, local.hour, [orders.id])

    run = scheduler(app_server_settings, engine, lambda: now)
    assert (await run.tick()).reports == 1
    assert (await run.tick()).reports == 0  # once a day

    [mail] = mail_to(relay, owner)
    text = mail.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    assert "orders: 42 (+100.0% on the day before" in text
    [graph] = [p for p in mail.walk() if p.get_content_type() == "image/png"]  # type: ignore[attr-defined]
    assert graph.get_payload(decode=True).startswith(b"\x89PNG")
