"""Webhooks reach only the outside world: refused at save and again at send, in every
spelling of an internal address, unless the operator allows it (AERIE_WEBHOOK_ALLOW)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, func, select

from aerie import alerts
from aerie.schema import alerts as alerts_table
from aerie.settings import Settings
from aerie.stats import Stat, stat_by_name
from interactor.alert_forms import parse_rule
from tests.conftest import Account, make_stat, put_points
from tests.security.receivers import receiver
from tests.security.scheduling import clear_scheduler_work, schedulers
from tests.servers import RunningServer, serve
from tests.web_service.conftest import Browser, browser, owner_browser  # noqa: F401

INTERNAL_URLS = [
    "http://127.0.0.1:8001/ez?ezkey=bob@example.com&stat=hijacked&count=1",
    "http://localhost:8001/ez", "http://LOCALHOST./", "http://2130706433/",
    "http://0x7f000001/", "http://127.1/", "http://0177.0.0.1/", "http://[::1]:8001/",
    "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://0.0.0.0/", "http://[::]/",
    "http://10.0.0.5/", "http://172.16.0.1/", "http://192.168.1.10/", "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/",
    "http://169.254.1.1/", "http://224.0.0.1/", "http://[fc00::1]/", "http://[fe80::1]/",
    "https://127.0.0.1/hook",
]
RULE = {"kind": "value", "time_window": "5m", "operator": "gt", "threshold": "1",
        "repeat_minutes": "60", "email": "0"}

pytestmark = pytest.mark.anyio


class Clock:
    def __call__(self) -> float:
        return time.time()


@pytest.fixture(autouse=True)
def _no_other_alerts(engine: Engine) -> None:
    clear_scheduler_work(engine)


def webhooks_saved(engine: Engine, *accounts: Account) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(alerts_table).where(
            alerts_table.c.user_id.in_([a.user.id for a in accounts]),
            alerts_table.c.webhook_url.is_not(None))).scalar_one())


@pytest.fixture
def client(web: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web.url, timeout=30, follow_redirects=False) as client:
        yield client


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_an_internal_webhook_is_refused_at_save_by_the_form_and_both_apis(
    url: str, owner_browser: Browser, client: httpx.Client,  # noqa: F811
    engine: Engine, owner: Account,
) -> None:
    by_form = Account(owner_browser.user, "")
    page_stat = make_stat(engine, by_form, "jobs", "counter")
    api_stat = make_stat(engine, owner, "jobs", "counter")
    plain = owner_browser.post(f"/stats/{page_stat.public_id}/alerts", **RULE)
    assert plain.status_code == 303, plain.text
    alert_path = plain.headers["location"].split("?")[0]

    answers = {
        "form": owner_browser.post(f"/stats/{page_stat.public_id}/alerts", **RULE,
                                   webhook_url=url),
        "edit": owner_browser.post(alert_path, **RULE, webhook_url=url),
        "/x/": client.post(f"/x/{owner.token}/alerts",
                           data={**RULE, "stat_id": api_stat.public_id, "webhook_url": url}),
        "/a1/": client.post("/a1/alerts", auth=(owner.token, ""),
                            data={**RULE, "stat_id": api_stat.public_id, "webhook_url": url}),
    }

    for via, answer in answers.items():
        assert answer.status_code == 400, (via, answer.text)
        assert "internal address" in answer.text, via
        assert "AERIE_WEBHOOK_ALLOW" in answer.text, via
    assert webhooks_saved(engine, by_form, owner) == 0


@pytest.mark.parametrize(("url", "message"), [
    ("http://user:secret@example.com/hook", "user name or password"),
    ("ftp://example.com/hook", "http:// or https://"),
    ("http://no-such-host.invalid/hook", "could not be found"),
])
def test_a_webhook_that_is_no_plain_outside_url_is_refused_saying_why(
    url: str, message: str, client: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "jobs", "counter")
    answer = client.post(f"/x/{owner.token}/alerts",
                         data={**RULE, "stat_id": stat.public_id, "webhook_url": url})
    assert answer.status_code == 400 and message in answer.text
    assert webhooks_saved(engine, owner) == 0


def firing_stat(engine: Engine, owner: Account, name: str = "load") -> Stat:
    stat = make_stat(engine, owner, name, "value")
    put_points(engine, stat, [(int(time.time()) - 30, 5)])
    return stat


def saved_alert(engine: Engine, owner: Account, stat: Stat, url: str) -> alerts.Alert:
    """An alert saved with this webhook as if it passed the save check (saved while
    allowed, or before the check existed)."""
    with engine.begin() as conn:
        return alerts.create_alert(conn, owner.user.id, stat.id,
                                   parse_rule({**RULE, "webhook_url": url}), int(time.time()))


def webhook_history(engine: Engine, alert: alerts.Alert) -> list[str | None]:
    with engine.connect() as conn:
        return [e.webhook_status for e in alerts.events_of_alert(conn, alert)]


async def test_the_allow_list_lets_the_operators_own_receiver_in(
    settings: Settings, engine: Engine, owner: Account, client: httpx.Client
) -> None:
    allowed = settings.model_copy(update={"webhook_allow": "127.0.0.1/32"})
    stat = firing_stat(engine, owner)
    with receiver() as hook, serve(_web_app(allowed)) as web:
        form = {**RULE, "stat_id": stat.public_id, "webhook_url": f"{hook.url}/hook"}
        assert client.post(f"/x/{owner.token}/alerts", data=form).status_code == 400
        async with httpx.AsyncClient(base_url=web.url, timeout=30) as allowed_web:
            made = await allowed_web.post(f"/x/{owner.token}/alerts", data=form)
        assert made.status_code == 200, made.text

        async with schedulers(engine, Clock()) as scheduler:
            await scheduler(allowed).tick()

        assert [body["event"] for body in hook.received] == ["firing"]
    with engine.connect() as conn:
        [alert] = alerts.alerts_of_user(conn, owner.user.id)
    assert webhook_history(engine, alert) == ["delivered (HTTP 2xx)"]


def _web_app(settings: Settings) -> object:
    from web_service.app import create_app

    return create_app(settings)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_webhook_saved_while_allowed_is_refused_at_send_once_it_is_not(
    host: str, settings: Settings, engine: Engine, owner: Account
) -> None:
    with receiver() as hook:
        alert = saved_alert(engine, owner, firing_stat(engine, owner),
                            f"http://{host}:{hook.port}/hook")
        async with schedulers(engine, Clock()) as scheduler:
            await scheduler(settings).tick()  # no AERIE_WEBHOOK_ALLOW

        assert hook.received == []
    assert webhook_history(engine, alert) == ["refused: internal address"]


async def test_annas_alert_cannot_write_into_bobs_account_through_the_local_api(
    settings: Settings, engine: Engine, owner: Account, outsider: Account, api: RunningServer
) -> None:
    hijack = f"{api.url}/ez?ezkey={outsider.ezkey}&stat=hijacked&count=1"
    alert = saved_alert(engine, owner, firing_stat(engine, owner), hijack)

    async with schedulers(engine, Clock()) as scheduler:
        await scheduler(settings).tick()

    with engine.connect() as conn:
        assert stat_by_name(conn, outsider.user.id, "hijacked") is None
    assert webhook_history(engine, alert) == ["refused: internal address"]


async def test_a_redirect_is_answered_not_followed(
    settings: Settings, engine: Engine, owner: Account
) -> None:
    allowed = settings.model_copy(update={"webhook_allow": "127.0.0.1"})
    with receiver() as inner, receiver(status=307, location=f"{inner.url}/secret") as outer:
        alert = saved_alert(engine, owner, firing_stat(engine, owner), f"{outer.url}/hook")
        async with schedulers(engine, Clock()) as scheduler:
            await scheduler(allowed).tick()

        assert len(outer.received) == 1 and inner.received == []
    assert webhook_history(engine, alert) == ["failed (HTTP 3xx)"]


async def test_the_history_says_the_status_class_or_what_went_wrong_in_words(
    settings: Settings, engine: Engine, owner: Account
) -> None:
    allowed = settings.model_copy(update={"webhook_allow": "127.0.0.1"})
    with receiver() as gone:
        nobody_listens = f"{gone.url}/hook"  # once the block ends
    with receiver(status=503) as broken:
        answered = saved_alert(engine, owner, firing_stat(engine, owner), f"{broken.url}/hook")
        unreachable = saved_alert(engine, owner, firing_stat(engine, owner, "disk"),
                                  nobody_listens)
        async with schedulers(engine, Clock()) as scheduler:
            await scheduler(allowed).tick()

    assert webhook_history(engine, answered) == ["failed (HTTP 5xx), retrying"]
    assert webhook_history(engine, unreachable) == ["failed (could not connect), retrying"]


def test_the_allow_list_comes_from_the_environment_and_a_bad_entry_stops_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ipaddress

    monkeypatch.setenv("AERIE_WEBHOOK_ALLOW", "10.1.0.0/16, hooks.internal")
    allow = Settings().webhook_targets
    assert allow.admits("other.example", ipaddress.ip_address("10.1.2.3"))
    assert allow.admits("hooks.internal", ipaddress.ip_address("192.168.0.1"))
    assert not allow.admits("other.example", ipaddress.ip_address("10.2.0.1"))

    monkeypatch.setenv("AERIE_WEBHOOK_ALLOW", "10.0.0.0/33")
    with pytest.raises(ValidationError, match="neither a CIDR"):
        Settings()
