"""Sharing a stat and managing one's keys: only the owner shares or revokes."""

from __future__ import annotations

import re
import time
from html import unescape

import httpx
from sqlalchemy import Engine

from aerie import dashboards, shares
from aerie.stats import Stat
from tests.conftest import Account, make_stat
from tests.servers import RunningServer
from tests.web_service.conftest import Browser


def account(browser: Browser) -> Account:
    return Account(browser.user, "")


def live_key(engine: Engine, stat: Stat) -> str | None:
    with engine.connect() as conn:
        found = shares.live_share_of_stat(conn, stat.id)
    return found.key if found else None


def test_an_unshared_stat_offers_to_share_it(owner_browser: Browser, engine: Engine) -> None:
    stat = make_stat(engine, account(owner_browser), "signups", "counter")

    page = owner_browser.get(f"/stats/{stat.public_id}")

    assert page.status_code == 200
    assert "Not shared" in page.text
    assert f'action="/stats/{stat.public_id}/share"' in page.text


def test_sharing_creates_a_key_and_the_stat_page_shows_how_to_embed_it(
    owner_browser: Browser, engine: Engine
) -> None:
    stat = make_stat(engine, account(owner_browser), "signups", "counter")

    answer = owner_browser.post(f"/stats/{stat.public_id}/share")
    again = owner_browser.post(f"/stats/{stat.public_id}/share")
    page = owner_browser.get(f"/stats/{stat.public_id}")

    assert answer.status_code == 303
    assert answer.headers["location"].startswith(f"/stats/{stat.public_id}")
    assert again.status_code == 303
    key = live_key(engine, stat)
    assert key is not None  # sharing twice keeps the one live key
    text = unescape(page.text)
    assert f"StatHatEmbed.render({{s1: '{key}', w: 760, h: 235, tf: 'week_compare'}})" in text
    assert f"/embed/graph/{key}.png?w=760&h=235&tf=week_compare" in text
    assert f"/embed/graph/{key}.svg?" in page.text
    assert f'action="/sharing/{key}/revoke"' in page.text
    assert owner_browser.json(f"/stats/{stat.public_id}.json").json()["embed_key"] == key


def test_the_sharing_page_lists_live_keys_with_codes_for_this_host(
    owner_browser: Browser, engine: Engine, web: RunningServer
) -> None:
    stat = make_stat(engine, account(owner_browser), "signups", "counter")
    owner_browser.post(f"/stats/{stat.public_id}/share")
    key = live_key(engine, stat)
    assert key is not None
    host = web.url.split("://")[1]

    page = owner_browser.get("/sharing")
    twin = owner_browser.json("/sharing.json").json()

    assert page.status_code == 200
    assert "signups" in page.text and key in page.text
    assert f'<script src="//{host}/javascripts/embed.js"></script>' in unescape(page.text)
    assert [s["key"] for s in twin["shares"]] == [key]
    listed = twin["shares"][0]
    assert listed["kind"] == "stat" and listed["name"] == "signups" and listed["link"] is None
    assert listed["embed"]["png"] == f"{web.url}/embed/graph/{key}.png?w=760&h=235&tf=week_compare"
    assert listed["embed"]["markdown"] == f"![signups]({listed['embed']['png']})"
    assert f"s1: '{key}'" in listed["embed"]["script"]


def test_an_empty_sharing_page_explains_how_to_share(owner_browser: Browser) -> None:
    page = owner_browser.get("/sharing")

    assert page.status_code == 200
    assert "Nothing is shared" in page.text
    assert owner_browser.json("/sharing.json").json() == {"shares": []}


def test_the_sharing_page_is_per_user(
    owner_browser: Browser, outsider_browser: Browser, engine: Engine
) -> None:
    stat = make_stat(engine, account(owner_browser), "signups", "counter")
    owner_browser.post(f"/stats/{stat.public_id}/share")
    key = live_key(engine, stat)
    assert key is not None

    assert key not in outsider_browser.get("/sharing").text
    assert outsider_browser.json("/sharing.json").json() == {"shares": []}


