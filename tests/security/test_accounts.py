"""Accounts: wrong passwords slow an account down without locking its owner out,
client addresses come from trusted proxies only, ezkeys cannot be taken from
others, and a new e-mail needs the current password."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import Engine

from aerie import accounts
from aerie.errors import NotAuthenticated, TooManyRequests
from aerie.sessions import ACCOUNT_BACKOFF
from aerie.settings import Settings
from interactor.base import Services
from interactor.sessions import log_in as log_in_use_case
from rpc.clients import AnalysisClient, GraphClient
from tests.conftest import PASSWORDS, hashed
from tests.servers import RunningServer
from tests.web_service.conftest import PASSWORD, Browser, csrf_in

HTML = {"accept": "text/html"}


def unique_email(name: str) -> str:
    return f"{name}-{secrets.token_hex(4)}@example.com"


def random_address(first: int = 10) -> str:
    return f"{first}." + ".".join(str(secrets.randbelow(254) + 1) for _ in range(3))


class FakeClock:
    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now


async def _log_in(engine: Engine, clock: FakeClock, email: str, password: str, address: str) -> None:
    nowhere = ["http://127.0.0.1:9"]  # logging in calls no app server
    async with GraphClient(nowhere, secret=b"unused") as graph, \
            AnalysisClient(nowhere, secret=b"unused") as analysis:
        services = Services(engine, graph, analysis, clock, passwords=PASSWORDS)
        await log_in_use_case(services, email, password, address)


def try_log_in(engine: Engine, clock: FakeClock, email: str, password: str, address: str) -> str:
    """What a log-in attempt comes to: "in", "wrong", or the refusal's message."""
    try:
        anyio.run(_log_in, engine, clock, email, password, address)
    except NotAuthenticated:
        return "wrong"
    except TooManyRequests as refused:
        return refused.message
    return "in"


def seconds_in(refusal: str) -> int:
    """The wait a refusal names: "... try again in N s"."""
    assert refusal.startswith("too many failed log-ins"), refusal
    return int(refusal.split("try again in ")[1].removesuffix(" s"))


@pytest.fixture
def user(engine: Engine) -> accounts.User:
    with engine.begin() as conn:
        return accounts.create_user(conn, unique_email("owner"), hashed(PASSWORD), int(time.time()))


def test_each_wrong_password_past_the_first_few_doubles_the_wait(
    engine: Engine, user: accounts.User
) -> None:
    clock, guesser = FakeClock(), random_address()
    for _ in range(ACCOUNT_BACKOFF.free):
        assert try_log_in(engine, clock, user.email, "a guess", guesser) == "wrong"

    waits = []
    for _ in range(4):
        assert try_log_in(engine, clock, user.email, "a guess", guesser) == "wrong"
        refused = try_log_in(engine, clock, user.email, PASSWORD, guesser)
        waits.append(seconds_in(refused))
        clock.now += waits[-1]

    assert waits == [2, 4, 8, 16]


def test_the_owner_gets_in_soon_after_an_attacker_stops_however_long_they_tried(
    engine: Engine, user: accounts.User
) -> None:
    clock, attacker, owner_address = FakeClock(), random_address(), random_address()
    failures = 0
    while failures < 16:  # each guess as soon as the previous wait allows
        answer = try_log_in(engine, clock, user.email, "a guess", attacker)
        if answer == "wrong":
            failures += 1
        else:
            clock.now += seconds_in(answer)

    refused = try_log_in(engine, clock, user.email, PASSWORD, owner_address)
    assert refused.endswith(f"try again in {ACCOUNT_BACKOFF.cap} s")
    clock.now += ACCOUNT_BACKOFF.cap
    assert try_log_in(engine, clock, user.email, PASSWORD, owner_address) == "in"
    # The guesser's own address waits far longer than the account does.
    attacker_wait = try_log_in(engine, clock, unique_email("other"), "a guess", attacker)
    assert seconds_in(attacker_wait) > ACCOUNT_BACKOFF.cap


# Client addresses over HTTP: the pool's web app trusts 127.0.0.1 (the default) as its proxy.


@pytest.fixture
def from_elsewhere(web: RunningServer) -> Iterator[httpx.Client]:
    """A client connecting from a loopback address that is not a trusted proxy."""
    source = random_address(127)
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(base_url=web.url, transport=transport, timeout=30) as client:
        yield client


@pytest.fixture
def through_proxy(web: RunningServer) -> Iterator[httpx.Client]:
    """A client connecting from 127.0.0.1, the trusted proxy."""
    with httpx.Client(base_url=web.url, timeout=30) as client:
        yield client


