"""The "Aerie health" dashboard: one card per system stat, never two."""

from __future__ import annotations

import time

import anyio
import pytest
from sqlalchemy import Engine

from aerie import dashboards
from aerie.accounts import User
from aerie.health_dashboard import HEALTH_DASHBOARD, ensure_health_dashboard
from aerie.leases import release_lease
from aerie.schema import COUNTER, VALUE
from aerie.secret_key import load_rpc_secret
from aerie.settings import Settings
from aerie.stats import create_stat
from aerie.system_account import ensure_system_account
from app_servers.scheduler import LEASE, Scheduler
from presenters.mail import TemplateMail
from rpc.clients import GraphClient


def system_user(engine: Engine, settings: Settings) -> User:
    with engine.begin() as conn:
        return ensure_system_account(conn, settings, int(time.time()))


def add_stat(engine: Engine, user: User, name: str, kind: str) -> None:
    with engine.begin() as conn:
        create_stat(conn, user.id, name, kind, int(time.time()))


def cards(engine: Engine, user: User) -> list[tuple[str, str]]:
    """(kind, the stat's name) of each card of the user's health dashboard."""
    with engine.connect() as conn:
        (board,) = [d.dashboard for d in dashboards.dashboards_of_user(conn, user.id)
                    if d.dashboard.name == HEALTH_DASHBOARD]
        return [(card.kind, card.stats[0].name)
                for card in dashboards.cards_of_dashboard(conn, board.id)]


def ensure(engine: Engine, user: User) -> None:
    with engine.begin() as conn:
        ensure_health_dashboard(conn, user, int(time.time()))


def test_health_dashboard_shows_each_system_stat_once(
    settings: Settings, engine: Engine, system_email: str
) -> None:
    user = system_user(engine, settings.model_copy(update={"system_email": system_email}))
    add_stat(engine, user, "aerie api 8001 memory MB", VALUE)
    add_stat(engine, user, "aerie api requests /c", COUNTER)
    add_stat(engine, user, "not one of ours", COUNTER)
    ensure(engine, user)
    ensure(engine, user)
    assert cards(engine, user) == [("graph", "aerie api requests /c"),
                                   ("number", "aerie api 8001 memory MB")]


def test_health_dashboard_gains_a_card_for_a_new_stat(
    settings: Settings, engine: Engine, system_email: str
) -> None:
    user = system_user(engine, settings.model_copy(update={"system_email": system_email}))
    add_stat(engine, user, "aerie api requests /c", COUNTER)
    ensure(engine, user)
    add_stat(engine, user, "aerie scheduler outbox depth", VALUE)
    ensure(engine, user)
    with engine.connect() as conn:
        assert len(dashboards.dashboards_of_user(conn, user.id)) == 1
    assert cards(engine, user) == [("graph", "aerie api requests /c"),
                                   ("number", "aerie scheduler outbox depth")]


@pytest.mark.anyio
async def test_the_scheduler_pass_keeps_the_health_dashboard(
    settings: Settings, engine: Engine, system_email: str
) -> None:
    settings = settings.model_copy(update={"system_email": system_email, "monitor_seconds": 60})
    user = system_user(engine, settings)
    add_stat(engine, user, "aerie web requests /stats/{public_id}", COUNTER)
    graph = GraphClient(settings.graph_replicas, secret=load_rpc_secret(settings), timeout=1)
    try:
        scheduler = Scheduler(settings, engine, graph, holder=f"test {system_email}",
                              mail=TemplateMail(settings))
        # another test's scheduler may hold the lease for a moment
        with anyio.fail_after(40):
            while not (await scheduler.tick()).leader:
                await anyio.sleep(0.5)
    finally:
        await graph.aclose()
        with engine.begin() as conn:
            release_lease(conn, LEASE, scheduler.holder)
    assert cards(engine, user) == [("graph", "aerie web requests /stats/{public_id}")]
