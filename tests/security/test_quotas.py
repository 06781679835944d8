"""Quotas: how many stats an account may have, how many names one request may
fan out to, and how many points per second one account may post."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, text

from aerie import accounts, stats
from aerie.settings import Settings
from api_service import routes
from api_service.app import create_app as api_app
from api_service.parsing import json_ezkeys
from tests.conftest import Account, hashed, make_stat
from tests.servers import RunningServer, serve
from tests.web_service.conftest import PASSWORD, csrf_in, log_in
from web_service.app import create_app as web_app

STAT_LIMIT = 3


def stat_names(engine: Engine, account: Account) -> list[str]:
    with engine.connect() as conn:
        return sorted(s.name for s in stats.stats_of_user(conn, account.user.id))


def post(api: RunningServer, account: Account, stat: str, count: float = 1) -> httpx.Response:
    return httpx.post(f"{api.url}/ez", data={"ezkey": account.ezkey, "stat": stat, "count": count})


def post_batch(api: RunningServer, account: Account, points: int) -> httpx.Response:
    data = [{"stat": "load", "count": 1} for _ in range(points)]
    return httpx.post(f"{api.url}/ez", json={"ezkey": account.ezkey, "data": data})


def post_in_a_loop(api: RunningServer, account: Account, seconds: float) -> list[httpx.Response]:
    """A client posting a point again as soon as each answer comes, for ``seconds``."""
    answers = []
    with httpx.Client() as client:
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            answers.append(client.post(f"{api.url}/ez",
                                       data={"ezkey": account.ezkey, "stat": "load", "count": 1}))
    return answers


def api_with(settings: Settings, **limits: int) -> Iterator[RunningServer]:
    with serve(api_app(settings.model_copy(update={"verbose_answers": True, **limits}))) as server:
        yield server


@pytest.fixture
def limited_api(settings: Settings) -> Iterator[RunningServer]:
    """The API with a stat limit of three and a batch limit of 20 points (no rate limit)."""
    yield from api_with(settings, max_stats_per_account=STAT_LIMIT, batch_limit=20,
                        rate_limit_points=0)


@pytest.fixture
def throttled_api(settings: Settings) -> Iterator[RunningServer]:
    """The API allowing each account 1 point per second, in bursts of 5.

    So low that the bucket cannot refill between two requests of a test however
    slow the machine: a test sees the limit, never a race with the clock.
    """
    yield from api_with(settings, rate_limit_points=1)


@pytest.fixture
def unlimited_api(settings: Settings) -> Iterator[RunningServer]:
    """The API with both limits set to 0, which turns them off."""
    yield from api_with(settings, max_stats_per_account=0, rate_limit_points=0)


def test_a_post_creating_a_stat_past_the_limit_is_refused_naming_it(
    limited_api: RunningServer, owner: Account, engine: Engine
) -> None:
    for name in ("a", "b", "c"):
        assert post(limited_api, owner, name).status_code == 200

    refused = post(limited_api, owner, "d")

    assert refused.status_code == 403
    assert refused.json()["status"] == 403
    assert f"limit is {STAT_LIMIT} per account" in refused.json()["msg"]
    assert stat_names(engine, owner) == ["a", "b", "c"]
    assert post(limited_api, owner, "a").status_code == 200
    assert post(limited_api, owner, "b", 5).status_code == 200


def test_a_fan_out_past_the_limit_creates_none_of_its_stats(
    limited_api: RunningServer, owner: Account, engine: Engine
) -> None:
    make_stat(engine, owner, "a", "counter")

    refused = post(limited_api, owner, "x~1,2,3")

    assert refused.status_code == 403
    assert stat_names(engine, owner) == ["a"]
    assert post(limited_api, owner, "x~1,2").status_code == 200
    assert stat_names(engine, owner) == ["a", "x 1", "x 2"]


def test_a_post_past_the_limit_is_refused_while_another_writer_holds_sqlite(
    limited_api: RunningServer, owner: Account, engine: Engine, settings: Settings
) -> None:
    """Telling a request that its new names would pass the limit only reads, so it
    never queues for SQLite's one writer: a flood of never-used names past its limit
    must not stand in line ahead of other accounts' commits."""
    if engine.dialect.name != "sqlite":
        pytest.skip("MariaDB's readers and writers never wait for one another here")
    for name in ("a", "b", "c"):
        make_stat(engine, owner, name, "counter")
    held, let_go, released = threading.Event(), threading.Event(), threading.Event()

    def hold_the_writer() -> None:
        with engine.begin() as conn:  # BEGIN IMMEDIATE: SQLite's write lock
            conn.execute(text("UPDATE users SET email = email WHERE id = :id"),
                         {"id": owner.user.id})
            held.set()
            let_go.wait(20)  # longer than the API's busy timeout and retries
        released.set()

    holder = threading.Thread(target=hold_the_writer)
    holder.start()
    try:
        assert held.wait(10)
        refused = httpx.post(f"{limited_api.url}/ez", timeout=60,
                             data={"ezkey": owner.ezkey, "stat": "fresh~1,2,3", "count": 1})
        answered_while_held = not released.is_set()
    finally:
        let_go.set()
        holder.join(30)

    assert refused.status_code == 403 and f"limit is {STAT_LIMIT}" in refused.json()["msg"]
    assert answered_while_held
    assert stat_names(engine, owner) == ["a", "b", "c"]


