"""Old StatHat clients work against Aerie with no setting: npm's ``stathat`` module
under node, unencoded bodies with plus-addressed ezkeys. On SQLite and MariaDB."""

from __future__ import annotations

import secrets
import time

import httpx
from sqlalchemy import Engine

from aerie import accounts
from tests.api_service.conftest import Servers
from tests.api_service.helpers import points, recent_minute, total
from tests.conftest import Account, make_account, make_stat
from tests.npm_client import NpmClient

OK = '{"status":200,"msg":"ok"}'


def plus_addressed(engine: Engine) -> Account:
    """An account whose ezkey (its e-mail) is plus-addressed: ``you+stats-...@example.com``."""
    email = f"you+stats-{secrets.token_hex(4)}@example.com"
    now = int(time.time())
    with engine.begin() as conn:
        user = accounts.create_user(conn, email, None, now)
        token = accounts.create_token(conn, user.id, "tests", now)
    return Account(user, token.token)


def test_every_call_of_the_npm_module_calls_back_with_200_and_is_stored(
    servers: Servers, engine: Engine, owner: Account, stathat_npm: NpmClient
) -> None:
    api, web = servers
    t = recent_minute()
    counter = make_stat(engine, owner, "npm classic hits", "counter")
    value = make_stat(engine, owner, "npm classic load", "value")
    ez, ukey = owner.ezkey, owner.ukey
    calls = [
        ["trackEZCount", ez, "npm hits", 1],
        ["trackEZCount", ez, "npm hits", 2],
        ["trackEZCountWithTime", ez, "npm hits", 3, t],
        ["trackEZValue", ez, "npm load", 0.5],
        ["trackEZValueWithTime", ez, "npm load", 1.5, t],
        ["trackEZValueWithTime", ez, "npm load", 2.5, t],
        ["trackCount", ukey, counter.classic_key, 4],
        ["trackCountWithTime", ukey, counter.classic_key, 5, t],
        ["trackCountWithTime", ukey, counter.classic_key, 6, t + 60],
        ["trackValue", ukey, value.classic_key, 7],
        ["trackValueWithTime", ukey, value.classic_key, 8, t],
        ["trackValueWithTime", ukey, value.classic_key, 10, t],
    ]

    answers = stathat_npm(api.url, calls, None)

    assert answers == [[(200, OK)]] * len(calls)
    assert total(web, owner, "npm hits", t) == 6
    assert points(web, owner, "npm load", t)[t] == 2.0
    assert total(web, owner, "npm classic hits", t) == 15
    assert points(web, owner, "npm classic load", t)[t] == 9.0


def test_a_plus_addressed_ezkey_from_the_npm_module_finds_its_account(
    servers: Servers, engine: Engine, stathat_npm: NpmClient
) -> None:
    """The module sends its body unencoded: the ``+`` arrives as a space."""
    api, web = servers
    you = plus_addressed(engine)
    t = recent_minute()

    answers = stathat_npm(api.url, [["trackEZCountWithTime", you.ezkey, "plus hits", 2, t]], None)

    assert answers == [[(200, OK)]]
    assert total(web, you, "plus hits", t) == 2


def test_an_unencoded_plus_addressed_ezkey_posts_to_its_account(
    servers: Servers, engine: Engine
) -> None:
    api, web = servers
    you = plus_addressed(engine)
    t = recent_minute()
    body = f"ezkey={you.ezkey}&stat=raw hits&count=3&t={t}".encode()
    answer = httpx.post(f"{api.url}/ez", content=body,
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200, answer.text
    assert total(web, you, "raw hits", t) == 3


def test_an_ezkey_that_really_has_a_space_comes_before_the_plus_form(
    servers: Servers, engine: Engine
) -> None:
    api, web = servers
    tag = secrets.token_hex(4)
    spaced, plussed = make_account(engine, "spaced"), make_account(engine, "plussed")
    now = int(time.time())
    with engine.begin() as conn:
        accounts.update_ezkey(conn, spaced.user, ezkey=f"team stats {tag}", enabled=True, now=now)
        accounts.update_ezkey(conn, plussed.user, ezkey=f"team+stats+{tag}", enabled=True,
                              now=now)
    t = recent_minute()
    answer = httpx.post(f"{api.url}/ez", content=f"ezkey=team stats {tag}&stat=s&count=1&t={t}",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200, answer.text
    assert total(web, spaced, "s", t) == 1
    assert total(web, plussed, "s", t) is None


def test_an_unknown_spaced_ezkey_is_still_refused(servers: Servers) -> None:
    api, _web = servers
    answer = httpx.post(f"{api.url}/ez", content="ezkey=nobody here@example.com&stat=s&count=1",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 403
    assert "invalid keys" in answer.json()["msg"]
