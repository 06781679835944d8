"""A new user's first visit, in a real browser: sign up, send data, read graphs, share, leave.

The journey is one test because each step needs what the one before made (the
account, the stat, the token); the helpers keep each step readable as what a
person does. The curl example the empty page shows is run for real, so the page
and the live API must agree on where and how to post.
"""

from __future__ import annotations

import re
import secrets
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from urllib.parse import parse_qs

import httpx
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from tests.browser.conftest import BROWSER_TIMEZONE, WAIT_MS, Stack
from tests.servers import RunningServer, serve

PASSWORD = "correct horse battery"
GRAPH = ".graph[data-graph] img"


def new_email(name: str) -> str:
    return f"{name}-{secrets.token_hex(4)}@example.com"


def sign_up(page: Page, email: str) -> None:
    """From the landing page through the sign-up form, as a visitor does."""
    page.goto("/")
    page.get_by_role("link", name="Create an account").click()
    expect(page).to_have_url(re.compile(r"/signup$"), timeout=WAIT_MS)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    # The form guesses the browser's own zone rather than leaving UTC.
    expect(page.get_by_label("Time zone")).to_have_value(BROWSER_TIMEZONE, timeout=WAIT_MS)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/stats(\?|$)"), timeout=WAIT_MS)


def run_example(command: str) -> str:
    """Run the page's ``curl -d "..." URL`` as a person would; returns the ezkey it posts with.

    With no curl on the machine, the same request is sent with httpx.
    """
    argv = shlex.split(command)
    assert argv[0] == "curl" and argv[1] == "-d" and len(argv) == 4, command
    body, url = argv[2], argv[3]
    if shutil.which("curl"):
        done = subprocess.run(
            ["curl", "--silent", "--show-error", "--fail", "--max-time", "10", *argv[1:]],
            capture_output=True, text=True, timeout=20, check=False,
        )
        assert done.returncode == 0, f"{command} failed: {done.stderr}{done.stdout}"
    else:
        answer = httpx.post(url, content=body, timeout=10,
                            headers={"content-type": "application/x-www-form-urlencoded"})
        assert answer.is_success, answer.text
    return parse_qs(body)["ezkey"][0]


def post_ez(api: str, ezkey: str, stat: str, **point: float) -> None:
    answer = httpx.post(f"{api}/ez", data={"ezkey": ezkey, "stat": stat, **point}, timeout=10)
    assert answer.is_success, answer.text  # 200 {"status":200,"msg":"ok"}: stored


def wait_for_image(page: Page, selector: str, src_part: str = "") -> None:
    """Until the image is decoded (not merely present), and its address contains ``src_part``."""
    page.wait_for_function(
        """([selector, part]) => {
             const img = document.querySelector(selector);
             return img !== null && img.src.includes(part) && img.complete && img.naturalWidth > 0;
           }""",
        arg=[selector, src_part],
        timeout=WAIT_MS,
    )


def hover_last_point(page: Page) -> float:
    """Move the mouse over the graph's last point with data; returns that point's value.

    The x position is worked out the way static/aerie.js maps pixels to time, from
    the plot area and frame bounds the page carries.
    """
    where = page.eval_on_selector(
        "[data-graph]",
        """box => {
             const img = box.querySelector("img").getBoundingClientRect();
             const [x0, y0, x1, y1] = JSON.parse(box.dataset.plotArea);
             const points = JSON.parse(box.dataset.points);
             const first = Number(box.dataset.first), end = Number(box.dataset.end);
             const step = points.length > 1 ? points[1][0] - points[0][0] : end - first;
             const last = points.filter((p) => p[1] !== null).pop();
             const fx = x0 + ((last[0] + step / 2 - first) / (end - first)) * (x1 - x0);
             return {x: img.left + fx * img.width, y: img.top + ((y0 + y1) / 2) * img.height,
                     value: last[1]};
           }""",
    )
    page.mouse.move(where["x"], where["y"])
    return float(where["value"])


def summary_value(page: Page, term: str) -> Locator:
    return page.locator("dl.summary div", has=page.locator("dt", has_text=term)).locator("dd")


