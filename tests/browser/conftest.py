"""A real browser against the whole stack: headless Chromium driving the web app.

Debian's Chromium (``/usr/bin/chromium``) is driven through Playwright's sync
API; Playwright never downloads a browser of its own. One browser serves the
whole session and each test gets a fresh context (its own cookies), so tests
cannot see each other's log-ins. The stack is built once per session on SQLite
only: the page logic is the same on MariaDB, which the HTTP-level tests cover,
and one backend keeps the browser suite fast.

Every wait has a timeout (``WAIT_MS``), so a broken page fails the test instead
of hanging it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from aerie.settings import Settings
from tests.servers import free_port, serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
WAIT_MS = 15_000
# The context's zone, unlike the servers' UTC, so the sign-up form's guess is visible.
BROWSER_TIMEZONE = "Europe/Berlin"


@dataclass(frozen=True)
class Stack:
    """Where the running services answer: the web app people use and the ingestion API."""

    web: str
    api: str


@pytest.fixture(scope="package")
def stack(sqlite_database_url: str) -> Iterator[Stack]:
    """The API, the web app, one graph and one analysis server and the scheduler (mail kept
    for /dev/mail), over HTTP on free ports.

    The API is served first so the web app's ``public_api_url`` is its real address:
    the copy-paste examples on the pages must reach the live API.
    """
    from api_service.app import create_app as api_app
    from app_servers.analysis import create_app as analysis_app
    from app_servers.graph import create_app as graph_app
    from app_servers.scheduler import create_app as scheduler_app
    from presenters.mail import TemplateMail
    from web_service.app import create_app as web_app

    # dev_mail_view: as README says to run it to recover a password through /dev/mail
    settings = Settings(
        database_url=sqlite_database_url, db_timeout_seconds=2, secret_key="tests-only-key",
        monitor_seconds=0, dev_mail_view="all",
    )
    with (
        serve(graph_app(settings)) as graph,
        serve(analysis_app(settings)) as analysis,
        serve(api_app(settings)) as api,
    ):
        web_port = free_port()  # links in pages point at the public address: its own
        web_settings = settings.model_copy(
            update={"graph_urls": graph.url, "analysis_urls": analysis.url,
                    "public_api_url": api.url, "public_web_url": f"http://127.0.0.1:{web_port}"}
        )
        with (
            serve(web_app(web_settings), web_port) as web,
            serve(scheduler_app(web_settings, TemplateMail(web_settings))),
        ):
            yield Stack(web=web.url, api=api.url)


@pytest.fixture(scope="package")
def chromium() -> Iterator[Browser]:
    """One headless Chromium for the browser tests; fails (not skips) when not installed.

    Package-scoped, not session-scoped: Playwright's sync API keeps an event loop
    running in the main thread until it stops, and the async tests that run after
    these must be able to start their own.
    """
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} not found: the browser tests drive Debian's Chromium; "
            "run `apt-get install chromium` (CI's .ci/run installs it)",
            pytrace=False,
        )
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def context(chromium: Browser, stack: Stack) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) whose relative URLs go to the web app."""
    context = chromium.new_context(base_url=stack.web, timezone_id=BROWSER_TIMEZONE)
    context.set_default_timeout(WAIT_MS)
    context.set_default_navigation_timeout(WAIT_MS)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
