"""Units, descriptions and tags, set on a stat's page or through /x/ and /a1/, and a stat
list that filters, sorts and pages through thousands of stats, on a phone and a desktop."""

from __future__ import annotations

import re
import secrets
import time

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from aerie import accounts
from aerie.stat_details import save_details
from aerie.stats import create_stat
from tests.browser.conftest import WAIT_MS, Stack
from tests.browser.test_dashboard_browser import (
    PASSWORD,
    log_in,
    sqlite_engine,  # noqa: F401  (fixture)
)
from tests.browser.test_responsive_browser import PHONE, owner_with_data
from tests.conftest import hashed, put_points

DESKTOP = {"width": 1280, "height": 900}


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["390", "desktop"])
def test_a_unit_description_and_tags_set_on_the_page_show_everywhere_on_it(
    page: Page, sqlite_engine: Engine, size: dict[str, int]  # noqa: F811
) -> None:
    email, stat_id, _ = owner_with_data(sqlite_engine)
    page.set_viewport_size(size)
    log_in(page, email)
    page.goto(f"/stats/{stat_id}")
    page.get_by_text("Unit, description, tags").click()
    page.get_by_label("Unit").fill("ms")
    page.get_by_label("Description").fill("95th percentile at the payment gateway")
    page.get_by_label("Tags").fill("checkout, payments")
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.locator(".flash")).to_contain_text("saved", timeout=WAIT_MS)
    expect(page.locator("p.description")).to_have_text("95th percentile at the payment gateway")
    expect(page.locator("#summary dd").first).to_have_text(re.compile(r" ms$"))
    svg = page.request.get(page.get_by_role("link", name="SVG").get_attribute("href") or "")
    assert ">ms<" in svg.text()  # the y axis says its unit

    page.locator(".tags").get_by_role("link", name="payments").click()
    expect(page).to_have_url(re.compile(r"/stats\?tag=payments$"))
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("95th percentile at the payment gateway")
    expect(rows.first.locator("td.num")).to_have_text(re.compile(r" ms$"))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= size["width"]


def test_bad_details_are_refused_saying_what_to_fix(
    page: Page, sqlite_engine: Engine  # noqa: F811
) -> None:
    email, stat_id, _ = owner_with_data(sqlite_engine)
    log_in(page, email)
    answer = page.request.post(f"/stats/{stat_id}/details", form={
        "csrf": page.locator("input[name=csrf]").first.get_attribute("value") or "",
        "unit": "x" * 40})
    assert answer.status == 400
    assert "Unit is 40 characters; the limit is 32" in answer.text()
    assert 'class="stat-details"' in answer.text()  # the stat page, its form there again


def test_details_are_set_through_the_export_and_a1_apis_leaving_the_rest_alone(
    stack: Stack, sqlite_engine: Engine  # noqa: F811
) -> None:
    now = int(time.time())
    with sqlite_engine.begin() as conn:
        user = accounts.create_user(conn, f"api-{secrets.token_hex(4)}@example.com", None, now)
        token = accounts.create_token(conn, user.id, "tests", now).token
        stat = create_stat(conn, user.id, "temperature", "value", now)

    answer = httpx.post(f"{stack.web}/x/{token}/stats/{stat.public_id}",
                        data={"unit": "°C", "tags": "office, sensors"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["unit"] == "°C" and answer.json()["tags"] == ["office", "sensors"]

    answer = httpx.post(f"{stack.web}/a1/stats/{stat.public_id}", auth=(token, ""),
                        data={"description": "the office thermometer"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["unit"] == "°C" and body["tags"] == ["office", "sensors"]  # untouched
    assert body["description"] == "the office thermometer"

    listed = httpx.get(f"{stack.web}/x/{token}/statlist").json()
    assert listed[0]["unit"] == "°C"  # the export's stat objects carry it, as StatHat's did
    assert httpx.post(f"{stack.web}/x/{token}/stats/{stat.public_id}").status_code == 400
    assert httpx.post(f"{stack.web}/x/nope/stats/{stat.public_id}",
                      data={"unit": "K"}).status_code == 404


def test_the_list_sorts_filters_and_pages_through_thousands_of_stats(
    page: Page, sqlite_engine: Engine  # noqa: F811
) -> None:
    now = int(time.time())
    email = f"many-{secrets.token_hex(4)}@example.com"
    with sqlite_engine.begin() as conn:
        user = accounts.create_user(conn, email, hashed(PASSWORD), now)
        made = [create_stat(conn, user.id, f"metric {i:04d}", "value", now) for i in range(2100)]
        save_details(conn, made[7], tags=["edge"])
        save_details(conn, made[1500], tags=["edge"])
    put_points(sqlite_engine, made[1999], [(now - 60, 99_000.0)])  # the largest latest value
    put_points(sqlite_engine, made[3], [(now - 60, 5.0)])

    page.set_viewport_size(PHONE)
    log_in(page, email)
    page.goto("/stats")
    expect(page.locator(".list-count")).to_contain_text("2100 stats · page 1 of 21")
    expect(page.locator("table.list tbody tr").first).to_contain_text("metric 0000")
    page.get_by_role("link", name="Next →").click()
    expect(page.locator("table.list tbody tr").first).to_contain_text("metric 0100")

    page.get_by_label("Sort by").select_option("recent")
    page.get_by_role("button", name="Show").click()
    first = page.locator("table.list tbody tr").first
    expect(first).to_contain_text(re.compile(r"metric (1999|0003)"))

    page.get_by_label("Tag").select_option("edge")
    page.get_by_label("Search stats by name").fill("")
    page.get_by_label("Sort by").select_option("name")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("table.list tbody tr")).to_have_count(2)
    expect(page.locator("table.list tbody tr").nth(1)).to_contain_text("metric 1500")

    page.goto("/stats?q=metric%2019&sort=value")
    expect(page.locator("table.list tbody tr").first).to_contain_text("metric 1999")
    expect(page.locator("table.list tbody tr").first.locator("td.num")).to_have_text("99k")


def test_aerie_s_own_stats_are_grouped_by_the_role_recording_them(
    page: Page, sqlite_engine: Engine  # noqa: F811
) -> None:
    now = int(time.time())
    email = f"system-{secrets.token_hex(4)}@example.com"
    with sqlite_engine.begin() as conn:
        user = accounts.create_user(conn, email, hashed(PASSWORD), now)
        for name in ("aerie web requests /stats", "aerie api requests /ez",
                     "aerie api latency ms /ez", "aerie scheduler ticks"):
            create_stat(conn, user.id, name, "counter", now)
    page.set_viewport_size(PHONE)
    log_in(page, email)
    page.goto("/stats")
    expect(page.locator("tr.group")).to_have_text(["api", "scheduler", "web"])
    api_rows = page.locator("tr.group:has-text('api') ~ tr:not(.group)")
    expect(api_rows.first).to_contain_text("aerie api latency ms /ez")
