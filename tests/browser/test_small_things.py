"""The small things a new user trips on, in Chromium at desktop and phone sizes: error pages
that keep the header, a favicon, a word after logging out, log-in errors as sentences, a
backtest that says when nothing fired, and a table embed whose last row shows whole."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect
from sqlalchemy import Engine

from aerie.db import make_engine
from aerie.settings import Settings
from tests.browser.conftest import WAIT_MS, Stack
from tests.browser.navigation import log_out
from tests.browser.test_embed_browser import blog, blog_post, shared_stat
from tests.browser.test_journey import PASSWORD, new_email, sign_up

__all__ = ["blog"]  # the fixture, imported to be used here

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


@pytest.fixture(params=list(SIZES))
def page(context: BrowserContext, request: pytest.FixtureRequest) -> Page:
    """A page at desktop size, then at a phone's 390x844."""
    width, height = SIZES[request.param]
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": height})
    return page


@pytest.fixture
def db(sqlite_database_url: str) -> Iterator[Engine]:
    engine = make_engine(Settings(database_url=sqlite_database_url))
    yield engine
    engine.dispose()


def test_an_error_page_keeps_the_signed_in_header_and_navigation(page: Page) -> None:
    email = new_email("lost")
    sign_up(page, email)

    answer = page.goto("/stats/NoSuchStat00")

    assert answer is not None and answer.status == 404
    expect(page.locator("h1")).to_have_text("Not found")
    expect(page.locator("main")).to_contain_text("No stat with id")
    expect(page.locator("header .who")).to_contain_text(email)
    expect(page.locator("header nav a[href='/stats']")).to_have_count(1)
    expect(page.locator("header nav a[href='/dashboards']")).to_have_count(1)
    expect(page.locator("header .who button", has_text="Log out")).to_have_count(1)


def test_every_page_has_a_favicon(page: Page, stack: Stack) -> None:
    page.goto("/login")

    href = page.locator("link[rel=icon]").get_attribute("href")

    assert href is not None
    icon = httpx.get(stack.web + href)
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in icon.content


def test_logging_out_says_so_and_log_in_errors_are_sentences(page: Page) -> None:
    email = new_email("leaver")
    sign_up(page, email)

    log_out(page)

    expect(page).to_have_url(re.compile(r"/login"), timeout=WAIT_MS)
    expect(page.locator(".flash")).to_have_text("You are logged out.")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD + " wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".flash.error")).to_have_text(
        re.compile(r"^That e-mail and password do not match"))


def test_a_backtest_with_no_firings_says_so_plainly(page: Page, stack: Stack) -> None:
    email = new_email("calm")
    sign_up(page, email)
    now = int(time.time())
    batch = [{"stat": "calm", "count": 2, "t": now - h * 3600} for h in range(1, 48)]
    assert httpx.post(f"{stack.api}/ez", json={"ezkey": email, "data": batch}).is_success
    page.goto("/stats")
    page.get_by_role("link", name="calm").first.click()

    page.click("summary:has-text('New alert')")  # the form stays closed until asked for
    page.select_option("select[name=time_window]", "1h")
    page.fill("input[name=threshold]", "500")
    page.click("button:has-text('Preview the last 30 days')")

    expect(page.locator(".backtest-summary")).to_contain_text(
        "No firings: over the last 30 days this alert would never have fired.")


def test_a_table_embed_shows_its_last_row_whole(
    page: Page, stack: Stack, db: Engine, blog: tuple[Path, str]
) -> None:
    folder, blog_url = blog
    _owner, key = shared_stat(db, "orders")
    (folder / "table.html").write_text(blog_post(
        stack.web, f"StatHatEmbed.render_table({{s1: '{key}', tf: 'day', refresh: 0}});"))

    page.goto(f"{blog_url}/table.html")
    table = page.locator(".stathat-embed-table")
    expect(table.locator("tbody tr")).not_to_have_count(0, timeout=WAIT_MS)

    # No row is cut by the box's lower edge, as it opens and scrolled to its end.
    cut_rows = table.evaluate("""box => {
        const cut = () => {
            const bottom = box.getBoundingClientRect().top + box.clientTop + box.clientHeight;
            return [...box.querySelectorAll("tbody tr")].filter(row => {
                const r = row.getBoundingClientRect();
                return r.top < bottom - 0.5 && r.bottom > bottom + 0.5;
            }).length;
        };
        const opened = cut();
        box.scrollTop = box.scrollHeight;
        return [opened, cut(), box.scrollHeight > box.clientHeight];
    }""")
    assert cut_rows == [0, 0, True]  # and the box does scroll: 48 rows do not fit