def failed_log_in(client: httpx.Client, forwarded_for: str) -> httpx.Response:
    """A wrong password for a new e-mail each time, claiming to come from ``forwarded_for``."""
    form = client.get("/login", headers=HTML)
    return client.post(
        "/login",
        data={"csrf": csrf_in(form.text), "email": unique_email("nobody"), "password": "guess"},
        headers={**HTML, "x-forwarded-for": forwarded_for},
    )


def test_a_forged_forwarded_for_from_an_untrusted_client_does_not_dodge_its_address_limit(
    from_elsewhere: httpx.Client,
) -> None:
    statuses = []
    for _ in range(20):
        statuses.append(failed_log_in(from_elsewhere, random_address()).status_code)
        if statuses[-1] == 429:
            break
    assert statuses[-1] == 429, statuses
    assert set(statuses[:-1]) == {401}


def test_the_trusted_proxys_forwarded_for_names_the_client(
    through_proxy: httpx.Client,
) -> None:
    client = random_address()
    statuses = [failed_log_in(through_proxy, random_address()).status_code for _ in range(12)]
    assert statuses == [401] * 12  # twelve clients, one failure each
    for _ in range(20):
        statuses.append(failed_log_in(through_proxy, client).status_code)
        if statuses[-1] == 429:
            break
    assert statuses[-1] == 429  # one client failing again and again is slowed down


def test_no_deployment_trusts_every_address_with_forwarded_for() -> None:
    repo = Path(__file__).resolve().parents[2]
    dockerfile = (repo / "Dockerfile").read_text()
    assert "FORWARDED_ALLOW_IPS" not in dockerfile and "forwarded-allow-ips" not in dockerfile
    compose = (repo / "docker-compose.yml").read_text()
    assert "AERIE_TRUSTED_PROXIES: 172.28.0.10" in compose  # nginx's fixed address
    with pytest.raises(ValidationError, match="would trust anyone"):
        Settings(trusted_proxies="*")


# Ezkeys


def settings_of(browser: Browser) -> dict[str, object]:
    shape: dict[str, object] = browser.json("/settings.json").json()
    return shape


def test_an_ezkey_with_an_at_must_be_the_accounts_own_email(owner_browser: Browser) -> None:
    someone = unique_email("someone")
    answer = owner_browser.post("/settings/ezkey", ezkey=someone, ez_enabled="on")
    assert answer.status_code == 400
    assert "must be your own e-mail address" in answer.text
    assert settings_of(owner_browser)["ezkey"] == owner_browser.user.email

    assert owner_browser.post("/settings/ezkey", ezkey="plain-key-" + secrets.token_hex(4),
                              ez_enabled="on").status_code == 303
    own = owner_browser.post("/settings/ezkey", ezkey=owner_browser.user.email, ez_enabled="on")
    assert own.status_code == 303
    assert settings_of(owner_browser)["ezkey"] == owner_browser.user.email


def test_an_ezkey_given_up_stays_reserved_to_its_account(
    owner_browser: Browser, outsider_browser: Browser
) -> None:
    first, second = (f"key-{secrets.token_hex(6)}" for _ in range(2))
    assert owner_browser.post("/settings/ezkey", ezkey=first, ez_enabled="on").status_code == 303
    assert owner_browser.post("/settings/ezkey", ezkey=second, ez_enabled="on").status_code == 303

    taken = outsider_browser.post("/settings/ezkey", ezkey=first, ez_enabled="on")
    assert taken.status_code == 409
    assert "is taken" in taken.text
    assert settings_of(outsider_browser)["ezkey"] == outsider_browser.user.ezkey

    back = owner_browser.post("/settings/ezkey", ezkey=first, ez_enabled="on")
    assert back.status_code == 303
    assert settings_of(owner_browser)["ezkey"] == first


# E-mail


@pytest.mark.parametrize(("password", "message"), [
    ("", "To change your e-mail, type your current password too"),
    ("not my password", "the one given is not right"),
])
def test_a_new_email_without_the_right_password_changes_nothing(
    owner_browser: Browser, password: str, message: str
) -> None:
    new = unique_email("new")
    answer = owner_browser.post(
        "/settings/profile", email=new, timezone="UTC", current_password=password
    )
    assert answer.status_code == 401
    assert message in answer.text
    assert f'value="{new}"' in answer.text  # what was typed comes back
    assert settings_of(owner_browser)["email"] == owner_browser.user.email


def test_a_new_email_with_the_current_password_is_saved(owner_browser: Browser) -> None:
    new = unique_email("new")
    answer = owner_browser.post(
        "/settings/profile", email=new, timezone="UTC", current_password=PASSWORD
    )
    assert answer.status_code == 303
    assert settings_of(owner_browser)["email"] == new
