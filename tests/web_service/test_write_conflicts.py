"""A page's change that meets another writer's lock (SQLite BUSY, MariaDB lock wait
timeout) is run again until the lock is let go: the person sees it done, not a 503."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, text

from aerie import accounts
from aerie.settings import Settings
from tests.conflicts import impatient, lock_held
from tests.conftest import Account, hashed, make_stat
from tests.servers import RunningServer, serve
from tests.web_service.conftest import PASSWORD, Browser, csrf_in, log_in


@pytest.fixture
def impatient_web(app_server_settings: Settings) -> Iterator[RunningServer]:
    """A web app whose connections give up waiting for a lock after a second."""
    from web_service.app import create_app

    with serve(create_app(impatient(app_server_settings))) as server:
        yield server


@pytest.fixture
def owner_browser(impatient_web: RunningServer, engine: Engine) -> Iterator[Browser]:
    email = f"owner-{secrets.token_hex(4)}@example.com"
    with engine.begin() as conn:
        user = accounts.create_user(conn, email, hashed(PASSWORD), int(time.time()))
    with httpx.Client(base_url=impatient_web.url, follow_redirects=False, timeout=30) as client:
        assert log_in(client, email, PASSWORD).status_code == 303
        browser = Browser(client, user)
        browser.csrf = csrf_in(browser.get("/settings").text)
        yield browser


def test_a_rename_waits_out_another_writers_lock_instead_of_answering_503(
        owner_browser: Browser, engine: Engine) -> None:
    stat = make_stat(engine, Account(owner_browser.user, ""), "signups", "counter")

    with lock_held(engine, "UPDATE stats SET name = name WHERE id = :id", id=stat.id):
        answer = owner_browser.post(f"/stats/{stat.public_id}/rename", name="sign-ups")

    assert answer.status_code == 303, answer.text
    with engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM stats WHERE user_id = :u"),
                             {"u": owner_browser.user.id}).scalars().all()
    assert names == ["sign-ups"]
