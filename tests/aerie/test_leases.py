"""One scheduler acts at a time: the lease in the database decides which."""

from __future__ import annotations

from sqlalchemy import Engine

from aerie.leases import release_lease, take_lease

T = 1_800_000_000.0


def take(engine: Engine, holder: str, now: float, seconds: float = 30) -> bool:
    with engine.begin() as conn:
        return take_lease(conn, "test-scheduler", holder, now, seconds)


def test_the_first_taker_holds_the_lease_and_renews_it(engine: Engine) -> None:
    release(engine, "a"), release(engine, "b")
    assert take(engine, "a", T)
    assert not take(engine, "b", T + 1)
    assert take(engine, "a", T + 20)  # renewed until T + 50
    assert not take(engine, "b", T + 45)


def test_another_takes_over_when_the_holder_stops_renewing(engine: Engine) -> None:
    release(engine, "a"), release(engine, "b")
    assert take(engine, "a", T)
    assert take(engine, "b", T + 31)
    assert not take(engine, "a", T + 32)  # the old holder must not act again


def test_a_released_lease_is_free_at_once(engine: Engine) -> None:
    release(engine, "a"), release(engine, "b")
    assert take(engine, "a", T)
    release(engine, "a")
    assert take(engine, "b", T + 1)


def release(engine: Engine, holder: str) -> None:
    with engine.begin() as conn:
        release_lease(conn, "test-scheduler", holder)
