"""Reading mail in the browser, as a person trying Aerie does: on the development mail page."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page

LINK = re.compile(r"http://\S+/(?:password/reset|verify)\?token=[A-Za-z0-9]+")


def link_in_mail(page: Page, to: str, subject: str) -> str:
    """The one-use link in the newest mail to ``to`` titled ``subject``, read from /dev/mail
    (mail is queued after some answers, so the list is reloaded until it shows)."""
    page.goto("/dev/mail")
    row = page.locator("tr", has_text=to).filter(has_text=subject).first
    deadline = time.monotonic() + 15
    while not row.count():
        assert time.monotonic() < deadline, f"no mail {subject!r} to {to} within 15 s"
        page.wait_for_timeout(250)
        page.reload()
    row.get_by_role("link", name=subject).click()
    found = LINK.search(page.locator("pre").inner_text())
    assert found, "the mail has no link"
    return found.group(0)


def confirm_email(page: Page, email: str) -> None:
    """Follow the verification link sign-up mailed to ``email``."""
    page.goto(link_in_mail(page, email, "Confirm your e-mail address"))
