"""A dashboard reads clean in view mode and changes in edit mode, shows every card over one
timeframe on request, refreshes itself every minute while visible, and says when a card's
stat is in the Trash; on a phone as on a desktop."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from tests.browser.conftest import WAIT_MS
from tests.browser.test_dashboard_browser import (
    log_in,
    sqlite_engine,  # noqa: F401  (fixture)
)
from tests.browser.test_responsive_browser import PHONE, owner_with_data

DESKTOP = {"width": 1280, "height": 900}


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["390", "desktop"])
def test_view_mode_is_clean_and_edit_mode_adds_moves_renames_and_removes(
    page: Page, sqlite_engine: Engine, size: dict[str, int]  # noqa: F811
) -> None:
    email, _, board_id = owner_with_data(sqlite_engine)  # a graph card and a table card
    page.set_viewport_size(size)
    log_in(page, email)
    page.goto(f"/dashboards/{board_id}")
    cards = page.locator("article.card")
    expect(cards).to_have_count(2)
    for tool in ("Remove", "Add card", "Rename"):
        expect(page.get_by_role("button", name=tool)).to_have_count(0)

    page.get_by_role("link", name="Edit").click()
    expect(page).to_have_url(re.compile(r"edit=1"))
    page.get_by_text("Rename").click()
    page.get_by_label("New name").fill("Checkout")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Checkout", level=1)).to_be_visible()
    expect(page).to_have_url(re.compile(r"edit=1"))  # still editing

    page.get_by_label("Kind").select_option("number")
    page.get_by_label("Stat", exact=True).select_option(label="signups")
    page.get_by_role("button", name="Add card").click()
    expect(cards).to_have_count(3)
    last = cards.nth(2)
    last.get_by_role("button", name=re.compile(r" up$")).click()
    expect(cards.nth(1).locator(".figure")).to_have_count(1)  # the number card moved up
    cards.nth(0).get_by_role("button", name=re.compile(r"^Remove")).click()
    expect(cards).to_have_count(2)

    page.get_by_role("link", name="Done").click()
    expect(page.get_by_role("button", name=re.compile(r"^Remove"))).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]


def test_one_timeframe_for_every_card_and_a_refresh_every_minute(
    page: Page, sqlite_engine: Engine  # noqa: F811
) -> None:
    email, _, board_id = owner_with_data(sqlite_engine)
    page.set_viewport_size(PHONE)
    log_in(page, email)
    page.clock.install()
    page.goto(f"/dashboards/{board_id}")
    picker = page.get_by_role("navigation", name="Timeframe for every card")
    picker.get_by_role("link", name="3 hours").click()
    expect(page).to_have_url(re.compile(r"tf=3h"))
    expect(page.locator(".card-head .muted")).to_have_text(["3 hours @ 1 minute"] * 2)
    graph = page.locator("img.card-graph[data-sized]")
    expect(graph).to_have_attribute("src", re.compile(r"tf=3h"))
    page.wait_for_function("() => document.querySelector('img.card-graph').complete",
                           timeout=WAIT_MS)

    assert page.evaluate("document.body.dataset.refreshedAt") is None
    page.clock.run_for(61_000)
    page.wait_for_function("() => document.body.dataset.refreshedAt !== undefined",
                           timeout=WAIT_MS)
    expect(graph).to_have_attribute("src", re.compile(r"[?&]r=\d+"))  # drawn again


def test_a_card_whose_stat_is_in_the_trash_says_so(
    page: Page, sqlite_engine: Engine  # noqa: F811
) -> None:
    email, stat_id, board_id = owner_with_data(sqlite_engine)
    page.set_viewport_size(PHONE)
    log_in(page, email)
    page.goto(f"/stats/{stat_id}")
    page.get_by_role("button", name="Delete").click()
    page.goto(f"/dashboards/{board_id}")
    note = page.locator("article.card").first.locator(".card-trash")
    expect(note).to_contain_text("is in the Trash")
    note.get_by_role("link", name="restore it").click()
    expect(page).to_have_url(re.compile(r"/trash$"))
