"""The graph server's render cache stays within its size, drops the render viewed
least recently to make room, and never serves a render past its expiry."""

from __future__ import annotations

from app_servers.graph import RenderCache


def render(n: int) -> dict[str, object]:
    return {"body": f"render {n}"}


def test_the_cache_keeps_at_most_its_size() -> None:
    cache = RenderCache(3)
    for n in range(10):
        cache.put((n,), render(n), None)
    kept = [n for n in range(10) if cache.get((n,), now=0) is not None]
    assert kept == [7, 8, 9]


def test_a_render_viewed_again_outlives_one_not_viewed() -> None:
    cache = RenderCache(2)
    cache.put(("a",), render(1), None)
    cache.put(("b",), render(2), None)
    assert cache.get(("a",), now=0) == render(1)  # "a" is now the most recently used
    cache.put(("c",), render(3), None)  # full: the least recently used, "b", makes room
    assert cache.get(("b",), now=0) is None
    assert cache.get(("a",), now=0) == render(1)
    assert cache.get(("c",), now=0) == render(3)


def test_a_render_is_not_served_past_its_expiry() -> None:
    cache = RenderCache(2)
    cache.put(("live",), render(1), expires=100)
    assert cache.get(("live",), now=99) == render(1)
    assert cache.get(("live",), now=100) is None
