"""The logged-in browsers of the page tests, for the security tests too."""

from tests.web_service.conftest import browser, outsider_browser, owner_browser

__all__ = ["browser", "outsider_browser", "owner_browser"]
