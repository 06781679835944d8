"""EZ sign-up (AERIE_EZ_SIGNUP=true): a post naming an unknown e-mail makes a pending account
holding its data, the scheduler mails an invitation through a real relay, the link claims
the account in the web app, and an unclaimed one is deleted with its data."""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx
import pytest
from sqlalchemy import Engine, func, select, update

from aerie import accounts, limited_requests
from aerie.ez_signup import ALL_CLIENTS, SignupRules
from aerie.schema import stat_minutes, stats, users
from aerie.secret_key import load_rpc_secret
from aerie.settings import Settings
from api_service.app import create_app
from api_service.ez_signup import client_address
from app_servers.scheduler import Scheduler
from presenters.mail import TemplateMail
from rpc.clients import GraphClient
from tests.security.scheduling import clear_scheduler_work
from tests.servers import RunningServer, serve
from tests.smtp import Relay

pytestmark = pytest.mark.anyio
CLAIM_LINK = re.compile(r"http://\S+(/password/reset\?token=[A-Za-z0-9]+)")
NEW_PASSWORD = "my own password now"


def ez_settings(settings: Settings, **limits: int) -> Settings:
    return settings.model_copy(update={"ez_signup": True, "ez_signup_per_address": 2,
                                       "ez_signup_max_stats": 3, **limits})


@pytest.fixture
def signup_api(settings: Settings) -> Iterator[RunningServer]:
    with serve(create_app(ez_settings(settings))) as server:
        yield server


@pytest.fixture(autouse=True)
def _quiet_database(engine: Engine) -> None:
    clear_scheduler_work(engine)


@pytest.fixture
async def tick(app_server_settings: Settings, engine: Engine, relay: Relay
               ) -> AsyncIterator[Callable[[float], Awaitable[object]]]:
    """Runs one scheduler pass at a given time, mail through the relay."""
    settings = relay.settings_for(app_server_settings)
    graph = GraphClient(settings.graph_replicas, secret=load_rpc_secret(settings), timeout=10)

    async def run(at: float) -> object:
        scheduler = Scheduler(settings, engine, graph, lambda: at, holder="only",
                              mail=TemplateMail(settings))
        return await scheduler.tick()

    yield run
    await graph.aclose()


def client_from(address: str) -> dict[str, str]:
    """Headers of a post relayed by the loopback proxy for ``address``."""
    return {"x-forwarded-for": address}


_ADDRESSES = itertools.count(secrets.randbelow(2**32))


def some_address() -> str:
    """A documentation address (2001:db8::/32) no other test of the session posts from:
    the per-address limit counts in the session's one database."""
    n = next(_ADDRESSES) % 2**32
    return f"2001:db8::{n >> 16:x}:{n & 0xFFFF:x}"


def new_email() -> str:
    return f"sensor-{secrets.token_hex(4)}@example.com"


def account(engine: Engine, email: str) -> accounts.User | None:
    with engine.connect() as conn:
        return accounts.user_by_email(conn, email)


async def test_an_unknown_email_gets_a_pending_account_an_invitation_and_can_claim_it(
    signup_api: RunningServer, web: RunningServer, engine: Engine, relay: Relay,
    tick: Callable[[float], Awaitable[object]],
) -> None:
    email = new_email()
    async with httpx.AsyncClient(base_url=signup_api.url) as api:
        posted = await api.post("/ez", data={"ezkey": email, "stat": "boots", "count": "1"},
                                headers=client_from(some_address()))
    assert posted.status_code == 200, posted.text
    pending = account(engine, email)
    assert pending is not None and pending.pending_until is not None and not pending.verified
    assert pending.pending_until - time.time() > 29 * 86400

    await tick(time.time())
    await tick(time.time() + 60)  # invited once only

    [(to, mail)] = [(to, m) for to, m in relay.received if to == [email]]
    assert mail["Subject"] == "[Aerie] Your stats are waiting: claim your account"
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "- boots" in text
    link = CLAIM_LINK.search(text)
    assert link, text
    with httpx.Client(base_url=web.url, headers={"accept": "text/html"}, timeout=30) as browser:
        form = browser.get(link.group(1))
        assert "Claim your account" in form.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        token = re.search(r'name="token" value="([^"]+)"', form.text)
        assert csrf and token
        claimed = browser.post("/password/reset", data={
            "csrf": csrf.group(1), "token": token.group(1), "password": NEW_PASSWORD})
        assert claimed.status_code == 303
        listed = browser.get("/stats.json", headers={"accept": "application/json"})
    assert [s["name"] for s in listed.json()["stats"]] == ["boots"]
    owner = account(engine, email)
    assert owner is not None and owner.pending_until is None and owner.verified


async def test_pending_accounts_are_limited_per_client_and_in_stats(
    signup_api: RunningServer, engine: Engine,
) -> None:
    here = client_from(some_address())
    async with httpx.AsyncClient(base_url=signup_api.url) as api:
        made = [(await api.post("/ez", data={"ezkey": new_email(), "stat": "a", "count": "1"},
                                headers=here)).status_code for _ in range(3)]
        not_mail = await api.post("/ez", data={"ezkey": "not-an-address", "stat": "a",
                                               "count": "1"}, headers=client_from(some_address()))
        email = new_email()
        first = await api.post("/ez", json={"ezkey": email, "data": [
            {"stat": f"s{n}", "count": 1} for n in range(3)]},
            headers=client_from(some_address()))
        past_cap = await api.post("/ez", data={"ezkey": email, "stat": "s4", "count": "1"})
    assert made == [200, 200, 403]
    assert not_mail.status_code == 403 and "invalid keys" in not_mail.text
    assert first.status_code == 200, first.text
    assert past_cap.status_code == 403 and "the limit is 3" in past_cap.text


