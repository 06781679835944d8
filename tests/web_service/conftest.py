"""A logged-in browser for page tests: a real log-in through the form, then its cookie."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from aerie import accounts
from tests.conftest import hashed
from tests.servers import RunningServer

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_in(html: str) -> str:
    """The CSRF token a page's forms carry."""
    match = _CSRF.search(html)
    assert match, "the page has no form with a csrf field"
    return match.group(1)


@dataclass
class Browser:
    """An HTTP client holding a session cookie, as a logged-in person's browser does."""

    client: httpx.Client
    user: accounts.User
    csrf: str = ""
    password: str = PASSWORD
    headers: dict[str, str] = field(default_factory=lambda: {"accept": "text/html"})

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, headers={**self.headers, **kwargs.pop("headers", {})}, **kwargs)

    def json(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(path, headers={"accept": "application/json"}, **kwargs)

    def post(self, path: str, **fields: str) -> httpx.Response:
        """Submit a form the way the page's own form would, CSRF token included."""
        return self.client.post(path, data={"csrf": self.csrf, **fields}, headers=self.headers)


def log_in(client: httpx.Client, email: str, password: str) -> httpx.Response:
    form = client.get("/login", headers={"accept": "text/html"})
    return client.post(
        "/login", data={"csrf": csrf_in(form.text), "email": email, "password": password}
    )


@pytest.fixture
def browser(web: RunningServer, engine: Engine) -> Iterator[Callable[[str], Browser]]:
    """Makes a user called ``name`` and a browser logged in as them."""
    clients: list[httpx.Client] = []

    def make(name: str) -> Browser:
        email = f"{name}-{secrets.token_hex(4)}@example.com"
        with engine.begin() as conn:
            user = accounts.create_user(conn, email, hashed(PASSWORD), int(time.time()))
        client = httpx.Client(base_url=web.url, follow_redirects=False, timeout=30)
        clients.append(client)
        answer = log_in(client, email, PASSWORD)
        assert answer.status_code == 303, answer.text
        page = Browser(client, user)
        page.csrf = csrf_in(page.get("/settings").text)
        return page

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def owner_browser(browser: Callable[[str], Browser]) -> Browser:
    return browser("owner")


@pytest.fixture
def outsider_browser(browser: Callable[[str], Browser]) -> Browser:
    return browser("outsider")
