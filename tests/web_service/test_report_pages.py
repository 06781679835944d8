"""The daily report page: choose stats and an hour, see yesterday's report as it would come."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from tests.conftest import Account, make_stat, put_points
from tests.web_service.conftest import Browser


def account(browser: Browser) -> Account:
    return Account(browser.user, "")


def test_choosing_stats_and_an_hour_shows_yesterdays_figures(
    owner_browser: Browser, engine: Engine
) -> None:
    orders = make_stat(engine, account(owner_browser), "orders", "counter")
    make_stat(engine, account(owner_browser), "unused", "counter")
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = int((today - timedelta(days=1)).timestamp())
    put_points(engine, orders, [(yesterday + 3600, 40), (yesterday + 7200, 2)])

    empty = owner_browser.json("/reports.json").json()
    saved = owner_browser.post("/reports", hour="7", **{f"stat_{orders.public_id}": "1"})
    page = owner_browser.get("/reports")
    twin = owner_browser.json("/reports.json").json()

    assert empty["hour"] is None and empty["stats"] == []
    assert saved.status_code == 303
    assert twin["hour"] == 7 and twin["stats"] == [orders.public_id]
    assert twin["yesterday"][0]["value"] == 42
    assert "Yesterday" in page.text and "42" in page.text


def test_a_bad_report_choice_says_what_to_fix_and_saves_nothing(
    owner_browser: Browser, outsider_browser: Browser, engine: Engine
) -> None:
    stat = make_stat(engine, account(owner_browser), "visits", "counter")

    no_stats = owner_browser.post("/reports", hour="7")
    bad_hour = owner_browser.post("/reports", hour="25", **{f"stat_{stat.public_id}": "1"})
    theirs = outsider_browser.post("/reports", hour="7", **{f"stat_{stat.public_id}": "1"})

    assert no_stats.status_code == 400 and "at least one stat" in no_stats.text
    assert bad_hour.status_code == 400 and "0 to 23" in bad_hour.text
    assert theirs.status_code == 404  # another user's stat cannot go in a report
    assert owner_browser.json("/reports.json").json()["hour"] is None
    assert outsider_browser.json("/reports.json").json()["stats"] == []
