"""The web tier's cache of public answers, around a small ASGI app that counts its calls."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from web_service.public_cache import PublicCache, PublicCacheLayer

pytestmark = pytest.mark.anyio


@dataclass
class Clock:
    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Routes:
    """Answers each path with a body naming the path and how many calls it took."""

    cache_control: str = "public, max-age=60"
    status: int = 200
    extra: list[tuple[bytes, bytes]] = field(default_factory=list)
    delay: float = 0.0
    calls: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        await asyncio.sleep(self.delay)
        accept = dict(scope["headers"]).get(b"accept", b"")
        body = b"%s %s #%d" % (scope["path"].encode(), accept, self.calls)
        headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body)),
                   (b"cache-control", self.cache_control.encode()), *self.extra]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def client(routes: Routes, clock: Clock, max_bytes: int = 1 << 20) -> httpx.AsyncClient:
    layer = PublicCacheLayer(routes, PublicCache(max_bytes, clock))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=layer), base_url="http://web")


async def test_a_repeat_is_answered_from_the_cache_until_its_max_age_runs_out() -> None:
    routes, clock = Routes(), Clock()
    async with client(routes, clock) as web:
        first = await web.get("/embed/graph/KEY.png?w=400")
        clock.now += 45
        again = await web.get("/embed/graph/KEY.png?w=400")
        clock.now += 15
        later = await web.get("/embed/graph/KEY.png?w=400")

    assert first.content == again.content == b"/embed/graph/KEY.png */* #1"
    assert first.headers["cache-control"] == "public, max-age=60"
    assert again.headers["cache-control"] == "public, max-age=15"  # what is left, not 60 again
    assert later.content.endswith(b"#2") and later.headers["cache-control"] == "public, max-age=60"
    assert routes.calls == 2


async def test_keys_sizes_and_json_twins_are_kept_apart() -> None:
    routes, clock = Routes(), Clock()
    paths = ["/embed/data/KEYA", "/embed/data/KEYB", "/embed/data/KEYA?w=300", "/d/KEYA"]
    async with client(routes, clock) as web:
        answers = [(await web.get(p)).content for p in paths]
        twin = await web.get("/d/KEYA", headers={"accept": "application/json"})
        again = [(await web.get(p)).content for p in paths]

    assert len(set(answers)) == len(paths) and again == answers
    assert twin.content == b"/d/KEYA application/json #5"


async def test_if_none_match_gets_304_without_a_body() -> None:
    routes, clock = Routes(), Clock()
    async with client(routes, clock) as web:
        first = await web.get("/embed/data/KEY")
        tag = first.headers["etag"]
        again = await web.get("/embed/data/KEY", headers={"if-none-match": tag})
        cold = await web.get("/embed/text/KEY", headers={"if-none-match": '"other"'})

    assert tag.startswith('"') and len(tag) > 10
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag
    assert "content-type" not in again.headers
    assert cold.status_code == 200 and routes.calls == 2


@pytest.mark.parametrize(("cache_control", "status", "extra"), [
    ("private, no-cache", 200, []),
    ("no-store", 200, []),
    ("public, max-age=60", 410, []),
    ("public, max-age=60", 200, [(b"set-cookie", b"session=1")]),
])
async def test_private_failed_or_cookie_setting_answers_are_never_kept(
    cache_control: str, status: int, extra: list[tuple[bytes, bytes]]
) -> None:
    routes, clock = Routes(cache_control, status, extra), Clock()
    async with client(routes, clock) as web:
        for _ in range(3):
            answer = await web.get("/embed/graph/KEY")
            assert answer.status_code == status

    assert routes.calls == 3


async def test_pages_outside_embeds_and_shared_dashboards_are_never_kept() -> None:
    routes, clock = Routes(), Clock()
    async with client(routes, clock) as web:
        for path in ("/stats/abc", "/dashboards/abc/cards/1/graph.png", "/embedded"):
            await web.get(path)
            await web.get(path)

    assert routes.calls == 6


async def test_many_misses_at_once_make_one_answer() -> None:
    routes, clock = Routes(delay=0.05), Clock()
    async with client(routes, clock) as web:
        answers = await asyncio.gather(*(web.get("/embed/graph/KEY.png") for _ in range(20)))

    assert {a.content for a in answers} == {b"/embed/graph/KEY.png */* #1"}
    assert routes.calls == 1


async def test_misses_waiting_on_an_answer_not_kept_ask_for_their_own() -> None:
    routes, clock = Routes(cache_control="no-store", delay=0.02), Clock()
    async with client(routes, clock) as web:
        answers = await asyncio.gather(*(web.get("/embed/graph/KEY") for _ in range(5)))

    assert routes.calls == 5 and all(a.status_code == 200 for a in answers)


async def test_memory_is_bounded_and_the_least_recently_used_go_first() -> None:
    routes, clock = Routes(), Clock()
    cache = PublicCache(8 * 1024, clock)
    layer = PublicCacheLayer(routes, cache)
    transport = httpx.ASGITransport(app=layer)
    async with httpx.AsyncClient(transport=transport, base_url="http://web") as web:
        await web.get("/embed/data/FIRST")
        for n in range(100):
            await web.get("/embed/data/FIRST")  # kept warm
            await web.get(f"/embed/data/K{n}")
        calls = routes.calls
        await web.get("/embed/data/FIRST")
        await web.get("/embed/data/K0")

    assert cache.bytes_held <= 8 * 1024 and 0 < len(cache) < 100
    assert routes.calls == calls + 1  # FIRST still held, K0 long gone


async def test_forgetting_a_key_drops_every_answer_naming_it() -> None:
    routes, clock = Routes(), Clock()
    cache = PublicCache(1 << 20, clock)
    transport = httpx.ASGITransport(app=PublicCacheLayer(routes, cache))
    async with httpx.AsyncClient(transport=transport, base_url="http://web") as web:
        for path in ("/embed/graph/KEY.png", "/embed/graph/OTHER/KEY", "/d/KEY",
                     "/embed/graph/KEYS.png"):
            await web.get(path)

        assert cache.forget("KEY") == 3
        assert len(cache) == 1


async def test_a_popular_answer_is_made_again_before_it_expires_without_a_wait() -> None:
    routes, clock = Routes(delay=0.05), Clock()
    cache = PublicCache(1 << 20, clock)
    transport = httpx.ASGITransport(app=PublicCacheLayer(routes, cache))
    async with httpx.AsyncClient(transport=transport, base_url="http://web") as web:
        await web.get("/embed/data/KEY")
        clock.now += 55  # in the answer's last 15 %
        during = await asyncio.gather(*(web.get("/embed/data/KEY") for _ in range(10)))
        await asyncio.gather(*cache.refreshing)
        after = await web.get("/embed/data/KEY")

    assert {a.content for a in during} == {b"/embed/data/KEY */* #1"}  # the old one, at once
    assert {a.headers["cache-control"] for a in during} == {"public, max-age=5"}
    assert after.content.endswith(b"#2") and after.headers["cache-control"] == "public, max-age=60"
    assert routes.calls == 2


async def test_a_remake_that_fails_drops_the_old_answer() -> None:
    routes, clock = Routes(), Clock()
    cache = PublicCache(1 << 20, clock)
    transport = httpx.ASGITransport(app=PublicCacheLayer(routes, cache))
    async with httpx.AsyncClient(transport=transport, base_url="http://web") as web:
        await web.get("/embed/data/KEY")
        routes.status, routes.cache_control = 410, "no-store"  # revoked on another web copy
        clock.now += 55
        await web.get("/embed/data/KEY")
        await asyncio.gather(*cache.refreshing)
        after = await web.get("/embed/data/KEY")

    assert after.status_code == 410
