"""Dashboards in a real browser: the owner builds and shares one; a stranger opens the link."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Frame, Page, expect
from sqlalchemy import Engine

from aerie import accounts
from aerie.db import make_engine
from aerie.settings import Settings
from tests.browser.conftest import WAIT_MS, Stack
from tests.conftest import Account, hashed, make_stat, put_points

PASSWORD = "correct horse battery"
CARD_GRAPH = "img.card-graph"


@pytest.fixture
def sqlite_engine(sqlite_database_url: str) -> Iterator[Engine]:
    """The browser stack's database, for making the owner and their data directly."""
    engine = make_engine(Settings(database_url=sqlite_database_url))
    yield engine
    engine.dispose()


def log_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/stats(\?|$)"), timeout=WAIT_MS)


def wait_for_graphs(where: Page | Frame, count: int) -> None:
    """Until ``count`` card graphs are decoded (not merely present)."""
    where.wait_for_function(
        """([selector, count]) => {
             const images = [...document.querySelectorAll(selector)];
             return images.length === count
                    && images.every((img) => img.complete && img.naturalWidth > 0);
           }""",
        arg=[CARD_GRAPH, count],
        timeout=WAIT_MS,
    )


def test_a_shared_dashboard_opens_for_a_logged_out_stranger_with_its_graphs(
    page: Page, chromium: Browser, stack: Stack, sqlite_engine: Engine
) -> None:
    email = f"owner-{secrets.token_hex(4)}@example.com"
    with sqlite_engine.begin() as conn:
        user = accounts.create_user(conn, email, hashed(PASSWORD), int(time.time()))
    signups = make_stat(sqlite_engine, Account(user, ""), "signups", "counter")
    put_points(sqlite_engine, signups, [(int(time.time()) - 60, 3)])
    make_stat(sqlite_engine, Account(user, ""), "load time", "value")

    log_in(page, email)
    page.get_by_role("link", name="Dashboards").click()
    expect(page.get_by_text("No dashboards yet")).to_be_visible()
    page.get_by_label("Dashboard name").fill("Launch day")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="Launch day")).to_be_visible()

    page.get_by_label("Kind").select_option("graph")
    page.get_by_label("Stat", exact=True).select_option(label="signups")
    page.get_by_label("Title (optional)").fill("Signups")
    page.get_by_role("button", name="Add card").click()
    page.get_by_label("Kind").select_option("number")
    page.get_by_label("Stat", exact=True).select_option(label="signups")
    page.get_by_label("Title (optional)").fill("Signups so far")
    page.get_by_role("button", name="Add card").click()
    expect(page.get_by_text("Card added.")).to_be_visible()
    wait_for_graphs(page, 1)

    page.get_by_role("button", name="Share").click()
    link = page.locator("a[data-share-link]").get_attribute("href")
    assert link and link.startswith("/d/")
    key = link.removeprefix("/d/")

    stranger: BrowserContext = chromium.new_context(base_url=stack.web)
    try:
        visitor = stranger.new_page()
        visitor.set_default_timeout(WAIT_MS)
        visitor.goto(link)
        expect(visitor.get_by_role("heading", name="Launch day")).to_be_visible()
        expect(visitor.get_by_role("heading", name="Signups", exact=True)).to_be_visible()
        expect(visitor.get_by_role("heading", name="Signups so far")).to_be_visible()
        expect(visitor.locator(".figure .big")).to_have_text("3")
        wait_for_graphs(visitor, 1)
        assert visitor.locator("form").count() == 0
        assert email not in visitor.content()

        # The embed page works inside another site's iframe.
        visitor.set_content(
            f'<iframe src="{stack.web}/embed/dashboard/{key}" width="900" height="700"></iframe>'
        )
        frame = visitor.frame_locator("iframe").locator("h1")
        expect(frame).to_have_text("Launch day")
        embedded = next(f for f in visitor.frames if "/embed/dashboard/" in f.url)
        wait_for_graphs(embedded, 1)
    finally:
        stranger.close()

    page.get_by_role("button", name="Revoke link").click()
    expect(page.get_by_role("button", name="Share")).to_be_visible()
    answer = page.request.get(link)
    assert answer.status == 410