def test_a_new_user_signs_up_sends_data_reads_graphs_shares_and_logs_out(
    page: Page, stack: Stack
) -> None:
    # 1. Sign up: the empty list explains how to send the first point.
    sign_up(page, new_email("journey"))
    empty = page.locator(".empty")
    expect(empty.get_by_role("heading", name="No stats yet")).to_be_visible(timeout=WAIT_MS)
    example = empty.locator("pre").inner_text().strip()
    assert example.startswith("curl -d ") and example.endswith(f" {stack.api}/ez"), example

    # 2. The copy-paste example works as printed; then a few more points, and a value stat.
    ezkey = run_example(example)
    for count in (2, 3, 4):
        post_ez(stack.api, ezkey, "hello", count=count)
    for milliseconds in (120, 80):
        post_ez(stack.api, ezkey, "latency", value=milliseconds)

    # 3. The list shows the stat with a sparkline; its page has the graph, total and hover.
    page.reload()
    hello_row = page.locator("tr", has=page.get_by_role("link", name="hello", exact=True))
    expect(hello_row.locator("svg.spark")).to_be_visible(timeout=WAIT_MS)
    hello_row.get_by_role("link", name="hello", exact=True).click()
    expect(page).to_have_url(re.compile(r"/stats/[^/?]+$"), timeout=WAIT_MS)
    wait_for_image(page, GRAPH, "tf=1h")  # a new stat opens on its hour
    expect(summary_value(page, "Total")).to_have_text("10", timeout=WAIT_MS)
    value = hover_last_point(page)
    tip = page.locator(".graph .tip")
    expect(tip).to_be_visible(timeout=WAIT_MS)
    assert value > 0
    expect(tip).to_have_text(re.compile(rf" · {value:g}$"), timeout=WAIT_MS)

    # 4. Timeframes: a tab, then any StatHat timeframe typed in.
    page.get_by_role("navigation", name="Timeframe").get_by_role("link", name="1 day").click()
    expect(page).to_have_url(re.compile(r"[?&]tf=1d$"), timeout=WAIT_MS)
    wait_for_image(page, GRAPH, "tf=1d")
    page.get_by_role("textbox", name="Timeframe, such as 2d30m").fill("2d30m")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"[?&]tf=2d30m$"), timeout=WAIT_MS)
    expect(page.locator("main")).to_contain_text("2 days @ 30 minutes", timeout=WAIT_MS)
    wait_for_image(page, GRAPH, "tf=2d30m")

    # 5. Compare the two stats in one graph.
    page.get_by_role("link", name="Compare", exact=True).click()
    page.get_by_role("combobox", name="Stat 1").select_option(label="hello")
    page.get_by_role("combobox", name="Stat 2").select_option(label="latency")
    page.get_by_role("button", name="Compare").click()
    expect(page).to_have_url(re.compile(r"/compare\?ids="), timeout=WAIT_MS)
    wait_for_image(page, ".graph img", "/compare/graph.png")
    names = page.locator("table.list tbody tr td:first-child")
    expect(names).to_have_text(["hello", "latency"], timeout=WAIT_MS)

    # 6. An access token: shown once, works from a script, stops working once revoked.
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("New token's label").fill("journey script")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").inner_text(timeout=WAIT_MS).strip()
    statlist = f"{stack.web}/x/{token}/statlist"
    answer = httpx.get(statlist, timeout=10)
    assert answer.status_code == 200, answer.text
    assert "hello" in [stat["name"] for stat in answer.json()]
    page.reload()  # the form's answer was a redirect: a reload creates no second token
    expect(page.locator("#new-token")).to_have_count(0, timeout=WAIT_MS)
    assert token not in page.content()  # shown once: only its prefix from now on
    expect(page.locator("tr", has_text="journey script")).to_have_count(1)
    row = page.locator("tr", has_text="journey script")
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator(".flash")).to_contain_text("Token revoked", timeout=WAIT_MS)
    assert httpx.get(statlist, timeout=10).status_code == 404

    # 7. Log out: pages that need an account send the browser to the log-in page.
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login"), timeout=WAIT_MS)
    page.go_back()  # signed-in pages are no-store: Back asks again, and must log in
    expect(page).to_have_url(re.compile(r"/login\?next=/settings"), timeout=WAIT_MS)
    assert "journey script" not in page.content()
    page.goto("/stats")
    expect(page).to_have_url(re.compile(r"/login\?next=/stats$"), timeout=WAIT_MS)
    expect(page.get_by_role("heading", name="Log in")).to_be_visible(timeout=WAIT_MS)


def test_signup_says_clearly_that_a_password_is_too_short(page: Page) -> None:
    email = new_email("short")
    page.goto("/signup")
    page.get_by_label("E-mail").fill(email)
    password = page.get_by_label("Password")
    password.fill("short")
    page.get_by_role("button", name="Sign up").click()
    # The browser's own check stops the form first, with its message.
    assert password.evaluate("el => el.validity.tooShort") is True
    assert password.evaluate("el => el.validationMessage") != ""
    expect(page).to_have_url(re.compile(r"/signup$"), timeout=WAIT_MS)

    # Without that check (an old browser, a script), the server says the same, keeping the e-mail.
    password.evaluate("el => el.removeAttribute('minlength')")
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator(".flash.error")).to_contain_text(
        "at least 8 characters", timeout=WAIT_MS
    )
    expect(page.get_by_label("E-mail")).to_have_value(email, timeout=WAIT_MS)
    expect(page.get_by_label("Password")).to_have_value("", timeout=WAIT_MS)


@pytest.fixture
def other_site(stack: Stack) -> Iterator[RunningServer]:
    """A page on another origin that, once opened, posts a token-creating form into Aerie."""

    async def lure(_request: Request) -> HTMLResponse:
        return HTMLResponse(
            f"""<!doctype html><form method="post" action="{stack.web}/settings/tokens">
            <input type="hidden" name="label" value="planted"><input type="hidden" name="csrf"
            value="guessed"></form><script>document.forms[0].submit()</script>"""
        )

    with serve(Starlette(routes=[Route("/", lure)])) as server:
        yield server


@pytest.mark.parametrize(
    ("host", "refusal"),
    [
        # Same site (cookies go along), other origin: the CSRF token is what refuses it.
        ("127.0.0.1", "did not come from Aerie"),
        # Another site: the SameSite=Lax session cookie stays home, so the post has no session.
        ("localhost", None),
    ],
)
def test_a_page_at_another_origin_cannot_post_a_form_into_aerie(
    page: Page, context: BrowserContext, stack: Stack, other_site: RunningServer, host: str,
    refusal: str | None,
) -> None:
    sign_up(page, new_email("victim"))

    lured = context.new_page()
    lured.goto(f"http://{host}:{other_site.port}/")
    expect(lured).to_have_url(re.compile(re.escape(stack.web)), timeout=WAIT_MS)
    if refusal is not None:
        expect(lured.locator("main")).to_contain_text(refusal, timeout=WAIT_MS)
    assert "Your new access token" not in lured.content()

    page.goto("/settings")
    expect(page.locator("main")).to_contain_text("No access tokens yet", timeout=WAIT_MS)
