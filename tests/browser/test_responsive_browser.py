"""Phones and tablets: at 390 and 768 px no page scrolls sideways, the sections open from a
Menu button, wide tables scroll inside their cards and Copy buttons sit beside the code."""

from __future__ import annotations

import secrets
import time

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from aerie import accounts, dashboards, shares
from tests.browser.conftest import WAIT_MS
from tests.browser.test_dashboard_browser import (
    PASSWORD,
    log_in,
    sqlite_engine,  # noqa: F401  (fixture)
)
from tests.conftest import Account, hashed, make_stat, put_points

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 768, "height": 1024}
DESKTOP = {"width": 1280, "height": 900}
SECTIONS = ("Stats", "Compare", "Dashboards", "Alerts", "Reports", "Trash", "Sharing", "Settings")


def owner_with_data(engine: Engine) -> tuple[str, str, str]:
    """An account with a value stat (posted every 5 minutes for a day, under a long name),
    a counter and a dashboard of a graph and a table card; returns its e-mail, the stat's id and the dashboard's id."""
    email = f"phone-{secrets.token_hex(4)}@example.com"
    now = int(time.time())
    with engine.begin() as conn:
        user = accounts.create_user(conn, email, hashed(PASSWORD), now)
    owner = Account(user, "")
    latency = make_stat(engine, owner, "checkout latency at the payment gateway (p95)", "value")
    put_points(engine, latency, [(now - 300 * i, 100.0 + i % 7) for i in range(288)])
    signups = make_stat(engine, owner, "signups", "counter")
    put_points(engine, signups, [(now - 900 * i, 3.0) for i in range(96)])
    with engine.begin() as conn:
        board = dashboards.create_dashboard(conn, user.id, "Launch day", now)
        dashboards.add_card(conn, board, "graph", "1d", "", [latency])
        dashboards.add_card(conn, board, "table", "1h", "", [latency, signups])
    return email, latency.public_id, board.public_id


def assert_no_sideways_scroll(page: Page, path: str) -> None:
    page.goto(path)
    page.wait_for_load_state("networkidle")
    width, viewport = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= viewport, f"{path} is {width} px wide in a {viewport} px window"


@pytest.mark.parametrize("size", [PHONE, TABLET], ids=["390", "768"])
def test_no_page_scrolls_sideways_on_phones_and_tablets(
    page: Page, sqlite_engine: Engine, size: dict[str, int]  # noqa: F811
) -> None:
    email, stat_id, board_id = owner_with_data(sqlite_engine)
    page.set_viewport_size(size)
    for path in ("/", "/login", "/signup"):
        assert_no_sideways_scroll(page, path)
    log_in(page, email)
    for path in ("/stats", f"/stats/{stat_id}", f"/compare?ids={stat_id}", "/dashboards",
                 f"/dashboards/{board_id}", "/alerts", "/reports", "/trash", "/sharing",
                 "/settings"):
        assert_no_sideways_scroll(page, path)


def owner_with_long_words(engine: Engine) -> tuple[str, str, str, str]:
    """An account whose stat name, dashboard name, card titles and token label are long
    words with no space to break at; returns its e-mail, the stat's and the dashboard's
    ids and the dashboard's share key."""
    email = f"words-{secrets.token_hex(4)}@example.com"
    now = int(time.time())
    with engine.begin() as conn:
        user = accounts.create_user(conn, email, hashed(PASSWORD), now)
        accounts.create_token(conn, user.id, "T" * 100, now)
    owner = Account(user, "")
    long_stat = make_stat(engine, owner, "checkout.latency." + "p" * 230, "value")
    put_points(engine, long_stat, [(now - 300 * i, 100.0 + i % 7) for i in range(48)])
    signups = make_stat(engine, owner, "signups", "counter")
    with engine.begin() as conn:
        board = dashboards.create_dashboard(conn, user.id, "B" * 255, now)
        for kind in ("graph", "number", "table"):
            dashboards.add_card(conn, board, kind, "1d", kind[0].upper() * 200,
                                [long_stat, signups])
        key = shares.share_dashboard(conn, user.id, board.id, now).key
    return email, long_stat.public_id, board.public_id, key


