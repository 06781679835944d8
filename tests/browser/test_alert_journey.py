"""A new user confirms the e-mail, sets an alert, sees its backtest, trips it, and reads the
mail on /dev/mail."""

from __future__ import annotations

import re
import time

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import Stack
from tests.browser.mail import confirm_email
from tests.browser.test_responsive_browser import PHONE, assert_no_sideways_scroll


def sign_up(page: Page, email: str) -> None:
    page.goto("/signup")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Your stats")


def test_an_alert_is_previewed_saved_tripped_and_mailed(page: Page, stack: Stack) -> None:
    email = f"alerts-{time.time_ns()}@example.com"
    sign_up(page, email)
    confirm_email(page, email)  # alert mail goes only to a confirmed address
    now = int(time.time())
    # A week of a quiet counter with one burst three days ago, then the stat page.
    batch = [{"stat": "errors", "count": 2, "t": now - h * 3600} for h in range(1, 24 * 7)]
    batch.append({"stat": "errors", "count": 900, "t": now - 72 * 3600})
    assert httpx.post(f"{stack.api}/ez", json={"ezkey": email, "data": batch}).is_success
    page.goto("/stats")
    page.click("text=errors")

    page.click("summary:has-text('New alert')")  # the form stays closed until asked for
    page.select_option("select[name=time_window]", "1h")
    page.fill("input[name=threshold]", "500")
    page.click("button:has-text('Preview the last 30 days')")
    expect(page.locator(".backtest-summary")).to_contain_text("would have fired 1 time")
    expect(page.locator(".graph.backtest .fired")).to_have_count(1)
    # Tripped before it is saved: the scheduler judges an alert once a minute, so a trip
    # just after a judgement would wait for the next minute; a new alert is judged at once.
    assert httpx.post(f"{stack.api}/ez", data={"ezkey": email, "stat": "errors",
                                                "count": "750"}).is_success
    page.click("button:has-text('Save this alert')")
    expect(page.locator(".flash")).to_contain_text("Alert saved")

    page.goto("/dev/mail")
    deadline = time.monotonic() + 30
    while not page.locator("a:has-text('ALERT: errors')").count():
        assert time.monotonic() < deadline, "no alert mail within 30 s"
        page.wait_for_timeout(1000)
        page.reload()
    page.click("a:has-text('ALERT: errors')")
    expect(page.locator("pre")).to_contain_text("over the last hour, greater than 500")
    frame = page.frame_locator("iframe.mail-body")
    expect(frame.locator("img")).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    page.goto("/alerts")
    expect(page.locator(".state.firing")).to_have_count(1)
    # The history says what became of the mail: sent, not still "queued".
    page.locator("a[href^='/alerts/']").first.click()
    expect(page.locator("table.list tbody tr").first).to_contain_text(
        "sent (to the dev mail page)")

    # On a phone too: the status in sight (each event a block, not a table to scroll
    # sideways), and the history does not scroll sideways.
    history = page.url
    page.set_viewport_size(PHONE)
    assert_no_sideways_scroll(page, history)
    status = page.locator("table.list tbody tr").first.get_by_text("sent (to the dev mail page)")
    expect(status).to_be_visible()
    expect(status).to_be_in_viewport()
