"""HTTP hygiene of the web app: security headers, no /docs, public URLs only,
bounded numbers, and no tokens in the access log."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import Engine

from aerie import accounts, dashboards, shares
from aerie.settings import Settings
from tests.conftest import Account, hashed, make_stat, put_points
from tests.servers import RunningServer, serve
from tests.web_service.conftest import PASSWORD, Browser, log_in

HUGE = "9223372036854775808"  # one past the largest 64-bit integer
PUBLIC_WEB = "https://stats.example.org"
PUBLIC_API = "https://ingest.example.org"
FORGED_HOST = "evil.example"


def shared_stat_key(engine: Engine, account: Account) -> tuple[str, str]:
    """A stat with points and a share key for it: (public id, key)."""
    stat = make_stat(engine, account, "signups", "counter")
    now = int(time.time())
    put_points(engine, stat, [(now - 3600 * h, 10 + h) for h in range(5)])
    with engine.begin() as conn:
        return stat.public_id, shares.share_stat(conn, account.user.id, stat.id, now).key


def shared_dashboard(engine: Engine, account: Account) -> tuple[str, str]:
    """A dashboard shared by a key: (public id, key)."""
    now = int(time.time())
    with engine.begin() as conn:
        board = dashboards.create_dashboard(conn, account.user.id, "Ops", now)
        key = shares.share_dashboard(conn, account.user.id, board.id, now).key
    return board.public_id, key


def test_app_pages_carry_a_script_policy_and_refuse_to_be_framed(
    web: RunningServer, owner_browser: Browser
) -> None:
    anonymous = httpx.Client(base_url=web.url, headers={"accept": "text/html"})
    answers = [anonymous.get("/"), anonymous.get("/login"), owner_browser.get("/stats"),
               owner_browser.get("/settings")]
    anonymous.close()

    for answer in answers:
        assert answer.status_code == 200
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"


def test_embeds_and_shared_dashboards_stay_frameable(
    web: RunningServer, engine: Engine, owner: Account
) -> None:
    _stat, key = shared_stat_key(engine, owner)
    _board, board_key = shared_dashboard(engine, owner)
    with httpx.Client(base_url=web.url, headers={"accept": "text/html"}, timeout=60) as visitor:
        answers = [visitor.get(path) for path in (
            f"/embed/graph/{key}", f"/embed/graph/{key}.svg", "/javascripts/embed.js",
            f"/d/{board_key}", f"/embed/dashboard/{board_key}",
        )]

    for answer in answers:
        assert answer.status_code == 200, answer.request.url
        assert "frame-ancestors" not in answer.headers.get("content-security-policy", "")
        assert "x-frame-options" not in answer.headers
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_docs_are_off_on_the_web_app_and_the_api(web: RunningServer, api: RunningServer) -> None:
    for base in (web.url, api.url):
        for path in ("/docs", "/openapi.json"):
            assert httpx.get(base + path).status_code == 404, base + path


@pytest.fixture
def public_web(app_server_settings: Settings) -> Iterator[RunningServer]:
    """A web app whose public addresses differ from the one it is reached at."""
    from web_service.app import create_app

    public = {"public_web_url": PUBLIC_WEB, "public_api_url": PUBLIC_API}
    with serve(create_app(app_server_settings.model_copy(update=public))) as server:
        yield server


def test_a_forged_host_header_is_never_echoed_into_pages_or_embeds(
    public_web: RunningServer, engine: Engine, owner: Account
) -> None:
    with engine.begin() as conn:
        accounts.set_password(conn, owner.user.id, hashed(PASSWORD))
    stat, key = shared_stat_key(engine, owner)
    board, board_key = shared_dashboard(engine, owner)
    forged = {"host": FORGED_HOST, "accept": "text/html"}
    with httpx.Client(base_url=public_web.url, timeout=60) as client:
        assert log_in(client, owner.user.email, PASSWORD).status_code == 303
        pages = {path: client.get(path, headers=forged) for path in (
            f"/stats/{stat}", "/sharing", f"/dashboards/{board}?edit=1", "/settings",
            f"/embed/graph/{key}", f"/d/{board_key}",
        )}
        client.cookies.clear()
        pages["/"] = client.get("/", headers=forged)

    for path, answer in pages.items():
        assert answer.status_code == 200, path
        assert FORGED_HOST not in answer.text, path
    for path in (f"/stats/{stat}", "/sharing", f"/embed/graph/{key}", "/"):
        assert PUBLIC_WEB in pages[path].text, path
    # The embed code is on the dashboard's edit mode, with its sharing.
    assert "//stats.example.org/embed/dashboard/" in pages[f"/dashboards/{board}?edit=1"].text
    for path in (f"/stats/{stat}", "/settings", "/"):
        assert PUBLIC_API in pages[path].text, path


def test_numbers_out_of_range_in_queries_and_paths_are_400(
    web: RunningServer, engine: Engine, owner: Account, owner_browser: Browser
) -> None:
    stat, _key = shared_stat_key(engine, owner)
    board, _board_key = shared_dashboard(engine, owner)
    with httpx.Client(base_url=web.url, timeout=60) as client:
        answers = {
            "offset": client.get(f"/x/{owner.token}/statlist?offset={HUGE}"),
            "negative offset": client.get(f"/x/{owner.token}/statlist?offset=-1"),
            "start": client.get(f"/x/{owner.token}/data/{stat}?start={HUGE}"),
            "t": client.get(f"/x/{owner.token}/data/{stat}?t={'9' * 5000}d"),
            "a1 start": client.get(f"/a1/stats/{stat}/dataset?start={HUGE}",
                                   auth=(owner.token, "")),
            "a1 t": client.get(f"/a1/stats/{stat}/dataset?t={HUGE}y", auth=(owner.token, "")),
        }
    page_answers = {
        "page tf": owner_browser.get(f"/stats/{stat}?tf={HUGE}d"),
        "card id": owner_browser.get(f"/dashboards/{board}/cards/{HUGE}/graph.svg"),
        "token id": owner_browser.post(f"/settings/tokens/{HUGE}/revoke"),
    }

    for name, answer in {**answers, **page_answers}.items():
        assert answer.status_code == 400, (name, answer.status_code, answer.text[:300])
    assert "offset must be a whole number" in answers["offset"].json()["msg"]


class Lines(logging.Handler):
    """Keeps the formatted lines a logger emits."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextmanager
