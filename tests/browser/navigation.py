"""Moving about the signed-in pages as a person does, at any width."""

from __future__ import annotations

from playwright.sync_api import Page


def log_out(page: Page) -> None:
    """Click Log out; on a phone the header folds it behind the Menu button first."""
    menu = page.get_by_role("button", name="Menu")
    if menu.is_visible():
        menu.click()
    page.locator("header .who button", has_text="Log out").click()
