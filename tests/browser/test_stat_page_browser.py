"""The stat page read at a glance, on a phone and a desktop: it opens on a timeframe that
shows a new stat's data, sparse values draw lines with the period before, the summary sits
under the graph, the alert form opens on request with only its kind's fields, the backtest
draws its threshold, and a bad timeframe is said on the page itself."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from aerie import accounts
from tests.browser.conftest import WAIT_MS
from tests.browser.test_dashboard_browser import (
    log_in,
    sqlite_engine,  # noqa: F401  (fixture)
)
from tests.browser.test_responsive_browser import PHONE, TABLET, owner_with_data
from tests.conftest import Account, make_stat, put_points

LONE_DOT = 'style="fill: #2563eb; stroke: #2563eb"'  # app_servers.charts' marker for lone points
DESKTOP = {"width": 1280, "height": 900}


def svg_of(page: Page) -> str:
    """The SVG the page's own download link serves."""
    answer = page.request.get(page.get_by_role("link", name="SVG").get_attribute("href") or "")
    assert answer.ok, answer.status
    return answer.text()


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["390", "desktop"])
def test_a_new_stat_opens_on_its_hour_drawn_as_a_line_with_the_summary_below(
    page: Page, sqlite_engine: Engine, size: dict[str, int]  # noqa: F811
) -> None:
    email, stat_id, _ = owner_with_data(sqlite_engine)  # a value every 5 min for a day
    with sqlite_engine.begin() as conn:
        owner = accounts.user_by_email(conn, email)
        assert owner is not None
    now = int(time.time())
    fresh = make_stat(sqlite_engine, Account(owner, ""), "queue depth", "value")
    put_points(sqlite_engine, fresh, [(now - 300 * i, 40.0 + i) for i in range(8)])
    page.set_viewport_size(size)
    log_in(page, email)

    page.goto(f"/stats/{fresh.public_id}")  # forty minutes old: opens on its hour
    timeframes = page.get_by_role("navigation", name="Timeframe")
    expect(timeframes.locator("a.current")).to_have_text("1 hour")
    expect(page.locator("#summary dd").first).to_have_text("40")
    assert LONE_DOT not in svg_of(page)  # joined into a line, not eight dots

    page.goto(f"/stats/{stat_id}?tf=1h")
    drawing = svg_of(page)
    assert LONE_DOT not in drawing
    assert "stroke-dasharray" in drawing  # the hour before, dashed and joined too

    summary = page.locator("#summary")
    expect(summary.locator("dd").first).not_to_have_text("—")
    graph_box = page.locator(".graph[data-graph]").bounding_box()
    summary_box = summary.bounding_box()
    comments_box = page.get_by_role("heading", name="Comments").bounding_box()
    assert graph_box and summary_box and comments_box
    assert graph_box["y"] + graph_box["height"] < summary_box["y"] < comments_box["y"]


@pytest.mark.parametrize("size", [PHONE, TABLET], ids=["390", "768"])
def test_the_alert_form_opens_on_request_with_only_its_kinds_fields(
    page: Page, sqlite_engine: Engine, size: dict[str, int]  # noqa: F811
) -> None:
    email, stat_id, _ = owner_with_data(sqlite_engine)
    page.set_viewport_size(size)
    log_in(page, email)
    page.goto(f"/stats/{stat_id}")
    threshold, percentage = page.get_by_label("Threshold"), page.get_by_label("Percentage")
    expect(threshold).to_be_hidden()
    page.get_by_text("New alert").click()
    expect(threshold).to_be_visible()
    expect(percentage).to_be_hidden()
    page.get_by_label("Kind").select_option("delta")
    expect(percentage).to_be_visible()
    expect(threshold).to_be_hidden()
    expect(page.get_by_label("Compared with")).to_be_visible()
    page.get_by_label("Kind").select_option("data")
    for field in (threshold, percentage, page.get_by_label("Operator")):
        expect(field).to_be_hidden()

    page.get_by_label("Kind").select_option("value")
    threshold.fill("104")
    page.get_by_role("button", name="Preview the last 30 days").click()
    expect(page.locator(".backtest-summary")).to_be_visible(timeout=WAIT_MS)
    image = page.locator(".graph.backtest img[data-sized]")
    expect(image).to_have_attribute("src", re.compile(r"threshold=104"))
    svg = page.request.get((image.get_attribute("data-src") or "").replace(".png", ".svg"))
    assert 'id="threshold"' in svg.text()  # the line the rule is tested against


def test_a_bad_timeframe_is_said_on_the_page_which_stays(
    page: Page, sqlite_engine: Engine  # noqa: F811
) -> None:
    email, stat_id, _ = owner_with_data(sqlite_engine)
    page.set_viewport_size(PHONE)
    log_in(page, email)
    answer = page.goto(f"/stats/{stat_id}?tf=bogus")
    assert answer is not None and answer.status == 400
    expect(page.locator(".flash.error")).to_contain_text("Timeframe 'bogus' is not understood")
    expect(page.get_by_role("heading", name="checkout latency")).to_be_visible()
    expect(page.locator(".graph[data-graph] img[data-sized]")).to_be_visible()
    assert page.request.get(f"/stats/{stat_id}.json?tf=bogus").status == 400

    answer = page.goto(f"/compare?ids={stat_id}&tf=2x")
    assert answer is not None and answer.status == 400
    expect(page.locator(".flash.error")).to_contain_text("Timeframe '2x' is not understood")
    expect(page.get_by_label("Stat 1")).to_be_visible()
