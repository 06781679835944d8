"""Bad values of the pages' newer inputs are refused with a 400 saying so: never a 500, and
never quietly read as something else."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine

from aerie import dashboards, shares
from tests.conftest import Account, make_stat, put_points
from tests.web_service.conftest import Browser


@dataclass(frozen=True)
class Things:
    """What the bad addresses point at: a dashboard with a graph card, two stats to compare
    and a shared stat's embed key."""

    board: str
    card: int
    ids: str  # the compare page's ids=..&ids=.. for two stats
    key: str


@pytest.fixture
def things(owner_browser: Browser, engine: Engine) -> Things:
    account = Account(owner_browser.user, "")
    now = int(time.time())
    chosen = [make_stat(engine, account, name, "counter") for name in ("signups", "logins")]
    for stat in chosen:
        put_points(engine, stat, [(now - 120, 5), (now - 60, 7)])
    with engine.begin() as conn:
        board = dashboards.create_dashboard(conn, account.user.id, "ops", now)
        card = dashboards.add_card(conn, board, "graph", "1d", "", chosen)
        key = shares.share_stat(conn, account.user.id, chosen[0].id, now).key
    return Things(board.public_id, card, "&".join(f"ids={s.public_id}" for s in chosen), key)


PATHS = {
    "dashboard timeframe": "/dashboards/{t.board}?tf=bogus",
    "card image timeframe": "/dashboards/{t.board}/cards/{t.card}/graph.png?tf=bogus",
    "compare norm": "/compare?{t.ids}&norm=2",
    "compare image norm": "/compare/graph.png?{t.ids}&norm=x",
    "compare image norm number": "/compare/graph.png?{t.ids}&norm=2",
    "embed image scale": "/embed/graph/{t.key}.png?scale=9",
    "empty reset token": "/password/reset?token=",
    "unknown verify token": "/verify?token=nonsense",
}


@pytest.mark.parametrize("path", PATHS.values(), ids=PATHS.keys())
def test_a_bad_input_gets_a_400(owner_browser: Browser, things: Things, path: str) -> None:
    answer = owner_browser.get(path.format(t=things))

    assert answer.status_code == 400, (answer.status_code, answer.text[:500])
