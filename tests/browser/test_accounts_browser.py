"""Accounts in a real browser, at desktop and phone (390x844) sizes: a forgotten password
recovered through the mailed link, the banner of an unconfirmed e-mail, and deleting the
account. Mail is read where a person trying Aerie reads it: the development mail page."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import navigation
from tests.browser.conftest import BROWSER_TIMEZONE, WAIT_MS, Stack
from tests.browser.mail import confirm_email, link_in_mail

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a new and longer passphrase"
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=sorted(SIZES))
def page(request: pytest.FixtureRequest, chromium: Browser, stack: Stack) -> Iterator[Page]:
    """A fresh browser profile at desktop or phone size."""
    context = chromium.new_context(base_url=stack.web, timezone_id=BROWSER_TIMEZONE,
                                   viewport=SIZES[request.param])
    context.set_default_timeout(WAIT_MS)
    context.set_default_navigation_timeout(WAIT_MS)
    yield context.new_page()
    context.close()


def new_email(name: str) -> str:
    return f"{name}-{secrets.token_hex(4)}@example.com"


def sign_up(page: Page, email: str) -> None:
    page.goto("/signup")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/stats(\?|$)"))


def log_out(page: Page) -> None:
    navigation.log_out(page)
    expect(page).to_have_url(re.compile(r"/login"))


def log_in(page: Page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def assert_fits_the_width(page: Page) -> None:
    """Nothing on the page scrolls sideways."""
    overflow = page.evaluate(
        "() => document.scrollingElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than the screen"


def test_a_forgotten_password_is_recovered_through_the_mailed_link(page: Page) -> None:
    email = new_email("forgetful")
    sign_up(page, email)
    log_out(page)

    page.get_by_role("link", name="Forgot your password?").click()
    assert_fits_the_width(page)
    page.get_by_label("E-mail").fill(email)
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()
    assert_fits_the_width(page)

    page.goto(link_in_mail(page, email, "Choose a new password"))
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    assert_fits_the_width(page)
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save password").click()
    expect(page).to_have_url(re.compile(r"/stats\?done=password_set"))
    expect(page.locator(".flash")).to_contain_text("Password saved")

    log_out(page)
    log_in(page, email, PASSWORD)
    expect(page.locator(".flash.error")).to_contain_text("do not match")
    log_in(page, email, NEW_PASSWORD)
    expect(page).to_have_url(re.compile(r"/stats(\?|$)"))


def test_a_link_in_the_dev_mail_preview_opens_in_a_tab_and_works_again_harmlessly(
    page: Page,
) -> None:
    """Inside the preview's frame Aerie's pages refuse to show (frame-ancestors): the
    mail's links open a tab of their own, and the same link followed again is no error."""
    email = new_email("preview")
    sign_up(page, email)
    link_in_mail(page, email, "Confirm your e-mail address")  # the mail's own page
    mail = page.frame_locator("iframe.mail-body")

    with page.expect_popup() as opened:
        mail.locator("a[href*='/verify?token=']").first.click()
    tab = opened.value
    expect(tab.locator(".flash")).to_contain_text("E-mail confirmed", timeout=WAIT_MS)

    with page.expect_popup() as reopened:
        mail.locator("a[href*='/verify?token=']").first.click()
    expect(reopened.value.locator(".flash")).to_contain_text("already confirmed", timeout=WAIT_MS)


def test_an_unconfirmed_email_shows_a_banner_until_its_link_is_followed(page: Page) -> None:
    email = new_email("newcomer")
    sign_up(page, email)

    banner = page.locator(".account-banner")
    expect(banner).to_contain_text("Confirm your e-mail")
    box = banner.bounding_box()
    width = page.viewport_size["width"] if page.viewport_size else 0
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    banner.get_by_role("button", name="Send the link again").click()
    expect(page.locator(".flash")).to_contain_text("A new confirmation link")

    confirm_email(page, email)
    expect(page.locator(".flash")).to_contain_text("E-mail confirmed")
    expect(page.locator(".account-banner")).to_have_count(0)


def test_deleting_the_account_asks_for_the_password_and_signs_out(page: Page) -> None:
    email = new_email("leaving")
    sign_up(page, email)
    page.goto("/settings")
    section = page.locator("#delete-account")

    section.get_by_label("Your password").fill("not my password")
    section.get_by_role("button", name="Delete my account").click()
    expect(page.locator(".flash.error")).to_contain_text("nothing was deleted")

    page.locator("#delete-account").get_by_label("Your password").fill(PASSWORD)
    page.locator("#delete-account").get_by_role("button", name="Delete my account").click()
    expect(page).to_have_url(re.compile(r"/login\?done=account_deleted"))
    expect(page.locator(".flash")).to_contain_text("all its data are deleted")
    assert_fits_the_width(page)
    page.goto("/settings")
    expect(page).to_have_url(re.compile(r"/login"))
    log_in(page, email, PASSWORD)
    expect(page.locator(".flash.error")).to_contain_text("do not match")
