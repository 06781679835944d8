"""The built-in "Aerie health" dashboard: a card for each of Aerie's own stats, grouped by
the role that records them, over the last six hours."""

from __future__ import annotations

from sqlalchemy import Connection

from aerie import dashboards
from aerie.accounts import User
from aerie.dashboards import MAX_CARDS, Dashboard
from aerie.stats import Stat, stats_of_user

HEALTH_DASHBOARD = "Aerie health"
TIMEFRAME = "6h"  # six hours at 5 minutes: what is happening now, with enough to compare
# Cards in this order (the first part each name contains), so the overview comes first and, when the dashboard is full, what
# is left off is the long tail of per-route figures.
_FIRST = ("aerie api points ingested", "aerie api requests", "aerie api latency ms",
          "aerie api commit", "aerie api errors", "aerie web errors", "aerie scheduler",
          " memory MB", "aerie web requests", "aerie web latency ms")
_NUMBER_ENDINGS = (" memory MB", " outbox depth")  # levels: the latest figure says most


def ensure_health_dashboard(conn: Connection, system_user: User, now: int) -> Dashboard:
    """The system account's "Aerie health" dashboard, created if missing, with a card for
    each ``aerie ...`` stat it does not show yet (graphs; numbers for levels such as
    memory). Never adds a second card for a stat; stops at the dashboard's card limit."""
    board = _health_dashboard(conn, system_user.id, now)
    cards = dashboards.cards_of_dashboard(conn, board.id)
    shown = {stat.id for card in cards for stat in card.stats}
    room = MAX_CARDS - len(cards)
    missing = [stat for stat in stats_of_user(conn, system_user.id)
               if stat.name.startswith("aerie ") and stat.id not in shown]
    kept = sorted(missing, key=_rank)[:max(room, 0)]  # when full, the long tail is left off
    for stat in sorted(kept, key=_by_role):
        kind = "number" if stat.name.endswith(_NUMBER_ENDINGS) else "graph"
        dashboards.add_card(conn, board, kind, TIMEFRAME, stat.name, [stat])
    return board


def _health_dashboard(conn: Connection, user_id: int, now: int) -> Dashboard:
    for listed in dashboards.dashboards_of_user(conn, user_id):
        if listed.dashboard.name == HEALTH_DASHBOARD:
            return listed.dashboard
    return dashboards.create_dashboard(conn, user_id, HEALTH_DASHBOARD, now)


def _by_role(stat: Stat) -> tuple[str, int, str]:
    """Cards grouped by the role recording them (``aerie <role> ...``), overview first in each."""
    return (stat.name.split(" ")[1] if " " in stat.name else "", *_rank(stat))


def _rank(stat: Stat) -> tuple[int, str]:
    for place, prefix in enumerate(_FIRST):
        if prefix in stat.name:
            return place, stat.name
    return len(_FIRST), stat.name