async def test_a_forged_first_x_forwarded_for_line_does_not_change_the_client(
    signup_api: RunningServer,
) -> None:
    """A client's own X-Forwarded-For line comes first when the proxy adds a line of
    its own: the limit counts the address the proxy saw, whatever the client wrote."""
    real = some_address()
    async with httpx.AsyncClient(base_url=signup_api.url) as api:
        made = []
        for _ in range(3):
            forged = httpx.Headers([("x-forwarded-for", some_address()),
                                    ("x-forwarded-for", real)])
            answer = await api.post("/ez", data={"ezkey": new_email(), "stat": "a",
                                                 "count": "1"}, headers=forged)
            made.append(answer.status_code)
    assert made == [200, 200, 403]


async def test_the_daily_limit_for_all_clients_holds(settings: Settings, engine: Engine) -> None:
    rules = SignupRules.from_settings(settings)
    with engine.connect() as conn:
        so_far = limited_requests.made(conn, rules.per_day, ALL_CLIENTS, int(time.time()))
    with serve(create_app(ez_settings(settings, ez_signup_per_day=so_far + 1))) as server:
        async with httpx.AsyncClient(base_url=server.url) as api:
            answers = [await api.post("/ez", data={"ezkey": new_email(), "stat": "a",
                                                   "count": "1"},
                                      headers=client_from(some_address()))
                       for _ in range(2)]
    # one sign-up was left under the limit (another test's may have taken it meanwhile)
    codes = [answer.status_code for answer in answers]
    assert codes in ([200, 403], [403, 403]), codes  # past the limit: an unknown ezkey


async def test_an_unclaimed_account_and_its_data_expire(
    signup_api: RunningServer, engine: Engine, tick: Callable[[float], Awaitable[object]],
) -> None:
    email = new_email()
    async with httpx.AsyncClient(base_url=signup_api.url) as api:
        await api.post("/ez", data={"ezkey": email, "stat": "temp", "value": "21.5"},
                       headers=client_from(some_address()))
    user = account(engine, email)
    assert user is not None
    with engine.begin() as conn:
        stat_ids = list(conn.execute(select(stats.c.id).where(stats.c.user_id == user.id))
                        .scalars())
        conn.execute(update(users).where(users.c.id == user.id)
                     .values(pending_until=int(time.time()) - 1))

    def minutes() -> int:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(stat_minutes)
                                    .where(stat_minutes.c.stat_id.in_(stat_ids))).scalar_one())

    assert minutes() == 1
    await tick(time.time())

    assert account(engine, email) is None and minutes() == 0
    assert len(stat_ids) == 1


async def test_without_the_setting_an_unknown_email_is_refused(
    api: RunningServer, engine: Engine,
) -> None:
    email = new_email()
    async with httpx.AsyncClient(base_url=api.url) as client:
        refused = await client.post("/ez", data={"ezkey": email, "stat": "a", "count": "1"})
    assert refused.status_code == 403 and account(engine, email) is None


def test_the_client_address_believes_x_forwarded_for_only_from_a_trusted_proxy() -> None:
    proxies = [ipaddress.ip_network("127.0.0.1"), ipaddress.ip_network("10.0.0.0/8")]
    assert client_address("203.0.113.5", "1.2.3.4", proxies) == "203.0.113.5"  # forged
    assert client_address("127.0.0.1", "1.2.3.4, 203.0.113.9, 10.0.0.2", proxies) == "203.0.113.9"
    assert client_address("127.0.0.1", "", proxies) == "127.0.0.1"


async def test_two_posts_at_once_cannot_both_pass_a_pending_accounts_stat_limit(
    signup_api: RunningServer, engine: Engine,
) -> None:
    """The pending account's limit is held where its stats are created: two posts of
    two new names each, sent together to an account with room for three, make three
    stats at most, and the one refused says the limit."""
    email = new_email()
    async with httpx.AsyncClient(base_url=signup_api.url, timeout=30) as api:
        made = await api.post("/ez", data={"ezkey": email, "stat": "first", "count": "1"},
                              headers=client_from(some_address()))
        assert made.status_code == 200, made.text
        answers = await asyncio.gather(*(
            api.post("/ez", json={"ezkey": email, "data": [
                {"stat": f"{side} {n}", "count": 1} for n in range(2)]})
            for side in ("left", "right")))
    owner = account(engine, email)
    assert owner is not None
    with engine.connect() as conn:
        held = conn.execute(select(func.count()).select_from(stats).where(
            stats.c.user_id == owner.id)).scalar_one()
    assert held <= 3
    assert sorted(answer.status_code for answer in answers) == [200, 403]
    assert any("the limit is 3" in answer.text for answer in answers)
