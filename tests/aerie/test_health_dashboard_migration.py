"""Migration 0013: installs from before the health dashboard opened on 6 hours get it too."""

from __future__ import annotations

import time

from sqlalchemy import Engine, select

from aerie import accounts, dashboards
from aerie.health_dashboard import HEALTH_DASHBOARD, TIMEFRAME
from aerie.migrate import upgrade
from aerie.schema import dashboard_cards
from aerie.stats import create_stat

SYSTEM = "ops@aerie.example"  # a configured system account, not the default


def _board(engine: Engine, email: str, name: str, timeframes: list[str]) -> int:
    """A dashboard with a graph card per timeframe, as the code before 0013 made them."""
    now = int(time.time())
    with engine.begin() as conn:
        user = accounts.user_by_email(conn, email) or accounts.create_user(conn, email, None, now)
        board = dashboards.create_dashboard(conn, user.id, name, now)
        for i, timeframe in enumerate(timeframes):
            stat = create_stat(conn, user.id, f"aerie api figure {name} {i}", "value", now)
            dashboards.add_card(conn, board, "graph", timeframe, stat.name, [stat])
        return board.id


def _timeframes(engine: Engine, board_id: int) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(dashboard_cards.c.timeframe)
                                 .where(dashboard_cards.c.dashboard_id == board_id)
                                 .order_by(dashboard_cards.c.position)).scalars())


def test_the_health_dashboard_s_day_cards_move_to_six_hours_and_nothing_else_does(
    fresh_engine: Engine,
) -> None:
    upgrade(fresh_engine, "0012")
    health = _board(fresh_engine, SYSTEM, HEALTH_DASHBOARD, ["1d", "1d", "1w", "3h"])
    other_board = _board(fresh_engine, SYSTEM, "Capacity", ["1d"])
    lookalike = _board(fresh_engine, "anna@example.com", HEALTH_DASHBOARD, ["1d"])

    upgrade(fresh_engine, system_email=SYSTEM)

    assert TIMEFRAME == "6h"
    assert _timeframes(fresh_engine, health) == ["6h", "6h", "1w", "3h"]  # changed cards stay
    assert _timeframes(fresh_engine, other_board) == ["1d"]
    assert _timeframes(fresh_engine, lookalike) == ["1d"]
