"""Compare with labelled pickers, a normalised scale when units differ, and hover read-outs
for every stat; dashboard graph cards read out on hover too; at 390 px and on a desktop."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from aerie import accounts
from aerie.stat_details import save_details
from aerie.stats import owned_stat
from tests.browser.conftest import WAIT_MS
from tests.browser.test_dashboard_browser import (
    log_in,
    sqlite_engine,  # noqa: F401  (fixture)
)
from tests.browser.test_responsive_browser import PHONE, owner_with_data

DESKTOP = {"width": 1280, "height": 900}
LATENCY = "checkout latency at the payment gateway (p95)"


def hover_middle(page: Page, graph: str) -> str:
    """Move over the middle of the graph's plot; the read-out's text."""
    page.wait_for_function(
        "sel => { const i = document.querySelector(sel + ' img[data-sized]');"
        " return i && i.complete && i.naturalWidth > 0; }", arg=graph, timeout=WAIT_MS)
    page.locator(f"{graph} img[data-sized]").scroll_into_view_if_needed()
    box = page.locator(f"{graph} img[data-sized]").bounding_box()
    assert box
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5)
    tip = page.locator(f"{graph} .tip")
    expect(tip).to_be_visible()
    return tip.inner_text()


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["390", "desktop"])
def test_compare_normalises_stats_in_different_units_and_reads_each_out(
    page: Page, sqlite_engine: Engine, size: dict[str, int]  # noqa: F811
) -> None:
    email, stat_id, _ = owner_with_data(sqlite_engine)
    with sqlite_engine.begin() as conn:
        owner = accounts.user_by_email(conn, email)
        assert owner is not None
        save_details(conn, owned_stat(conn, owner.id, stat_id), unit="ms")
    page.set_viewport_size(size)
    log_in(page, email)
    page.goto("/compare")
    page.get_by_label("Stat 1").select_option(label=f"{LATENCY} (ms)")
    page.get_by_label("Stat 2").select_option(label="signups")
    page.get_by_label("Timeframe").fill("1d")
    page.get_by_role("button", name="Compare").click()

    expect(page.get_by_label("Scale")).to_have_value("")
    expect(page.locator("main")).to_contain_text("each stat as a percentage of its largest value")
    image = page.locator(".graph img[data-sized]")
    expect(image).to_have_attribute("src", re.compile(r"norm=1"))
    readout = hover_middle(page, ".graph[data-graph]")
    assert re.search(r"checkout latency .*: [\d.]+ ms · signups: \d", readout), readout
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= size["width"]

    page.get_by_label("Scale").select_option("0")
    page.get_by_role("button", name="Compare").click()
    expect(image).not_to_have_attribute("src", re.compile(r"norm=1"))


def test_dashboard_graph_cards_read_out_on_hover(
    page: Page, sqlite_engine: Engine  # noqa: F811
) -> None:
    email, _, board_id = owner_with_data(sqlite_engine)
    page.set_viewport_size(PHONE)
    log_in(page, email)
    page.goto(f"/dashboards/{board_id}")
    readout = hover_middle(page, ".card-graph-box")
    assert re.search(r"· checkout latency .*: 10\d(\.\d+)?$", readout), readout  # 100-106
