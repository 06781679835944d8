"""Deleting an account from the settings page: the password first, then every row with the
account's id (and its stats' data) is gone, and every browser of it is signed out."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from sqlalchemy import Engine, func, select

from aerie import alerts, comments, dashboards, outbox, reports, shares
from aerie.accounts import create_token
from aerie.digests import note_new_stat
from aerie.mail import compose
from aerie.schema import ROLLUPS, metadata, stats
from aerie.settings import Settings
from interactor.alert_forms import parse_rule
from tests.conftest import Account, make_stat, put_points
from tests.servers import RunningServer
from tests.web_service.conftest import PASSWORD, Browser, log_in


def rows_of(engine: Engine, user_id: int, stat_ids: list[int]) -> dict[str, int]:
    """How many rows of each table name the account (by user_id) or one of its stats."""
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if "user_id" in table.c:
                where = table.c.user_id == user_id
            elif "stat_id" in table.c:
                where = table.c.stat_id.in_(stat_ids or [-1])
            else:
                continue
            counts[table.name] = conn.execute(
                select(func.count()).select_from(table).where(where)).scalar_one()
    return counts


def fill_account(engine: Engine, settings: Settings, browser: Browser) -> list[int]:
    """Give the account something in every kind of table; its stats' ids."""
    account = Account(browser.user, "")
    cpu = make_stat(engine, account, "cpu", "value")
    hits = make_stat(engine, account, "hits", "counter")
    put_points(engine, cpu, [(int(time.time()) - 60, 42.0)])
    now = int(time.time())
    with engine.begin() as conn:
        board = dashboards.create_dashboard(conn, browser.user.id, "ops", now)
        dashboards.add_card(conn, board, "graph", "1d", "", [cpu, hits])
        shares.share_stat(conn, browser.user.id, cpu.id, now)
        shares.share_dashboard(conn, browser.user.id, board.id, now)
        comments.add_comment(conn, browser.user.id, cpu.id, now, "deploy", now)
        alert = alerts.create_alert(conn, browser.user.id, cpu.id, parse_rule(
            {"kind": "value", "time_window": "5m", "operator": "gt", "threshold": "1"}), now)
        alerts.add_event(conn, alert, now, "firing", 42.0, "cpu is 42")
        reports.save_report_settings(conn, browser.user.id, 8, [cpu.id])
        note_new_stat(conn, hits, now)
        create_token(conn, browser.user.id, "script", now)
        outbox.enqueue(conn, compose(settings, browser.user.email, "hello", "hi"), kind="alert",
                       user_id=browser.user.id, now=now)
    return [cpu.id, hits.id]


def test_deleting_an_account_removes_every_row_of_it_and_signs_out_everywhere(
    browser: Callable[[str], Browser], engine: Engine, settings: Settings, web: RunningServer,
) -> None:
    owner, outsider = browser("owner"), browser("outsider")
    owned = fill_account(engine, settings, owner)
    kept = fill_account(engine, settings, outsider)
    before = rows_of(engine, owner.user.id, owned)
    assert all(before[name] for name in ("stats", "stat_minutes", "dashboards", "shares",
                                         "comments", "alerts", "access_tokens", "sessions",
                                         "report_stats", "new_stat_notices", "outbox"))
    with httpx.Client(base_url=web.url, timeout=30) as other_browser:
        assert log_in(other_browser, owner.user.email, PASSWORD).status_code == 303

        wrong = owner.post("/settings/delete", current_password="not it")
        assert wrong.status_code == 401 and "nothing was deleted" in wrong.text
        assert rows_of(engine, owner.user.id, owned)["stats"] == 2

        gone = owner.post("/settings/delete", current_password=PASSWORD)
        assert gone.status_code == 303 and gone.headers["location"] == "/login?done=account_deleted"
        assert "aerie_session" in gone.headers["set-cookie"]  # the cookie is cleared
        assert "all its data are deleted" in owner.get(gone.headers["location"]).text
        signed_out = other_browser.get("/settings", headers={"accept": "text/html"})
        assert signed_out.status_code == 303  # signed out there too

    assert set(rows_of(engine, owner.user.id, owned).values()) == {0}
    with engine.connect() as conn:
        for _resolution, table in ROLLUPS:
            left = conn.execute(select(func.count()).select_from(table)
                                .where(table.c.stat_id.in_(owned))).scalar_one()
            assert left == 0, table.name
        assert conn.execute(select(func.count()).select_from(stats)
                            .where(stats.c.id.in_(kept))).scalar_one() == 2
    assert rows_of(engine, outsider.user.id, kept)["stat_minutes"] == 1
    assert outsider.get("/settings").status_code == 200
    with httpx.Client(base_url=web.url) as fresh:
        assert log_in(fresh, owner.user.email, PASSWORD).status_code == 401
