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


def test_a_page_past_the_last_says_so_and_links_the_first(
    owner_browser: Browser, things: Things
) -> None:
    """Not the first-run "No stats yet" screen: the account has stats, only not that many."""
    answer = owner_browser.get("/stats?page=999")

    assert answer.status_code == 200
    assert "No stats yet" not in answer.text
    assert "No stats on page 999" in answer.text
    assert 'href="?q=&amp;tag=&amp;sort=name&amp;page=1">Go to page 1</a>' in answer.text


BROWSER_TYPED = {
    "negative page": ("/stats?page=-1", "Page must be a whole number from 1"),
    "graph width": ("/stats/{first}/graph.png?w=abc", "W must be a width in pixels"),
}


@pytest.mark.parametrize(("path", "says"), BROWSER_TYPED.values(), ids=BROWSER_TYPED.keys())
def test_a_malformed_parameter_typed_into_a_browser_gets_the_error_page(
    owner_browser: Browser, things: Things, path: str, says: str
) -> None:
    path = path.format(first=things.ids.split("&")[0].removeprefix("ids="))
    page, script = owner_browser.get(path), owner_browser.json(path)

    assert page.status_code == script.status_code == 400
    assert page.headers["content-type"].startswith("text/html")
    assert "That request needs fixing" in page.text and says in page.text
    assert script.json()["status"] == 400