def test_trashed_stats_count_against_the_limit(
    limited_api: RunningServer, owner: Account, engine: Engine
) -> None:
    for name in ("a", "b", "c"):
        stat = make_stat(engine, owner, name, "counter")
    with engine.begin() as conn:
        stats.trash_stat(conn, stat, int(time.time()))

    refused = post(limited_api, owner, "d")

    assert refused.status_code == 403
    assert "the trash included" in refused.json()["msg"]


def test_no_stat_limit_when_it_is_zero(
    unlimited_api: RunningServer, owner: Account, engine: Engine
) -> None:
    names = ",".join(str(i) for i in range(60))  # more than one creation transaction

    assert post(unlimited_api, owner, f"n~{names}").status_code == 200
    assert len(stat_names(engine, owner)) == 60


def test_fanned_out_names_count_against_the_batch_limit(
    limited_api: RunningServer, owner: Account, engine: Engine
) -> None:
    names = ",".join(str(i) for i in range(21))  # batch_limit is 20

    single = post(limited_api, owner, f"p~{names}")
    batch = httpx.post(f"{limited_api.url}/ez", json={
        "ezkey": owner.ezkey, "data": [{"stat": "q~a,b,c,d,e,f,g", "count": 1}] * 3,
    })

    assert single.status_code == 400
    assert "limit is 20 points per request" in single.json()["msg"]
    assert batch.status_code == 400
    assert "fanned-out names included" in batch.json()["msg"]
    assert stat_names(engine, owner) == []


def test_an_account_past_its_rate_gets_429_with_retry_after_and_others_do_not(
    throttled_api: RunningServer, owner: Account, outsider: Account, engine: Engine
) -> None:
    make_stat(engine, owner, "load", "counter")
    make_stat(engine, outsider, "load", "counter")

    burst = post_batch(throttled_api, owner, 5)
    refused = post_batch(throttled_api, owner, 5)

    assert burst.status_code == 200
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    body = refused.json()
    assert body["status"] == 429
    assert body["msg"].startswith("rate limit: at most 1 points per second for this account;")
    assert f"retry after {refused.headers['retry-after']} s" in body["msg"]
    assert post_batch(throttled_api, outsider, 5).status_code == 200


def test_past_its_rate_a_batch_is_refused_before_its_points_are_read(
    throttled_api: RunningServer, owner: Account, engine: Engine
) -> None:
    """A flood's refused batches cost little: the rate is checked on the number of items
    before any is read, so even an unreadable batch gets the 429, not a 400."""
    make_stat(engine, owner, "load", "counter")
    assert post_batch(throttled_api, owner, 5).status_code == 200  # the whole burst
    unreadable = [{"stat": "load", "count": "１２"}] * 5  # full-width digits: a 400 otherwise

    refused = httpx.post(f"{throttled_api.url}/ez",
                         json={"ezkey": owner.ezkey, "data": unreadable})

    assert refused.status_code == 429, refused.text
    assert int(refused.headers["retry-after"]) >= 1


def test_a_refused_account_is_held_back_until_the_refused_request_would_fit(
    throttled_api: RunningServer, owner: Account, engine: Engine
) -> None:
    """Once refused, an account's requests are refused whatever their size until its
    bucket holds the refused request: what lets a flood's next batch be turned away
    before it is read."""
    make_stat(engine, owner, "load", "counter")
    assert post_batch(throttled_api, owner, 3).status_code == 200  # 2 points left

    refused = post_batch(throttled_api, owner, 5)
    small = post(throttled_api, owner, "load")  # would fit the 2 points left

    assert refused.status_code == 429
    assert small.status_code == 429, small.text
    assert int(small.headers["retry-after"]) >= 1