def access_lines() -> Iterator[Lines]:
    """What uvicorn's access logger writes while the block runs."""
    access = logging.getLogger("uvicorn.access")
    lines, level = Lines(), access.level
    access.addHandler(lines)
    access.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        access.removeHandler(lines)
        access.setLevel(level)


def wait_for_lines(lines: Lines, needle: str, count: int) -> str:
    deadline = time.monotonic() + 10
    while len([line for line in lines.lines if needle in line]) < count:
        assert time.monotonic() < deadline, lines.lines
        time.sleep(0.01)
    return "\n".join(lines.lines)


def test_access_tokens_are_kept_out_of_the_access_log(
    web: RunningServer, owner: Account
) -> None:
    with access_lines() as lines:
        assert httpx.get(f"{web.url}/x/{owner.token}/statlist").status_code == 200
        assert httpx.get(f"{web.url}/x/{owner.token}/nothing-here").status_code == 404
        logged = wait_for_lines(lines, "/x/", 2)

    assert owner.token not in logged
    assert "/x/[token]/statlist" in logged and "/x/[token]/nothing-here" in logged


def test_ingestion_keys_in_a_query_string_are_kept_out_of_the_access_log(
    api: RunningServer, engine: Engine, owner: Account
) -> None:
    """GET posts and <img> beacons carry the ezkey or the user and stat keys in the URL."""
    stat = make_stat(engine, owner, "beacon hits", "counter")
    with access_lines() as lines:
        ez = httpx.get(f"{api.url}/ez", params={"ezkey": owner.ezkey, "stat": "hits", "count": 1})
        old = httpx.get(f"{api.url}/ez", params={"email": owner.ezkey, "stat": "hits", "count": 1})
        classic = httpx.get(f"{api.url}/c",
                            params={"ukey": owner.ukey, "key": stat.classic_key, "count": 1})
        assert [ez.status_code, old.status_code, classic.status_code] == [200, 200, 200]
        logged = wait_for_lines(lines, "[redacted]", 3)

    for secret in (owner.ezkey, quote(owner.ezkey), owner.ukey, stat.classic_key):
        assert secret not in logged
    assert "/ez?ezkey=[redacted]&stat=hits&count=1" in logged
    assert "/c?ukey=[redacted]&key=[redacted]&count=1" in logged



def test_signed_in_pages_and_their_twins_are_kept_out_of_every_cache(
    web: RunningServer, engine: Engine, owner_browser: Browser
) -> None:
    """Back after logging out must not show the stat page and its keys from the history."""
    owner = Account(owner_browser.user, "")
    page = f"/stats/{make_stat(engine, owner, 'signups', 'counter').public_id}"
    _board, board_key = shared_dashboard(engine, owner)
    answers = [owner_browser.get(path) for path in ("/stats", page, "/dashboards", "/alerts")]
    answers += [owner_browser.json(path) for path in ("/stats.json", page + ".json", page)]
    answers.append(owner_browser.get("/stats/nosuchstat"))  # its error page shows the header
    shared = owner_browser.get(f"/d/{board_key}")  # public: the same for everyone

    for answer in answers:
        assert answer.headers.get("cache-control") == "no-store", answer.request.url
    assert answer.status_code == 404
    assert shared.headers["cache-control"] == "public, max-age=60"
