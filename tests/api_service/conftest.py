"""Fixtures for the ingestion tests: the API to post to and the web app to read back from."""

from __future__ import annotations

import pytest

from tests.servers import RunningServer

Servers = tuple[RunningServer, RunningServer]


@pytest.fixture
def servers(api: RunningServer, web: RunningServer) -> Servers:
    """The API and the web app on the same database."""
    return api, web
