"""The Content-Security-Policy holds and breaks nothing: the main pages, used as a
person uses them, raise no policy violation in Chromium (scripts come from /static
only), while a script injected into a page is refused."""

from __future__ import annotations

import secrets
import time

from playwright.sync_api import ConsoleMessage, Page, expect
from sqlalchemy import Engine

from aerie import accounts, dashboards, shares
from tests.browser.conftest import WAIT_MS
from tests.browser.test_dashboard_browser import (
    PASSWORD,
    log_in,
    sqlite_engine,  # noqa: F401  (fixture)
    wait_for_graphs,
)
from tests.browser.test_journey import GRAPH, hover_last_point, wait_for_image
from tests.conftest import Account, hashed, make_stat, put_points

# Every violation the page sees, kept where the test can read it.
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}`));
"""


def violations(page: Page) -> list[str]:
    found: list[str] = page.evaluate("window.__violations")
    return found


def test_the_main_pages_work_under_the_content_security_policy(
    page: Page, sqlite_engine: Engine  # noqa: F811
) -> None:
    email = f"csp-{secrets.token_hex(4)}@example.com"
    now = int(time.time())
    with sqlite_engine.begin() as conn:
        user = accounts.create_user(conn, email, hashed(PASSWORD), now)
    stat = make_stat(sqlite_engine, Account(user, ""), "signups", "counter")
    put_points(sqlite_engine, stat, [(now - 3600 * h, 3 + h) for h in range(24)])
    with sqlite_engine.begin() as conn:
        board = dashboards.create_dashboard(conn, user.id, "Ops", now)
        dashboards.add_card(conn, board, "graph", "1d", "Signups", [stat])
        shares.share_dashboard(conn, user.id, board.id, now)
    console: list[str] = []

    def keep(message: ConsoleMessage) -> None:
        if message.type == "error":
            console.append(message.text)

    page.on("console", keep)
    page.add_init_script(WATCH_VIOLATIONS)
    log_in(page, email)
    seen: dict[str, list[str]] = {"/stats": violations(page)}

    page.goto(f"/stats/{stat.public_id}")
    wait_for_image(page, GRAPH)
    hover_last_point(page)
    expect(page.locator(".graph .tip")).to_be_visible(timeout=WAIT_MS)  # aerie.js ran
    seen["stat page"] = violations(page)

    page.goto(f"/dashboards/{board.public_id}")
    wait_for_graphs(page, 1)
    seen["dashboard"] = violations(page)

    page.goto("/settings")
    page.locator("[data-copy]").first.click()
    seen["settings"] = violations(page)

    for path in ("/sharing", "/alerts", "/compare", "/"):
        page.goto(path)
        seen[path] = violations(page)

    assert all(not found for found in seen.values()), seen
    assert not [text for text in console if "Content Security Policy" in text], console
    # The policy is in force: a script injected into the page does not run.
    page.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "window.__injected = true";
        document.body.append(script);
    }""")
    page.wait_for_function("window.__violations.length > 0", timeout=WAIT_MS)
    assert page.evaluate("window.__injected === undefined")
    assert violations(page)[0].startswith("script-src")
