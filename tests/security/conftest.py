"""The fixtures of the API and web tests, for tests that attack both."""

from __future__ import annotations

from tests.api_service.conftest import servers
from tests.web_service.conftest import browser, outsider_browser, owner_browser

__all__ = ["browser", "outsider_browser", "owner_browser", "servers"]
