"""A demo account with a few months of believable data, so a fresh install has graphs to show.

``load_demo`` creates (or refreshes) ``demo@aerie.local`` with password ``demo``:
three cities' temperatures as value stats and sign-ups as a counter, one
point per five minutes. Data goes in through the same write-time aggregation
as the API (``rollups.add_point`` / ``write_cells``), in chunks of days, so
the rollups are exactly what real traffic would have produced. A seeded
generator makes the shapes reproducible for a given end time.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from aerie import accounts, rollups, stats
from aerie.passwords import PasswordHash, Passwords
from aerie.schema import COUNTER, DAY, VALUE
from aerie.transactions import write

DEMO_EMAIL = "demo@aerie.local"
DEMO_PASSWORD = "demo"
DEMO_DAYS = 90
STEP = 300  # one point per five minutes
CHUNK_DAYS = 10  # days of points per transaction: bounded memory, few round trips
SEED = 20240601

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class City:
    """A city's climate: yearly mean, seasonal swing (negative south of the equator), UTC offset."""

    name: str
    mean: float
    seasonal: float
    daily: float
    utc_offset: int


CITIES = (
    City("berlin", 10.0, 9.5, 4.5, 1),
    City("lagos", 27.0, 1.5, 3.5, 1),
    City("melbourne", 15.5, -5.5, 5.0, 10),
)


@dataclass(frozen=True)
class DemoStat:
    name: str
    kind: str
    public_id: str
    classic_key: str


@dataclass(frozen=True)
class DemoAccount:
    """What a person needs to log in and read the demo; ``token`` is shown only now."""

    email: str
    password: str
    ezkey: str
    ukey: str
    token: str
    stats: list[DemoStat]
    points: int


def load_demo(
    engine: Engine, passwords: Passwords, now: int, progress: Progress | None = None
) -> DemoAccount:
    """Create or refresh the demo account and fill it with ``DEMO_DAYS`` of data up to ``now``.

    Refreshing deletes the account's stats and their data, resets the password
    and issues a new token, so running it twice gives the same picture.
    """
    password = passwords.hash(DEMO_PASSWORD)

    def account(conn: Connection) -> tuple[accounts.User, accounts.NewToken, dict[str, stats.Stat]]:
        user = _fresh_user(conn, password, now)
        token = accounts.create_token(conn, user.id, "demo", now)
        created = {
            f"temperature {city.name}": stats.create_stat(
                conn, user.id, f"temperature {city.name}", VALUE, now
            )
            for city in CITIES
        }
        created["signups"] = stats.create_stat(conn, user.id, "signups", COUNTER, now)
        return user, token, created

    user, token, created = write(engine, account)
    end = now - now % STEP
    points = _write_points(engine, created, end, progress)
    write(engine, lambda conn: stats.mark_data_received(
        conn, [(s.id, end) for s in created.values()]))
    return DemoAccount(
        email=user.email, password=DEMO_PASSWORD, ezkey=user.ezkey, ukey=user.ukey,
        token=token.token,
        stats=[DemoStat(s.name, s.kind, s.public_id, s.classic_key) for s in created.values()],
        points=points,
    )


def _fresh_user(conn: Connection, password: PasswordHash, now: int) -> accounts.User:
    """The demo user with no stats and the demo password, created if missing."""
    user = accounts.user_by_email(conn, DEMO_EMAIL)
    if user is None:
        return accounts.create_user(conn, DEMO_EMAIL, password, now)
    for stat in stats.stats_of_user(conn, user.id):
        stats.delete_stat(conn, stat)
    accounts.set_password(conn, user.id, password)
    return user


def _write_points(
    engine: Engine, created: dict[str, stats.Stat], end: int, progress: Progress | None
) -> int:
    """Generate and write every point, one transaction per chunk; returns the point count."""
    rng = random.Random(SEED)
    weather = {city.name: 0.0 for city in CITIES}  # slow drift: fronts passing through
    start = end - DEMO_DAYS * DAY
    written = 0
    for chunk_start in range(start, end, CHUNK_DAYS * DAY):
        chunk_end = min(end, chunk_start + CHUNK_DAYS * DAY)
        cells: rollups.Cells = {}
        for t in range(chunk_start, chunk_end, STEP):
            for city in CITIES:
                weather[city.name] = 0.998 * weather[city.name] + rng.gauss(0, 0.12)
                x = temperature(city, t) + weather[city.name] + rng.gauss(0, 0.3)
                rollups.add_point(cells, created[f"temperature {city.name}"].id, t, round(x, 2))
                written += 1
            count = poisson(rng, signup_rate(t, (t - start) / (end - start)))
            if count:
                rollups.add_point(cells, created["signups"].id, t, count)
                written += 1
        write(engine, functools.partial(rollups.write_cells, cells=cells))
        if progress is not None:
            progress((chunk_end - start) // DAY, DEMO_DAYS)
    return written


def temperature(city: City, t: int) -> float:
    """The climate's expected temperature at ``t``: seasonal curve plus a mid-afternoon peak."""
    year_phase = 2 * math.pi * ((t / DAY) % 365.25 - 196) / 365.25  # warmest mid-July (north)
    local_hour = (t / 3600 + city.utc_offset) % 24
    day_phase = 2 * math.pi * (local_hour - 15) / 24  # warmest at 15:00 local
    return city.mean + city.seasonal * math.cos(year_phase) + city.daily * math.cos(day_phase)


def signup_rate(t: int, growth: float) -> float:
    """Expected sign-ups in five minutes: busy by day, quiet at night and at weekends, growing."""
    hour = (t / 3600) % 24
    daytime = max(0.0, math.sin(math.pi * (hour - 6) / 16)) if 6 <= hour <= 22 else 0.0
    weekday = (int(t // DAY) + 3) % 7  # 1970-01-01 was a Thursday; 0 is Monday
    week = 0.55 if weekday >= 5 else 1.0
    return (0.1 + 2.4 * daytime) * week * (1.0 + 0.6 * growth)


def poisson(rng: random.Random, rate: float) -> int:
    """A Poisson-distributed count (Knuth's method; fine for the small rates used here)."""
    limit = math.exp(-rate)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