def test_revoking_stops_the_key_and_sharing_again_draws_a_new_one(
    owner_browser: Browser, engine: Engine, web: RunningServer
) -> None:
    stat = make_stat(engine, account(owner_browser), "signups", "counter")
    owner_browser.post(f"/stats/{stat.public_id}/share")
    old = live_key(engine, stat)
    assert old is not None

    revoked = owner_browser.post(f"/sharing/{old}/revoke", back=f"/stats/{stat.public_id}")
    assert revoked.status_code == 303
    assert revoked.headers["location"] == f"/stats/{stat.public_id}?done=share_revoked#sharing"
    assert "Not shared" in owner_browser.get(f"/stats/{stat.public_id}").text
    owner_browser.post(f"/stats/{stat.public_id}/share")
    new = live_key(engine, stat)

    assert new is not None and new != old
    with httpx.Client(base_url=web.url) as visitor:
        assert visitor.get(f"/embed/graph/{old}").status_code == 410
        assert visitor.get(f"/embed/graph/{new}").status_code == 200
    assert owner_browser.post(f"/sharing/{old}/revoke").status_code == 404


def test_revoking_from_the_sharing_page_goes_back_to_it(
    owner_browser: Browser, engine: Engine
) -> None:
    stat = make_stat(engine, account(owner_browser), "signups", "counter")
    owner_browser.post(f"/stats/{stat.public_id}/share")
    key = live_key(engine, stat)

    answer = owner_browser.post(f"/sharing/{key}/revoke", back="https://evil.example/")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/sharing?done=share_revoked"
    assert live_key(engine, stat) is None


def test_an_outsider_can_neither_share_nor_revoke_the_owners_stat(
    owner_browser: Browser, outsider_browser: Browser, engine: Engine
) -> None:
    stat = make_stat(engine, account(owner_browser), "signups", "counter")

    assert outsider_browser.post(f"/stats/{stat.public_id}/share").status_code == 404
    assert live_key(engine, stat) is None
    owner_browser.post(f"/stats/{stat.public_id}/share")
    key = live_key(engine, stat)

    assert outsider_browser.post(f"/sharing/{key}/revoke").status_code == 404
    assert live_key(engine, stat) == key


def test_sharing_needs_a_session_and_a_csrf_token(
    owner_browser: Browser, engine: Engine, web: RunningServer
) -> None:
    stat = make_stat(engine, account(owner_browser), "signups", "counter")

    forged = owner_browser.client.post(f"/stats/{stat.public_id}/share", data={"csrf": "nope"})
    with httpx.Client(base_url=web.url) as stranger:
        anonymous = stranger.post(f"/stats/{stat.public_id}/share", data={"csrf": "x"})
        listing = stranger.get("/sharing.json")

    assert forged.status_code == 403
    assert anonymous.status_code == 401
    assert listing.status_code == 401
    assert live_key(engine, stat) is None


def test_the_nav_links_to_the_sharing_page(owner_browser: Browser) -> None:
    assert re.search(r'<a href="/sharing"[^>]*>Sharing</a>', owner_browser.get("/stats").text)


def test_keys_are_listed_only_while_live(owner_browser: Browser, engine: Engine) -> None:
    stat = make_stat(engine, account(owner_browser), "signups", "counter")
    with engine.begin() as conn:
        old = shares.share_stat(conn, owner_browser.user.id, stat.id, int(time.time()))
        shares.revoke_share(conn, owner_browser.user.id, old.key, int(time.time()))

    assert owner_browser.json("/sharing.json").json() == {"shares": []}


def test_shared_dashboards_are_listed_with_their_link(
    owner_browser: Browser, engine: Engine, web: RunningServer
) -> None:
    now = int(time.time())
    with engine.begin() as conn:
        board = dashboards.create_dashboard(conn, owner_browser.user.id, "ops", now)
        key = shares.share_dashboard(conn, owner_browser.user.id, board.id, now).key

    listed = owner_browser.json("/sharing.json").json()["shares"]
    page = owner_browser.get("/sharing")

    assert [(s["kind"], s["name"], s["link"], s["embed"]) for s in listed] == [
        ("dashboard", "ops", f"{web.url}/d/{key}", None)
    ]
    assert f'href="/dashboards/{board.public_id}"' in page.text
    assert owner_browser.post(f"/sharing/{key}/revoke").status_code == 303
    assert owner_browser.json("/sharing.json").json() == {"shares": []}
