"""Cached embeds over real HTTP: repeats cost no query and no render, new data shows
within the max-age the answer states, and a key only ever gets its own answer."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import Engine, event

from aerie.settings import Settings
from aerie.stats import trash_stat
from tests.conftest import Account, make_account, put_points
from tests.servers import RunningServer, free_port, serve
from tests.web_service.test_embeds import shared_stat
from web_service.app import create_app


@dataclass
class Clock:
    """The web app's clock, moved by the test (the app servers keep the real one)."""

    now: float

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(time.time())


@pytest.fixture
def web_at(app_server_settings: Settings, clock: Clock) -> Iterator[RunningServer]:
    """A web app of its own, on the test's clock, with the shared app servers."""
    port = free_port()
    settings = app_server_settings.model_copy(
        update={"public_web_url": f"http://127.0.0.1:{port}"})
    with serve(create_app(settings, clock=clock), port) as server:
        yield server


@contextmanager
def counting_queries() -> Iterator[list[str]]:
    """Every SQL statement any engine of this process runs meanwhile: the web app's and
    the graph and analysis servers' (they run in this process too)."""
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", count)


def max_age(answer: httpx.Response) -> int:
    found = re.fullmatch(r"public, max-age=(\d+)", answer.headers["cache-control"])
    assert found, answer.headers["cache-control"]
    return int(found.group(1))


@pytest.mark.parametrize("path", ["/embed/data/{key}", "/embed/graph/{key}.png?w=300&h=120",
                                  "/embed/table/{key}?tf=1d"])
def test_a_new_point_shows_in_a_cached_embed_within_its_max_age(
    web_at: RunningServer, engine: Engine, owner: Account, clock: Clock, path: str
) -> None:
    stat, key = shared_stat(engine, owner)
    with httpx.Client(base_url=web_at.url, timeout=60) as visitor:
        first = visitor.get(path.format(key=key))
        # A second later than the points shared_stat put (the graph server keys renders
        # on when data was last received, to the second), and at its newest point's time:
        # a minute earlier fell in the hour before during the first minute of an hour,
        # where the data and table embeds' latest hour does not show it.
        put_points(engine, stat, [(int(time.time()), 77_777)], received=int(time.time()) + 1)
        clock.now += 30
        held = visitor.get(path.format(key=key))
        clock.now += max_age(first) - 30
        fresh = visitor.get(path.format(key=key))

    assert first.status_code == held.status_code == fresh.status_code == 200
    assert max_age(first) == 60 and max_age(held) == 30
    assert held.content == first.content  # still within the first answer's minute
    assert fresh.content != first.content and fresh.headers["etag"] != first.headers["etag"]
    if "data" in path or "table" in path:
        assert "77" in fresh.text and "77" not in first.text


def test_a_cached_embed_costs_no_query_and_no_render(
    web_at: RunningServer, engine: Engine, owner: Account
) -> None:
    _stat, key = shared_stat(engine, owner)
    paths = [f"/embed/graph/{key}.png", f"/embed/graph/{key}", f"/embed/text/{key}"]
    with httpx.Client(base_url=web_at.url, timeout=60) as visitor:
        first = [visitor.get(p) for p in paths]
        with counting_queries() as queries:
            again = [visitor.get(p) for _ in range(20) for p in paths]
            not_modified = visitor.get(paths[0], headers={"if-none-match": first[0].headers["etag"]})

    assert all(a.status_code == 200 for a in first + again)
    assert [a.content for a in again[:3]] == [a.content for a in first]
    assert not_modified.status_code == 304
    assert queries == []  # the app servers read the database for every render they make


def test_many_viewers_of_an_uncached_embed_at_once_cause_one_answers_work(
    web_at: RunningServer, engine: Engine, owner: Account
) -> None:
    _stat, key = shared_stat(engine, owner)

    async def load(path: str, viewers: int) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=web_at.url, timeout=60) as client:
            return await asyncio.gather(*(client.get(path) for _ in range(viewers)))

    with counting_queries() as one:
        asyncio.run(load(f"/embed/data/{key}?tf=day", 1))
    with counting_queries() as thirty:
        answers = asyncio.run(load(f"/embed/data/{key}?tf=week", 30))

    assert all(a.status_code == 200 for a in answers)
    assert len({a.content for a in answers}) == 1
    assert 0 < len(thirty) == len(one)


def test_a_key_gets_only_its_own_answer_never_another_accounts(
    web_at: RunningServer, engine: Engine, owner: Account
) -> None:
    other = make_account(engine, "other")
    _mine, my_key = shared_stat(engine, owner, "my secret sales")
    _theirs, their_key = shared_stat(engine, other, "their visits")
    with httpx.Client(base_url=web_at.url, timeout=60) as visitor:
        mine = visitor.get(f"/embed/text/{my_key}")
        theirs = visitor.get(f"/embed/text/{their_key}")
        # one character changed (to another one: a key may end in "x" itself)
        wrong = visitor.get(f"/embed/text/{my_key[:-1]}{'y' if my_key.endswith('x') else 'x'}")

    assert "my secret sales" in mine.text and "my secret sales" not in theirs.text
    assert "their visits" in theirs.text
    assert wrong.status_code == 404 and "my secret sales" not in wrong.text


def test_a_trashed_stat_stops_showing_once_the_max_age_is_over(
    web_at: RunningServer, engine: Engine, owner: Account, clock: Clock
) -> None:
    stat, key = shared_stat(engine, owner)
    with httpx.Client(base_url=web_at.url, timeout=60) as visitor:
        assert visitor.get(f"/embed/data/{key}").status_code == 200
        with engine.begin() as conn:
            trash_stat(conn, stat, int(time.time()))
        held = visitor.get(f"/embed/data/{key}")
        clock.now += 60
        gone = visitor.get(f"/embed/data/{key}")

    assert held.status_code == 200  # no query while the answer is fresh, as promised
    assert gone.status_code == 410 and gone.headers["cache-control"] == "no-store"