def test_a_held_back_accounts_json_is_refused_before_it_is_parsed(
    throttled_api: RunningServer, owner: Account, outsider: Account, engine: Engine
) -> None:
    """Its body is not parsed: broken JSON gets the 429, where another account's
    broken JSON gets its 400."""
    make_stat(engine, owner, "load", "counter")
    assert post_batch(throttled_api, owner, 5).status_code == 200
    assert post_batch(throttled_api, owner, 5).status_code == 429

    def broken(account: Account) -> httpx.Response:
        body = f'{{"data": [{{"stat": "load", "count": 1}}, "ezkey": "{account.ezkey}"'
        return httpx.post(f"{throttled_api.url}/ez", content=body,
                          headers={"content-type": "application/json"})

    assert post(throttled_api, outsider, "load").status_code == 200  # its key is known
    held, other = broken(owner), broken(outsider)

    assert held.status_code == 429, held.text
    assert other.status_code == 400
    assert "not valid JSON" in other.json()["msg"]


def test_a_body_is_searched_for_its_first_plain_ezkeys_only() -> None:
    """What the early refusal looks at: keys, not text inside strings; not escaped keys
    (those bodies are parsed, as before); and two at most, however many a body names."""
    assert json_ezkeys(b'{"ezkey": "a", "data": [{"email":"b"}], "ezkey": "c"}') == ["a", "b"]
    assert json_ezkeys(b'{"ez\\u006bey": "a"}') == []
    assert json_ezkeys(b'{"stat": "\\"ezkey\\": \\"a\\""}') == []


def test_a_client_retrying_at_once_gets_about_one_refusal_a_second(
    throttled_api: RunningServer, owner: Account, engine: Engine
) -> None:
    """A 429 is answered when the account's hold ends (a second later at most), so a
    client posting in a loop sends about one request a second, not thousands."""
    make_stat(engine, owner, "load", "counter")
    assert post_batch(throttled_api, owner, 5).status_code == 200  # the whole burst
    assert post_batch(throttled_api, owner, 5).status_code == 429  # held about 5 s

    answers = post_in_a_loop(throttled_api, owner, seconds=2.5)

    assert {answer.status_code for answer in answers} == {429}
    assert len(answers) <= 4, f"{len(answers)} answers in 2.5 s"


def test_past_the_waiting_answers_a_429_goes_at_once(
    throttled_api: RunningServer, owner: Account, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each waiting 429 holds a connection, so their number is bounded: past it (none
    here), refusals are answered at once."""
    monkeypatch.setattr(routes, "MAX_HELD_ANSWERS", 0)
    make_stat(engine, owner, "load", "counter")
    assert post_batch(throttled_api, owner, 5).status_code == 200
    assert post_batch(throttled_api, owner, 5).status_code == 429

    answers = post_in_a_loop(throttled_api, owner, seconds=1.0)

    assert {answer.status_code for answer in answers} == {429}
    assert len(answers) >= 5


def test_a_request_larger_than_the_burst_passes_once_and_classic_posts_are_limited_too(
    throttled_api: RunningServer, owner: Account, engine: Engine
) -> None:
    stat = make_stat(engine, owner, "load", "counter")
    form = {"ukey": owner.ukey, "key": stat.classic_key, "count": "1"}

    large = post_batch(throttled_api, owner, 20)
    classic = httpx.post(f"{throttled_api.url}/c", data=form)

    assert large.status_code == 200
    assert classic.status_code == 429
    assert int(classic.headers["retry-after"]) >= 10  # the 20 points are paid for first


def test_no_rate_limit_when_it_is_zero(
    unlimited_api: RunningServer, owner: Account, engine: Engine
) -> None:
    make_stat(engine, owner, "load", "counter")

    statuses = {post_batch(unlimited_api, owner, 500).status_code for _ in range(5)}

    assert statuses == {200}


@pytest.fixture
def limited_web(app_server_settings: Settings) -> Iterator[RunningServer]:
    limited = app_server_settings.model_copy(update={"max_stats_per_account": STAT_LIMIT})
    with serve(web_app(limited)) as server:
        yield server


def test_the_web_app_refuses_a_stat_past_the_limit_with_a_form_error(
    limited_web: RunningServer, engine: Engine
) -> None:
    email = f"owner-{secrets.token_hex(4)}@example.com"
    with engine.begin() as conn:
        user = accounts.create_user(conn, email, hashed(PASSWORD), int(time.time()))
        for name in ("a", "b", "c"):
            stats.create_stat(conn, user.id, name, "counter", int(time.time()))
    with httpx.Client(base_url=limited_web.url, timeout=30) as client:
        assert log_in(client, email, PASSWORD).status_code == 303
        csrf = csrf_in(client.get("/settings", headers={"accept": "text/html"}).text)

        page = client.post("/stats", data={"csrf": csrf, "name": "d", "kind": "counter"},
                           headers={"accept": "text/html"})

    assert page.status_code == 403
    assert f"the limit is {STAT_LIMIT} per account" in page.text
    with engine.connect() as conn:
        assert stats.stats_by_names(conn, user.id, ["d"]) == {}