@pytest.mark.parametrize("size", [PHONE, TABLET, DESKTOP], ids=["390", "768", "1280"])
def test_long_unbroken_names_titles_and_labels_scroll_no_page_sideways(
    page: Page, sqlite_engine: Engine, size: dict[str, int]  # noqa: F811
) -> None:
    email, stat_id, board_id, key = owner_with_long_words(sqlite_engine)
    page.set_viewport_size(size)
    for path in (f"/d/{key}", f"/embed/dashboard/{key}"):
        assert_no_sideways_scroll(page, path)
    log_in(page, email)
    for path in ("/stats", f"/stats/{stat_id}", "/dashboards", f"/dashboards/{board_id}",
                 "/sharing", "/settings", f"/stats/{stat_id}/alerts/new"):
        assert_no_sideways_scroll(page, path)

    page.goto("/settings")  # the long label wraps: Revoke stays on its card
    panel = page.locator(".panel", has=page.get_by_role("button", name="Revoke"))
    revoke, card = panel.get_by_role("button", name="Revoke").bounding_box(), panel.bounding_box()
    assert revoke and card
    assert revoke["x"] + revoke["width"] <= card["x"] + card["width"], "Revoke is off its card"
    assert revoke["x"] + revoke["width"] <= size["width"]

    page.goto("/stats")  # the long name wraps: the list's other columns stay in sight
    row = page.locator("table.list tbody tr", has_text="checkout.latency")
    kind = row.locator("td").nth(1).bounding_box()
    assert kind and kind["x"] + kind["width"] <= size["width"], "the columns are off the screen"


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["390", "1280"])
def test_a_long_address_echoed_in_an_error_wraps_in_its_box(
    page: Page, size: dict[str, int]
) -> None:
    page.set_viewport_size(size)
    page.goto("/signup")
    page.fill("#email", "x" * 240 + "@nowhere")  # no dot: refused, and said back
    page.fill("#password", "long enough password")
    page.get_by_role("button", name="Sign up").click()
    flash = page.locator(".flash.error")
    expect(flash).to_contain_text("does not look like an e-mail address")
    box = flash.bounding_box()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert box and box["x"] + box["width"] <= size["width"] and width <= size["width"]


def test_the_menu_button_opens_every_section_on_a_phone(
    page: Page, sqlite_engine: Engine  # noqa: F811
) -> None:
    email, _, _ = owner_with_data(sqlite_engine)
    page.set_viewport_size(PHONE)
    log_in(page, email)
    nav = page.get_by_role("navigation", name="Sections")
    expect(nav).to_be_hidden()
    menu = page.get_by_role("button", name="Menu")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    for section in SECTIONS:
        expect(nav.get_by_role("link", name=section, exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    nav.get_by_role("link", name="Dashboards").click()
    expect(page.get_by_role("heading", name="Dashboards")).to_be_visible(timeout=WAIT_MS)

    page.set_viewport_size({"width": 1280, "height": 900})  # on a desktop, no button
    expect(menu).to_be_hidden()
    expect(nav.get_by_role("link", name="Settings")).to_be_visible()


def test_tables_scroll_inside_their_cards_and_copy_buttons_leave_code_readable(
    page: Page, sqlite_engine: Engine  # noqa: F811
) -> None:
    email, stat_id, _ = owner_with_data(sqlite_engine)
    page.set_viewport_size(PHONE)
    log_in(page, email)
    page.goto("/stats")
    box = page.locator(".table-scroll").first
    inner, outer = box.evaluate("b => [b.scrollWidth, b.clientWidth]")
    assert inner > outer  # the table is wider than the phone: it scrolls in its card
    assert box.evaluate("b => getComputedStyle(b).overflowX") == "auto"

    page.goto(f"/stats/{stat_id}")
    copies = page.locator(".copy:visible")
    assert copies.count() >= 1
    for i in range(copies.count()):
        code = copies.nth(i).locator("pre").bounding_box()
        button = copies.nth(i).get_by_role("button", name="Copy").bounding_box()
        assert code and button
        assert button["x"] >= code["x"] + code["width"], "the Copy button covers the code"
        assert button["x"] + button["width"] <= PHONE["width"]
