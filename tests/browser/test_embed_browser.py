"""An embed on someone else's site, in a real browser: the graph shows, then stops when revoked.

The "blog" is a plain HTML file served by ``http.server`` on another port, so the
page's origin differs from the web app's and embed.js's fetch is a real
cross-origin request (it works only because fragments allow any origin).
"""

from __future__ import annotations

import functools
import http.server
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from aerie import accounts, shares
from aerie.db import make_engine
from aerie.settings import Settings
from aerie.stats import Stat
from tests.browser.conftest import WAIT_MS, Stack
from tests.browser.test_journey import new_email, sign_up
from tests.conftest import Account, make_account, make_stat, put_points
from tests.servers import free_port

BOX_IMAGE_LOADED = """() => {
  const img = document.querySelector(".stathat-embed-box img");
  return img !== null && img.complete && img.naturalWidth > 0;
}"""


@pytest.fixture
def db(sqlite_database_url: str) -> Iterator[Engine]:
    engine = make_engine(Settings(database_url=sqlite_database_url))
    yield engine
    engine.dispose()


@pytest.fixture
def blog(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP from another origin than the web app's: (folder, its URL)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield tmp_path, f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def blog_post(web: str, calls: str) -> str:
    """A page that pastes the embed snippet, as the sharing panel gives it, between two paragraphs."""
    host = web.split("://", 1)[1]
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>My blog</title></head><body>"
        "<p id='before'>Our traffic this week:</p>"
        f'<script src="//{host}/javascripts/embed.js"></script>'
        f"<script>{calls}</script>"
        "<p id='after'>Thanks for reading.</p></body></html>"
    )


def signed_up_with_a_stat(page: Page, db: Engine, name: str) -> tuple[accounts.User, Stat]:
    """Someone signed up through the form in ``page``, and a counter of theirs, "visits"."""
    email = new_email(name)
    sign_up(page, email)
    with db.connect() as conn:
        user = accounts.user_by_email(conn, email)
    assert user is not None
    return user, make_stat(db, Account(user, ""), "visits", "counter")


def shared_stat(db: Engine, name: str) -> tuple[Account, str]:
    """An owner's counter with two days of hourly points, shared: the owner and the key."""
    owner = make_account(db, "owner")
    stat = make_stat(db, owner, name, "counter")
    now = int(time.time())
    put_points(db, stat, [(now - 3600 * h, 10 + h) for h in range(48)])
    with db.begin() as conn:
        return owner, shares.share_stat(conn, owner.user.id, stat.id, now).key


def test_an_embed_on_another_site_shows_the_graph_until_revoked(
    page: Page, stack: Stack, db: Engine, blog: tuple[Path, str]
) -> None:
    folder, blog_url = blog
    owner_page = page.context.new_page()  # the owner, signed in, in another tab
    user, stat = signed_up_with_a_stat(owner_page, db, "owner")
    now = int(time.time())
    put_points(db, stat, [(now - 3600 * h, 10 + h) for h in range(48)])
    with db.begin() as conn:
        key = shares.share_stat(conn, user.id, stat.id, now).key
    (folder / "post.html").write_text(blog_post(
        stack.web,
        f"StatHatEmbed.render({{s1: '{key}', w: 500, h: 180, tf: 'week_compare'}});"
        f"StatHatEmbed.render_data({{s1: '{key}', refresh: 0}});"
        f"StatHatEmbed.render_text({{s1: '{key}', tf: 'day', refresh: 5}});",
    ))

    page.goto(f"{blog_url}/post.html")
    page.wait_for_function(BOX_IMAGE_LOADED, timeout=WAIT_MS)

    boxes = page.locator(".stathat-embed-box")
    expect(boxes).to_have_count(3)
    expect(boxes.nth(1)).to_contain_text("visits")  # in the order of the calls
    expect(boxes.nth(2)).to_contain_text("visits, last 1 day")
    # Inserted right after the calling script, before the rest of the post.
    order = page.evaluate(
        """() => [...document.body.children].map(e => e.id || e.className || e.tagName)""")
    assert order.index("before") < order.index("stathat-embed-box") < order.index("after")
    # Refreshing: every 60 s by default, never more often than every 30 s, 0 is off.
    assert [boxes.nth(i).get_attribute("data-refresh") for i in range(3)] == ["60", None, "30"]
    assert page.evaluate("() => Object.keys(window).filter(k => k.startsWith('StatHat'))") \
        == ["StatHatEmbed"]

    # Revoked on the Sharing page: the web app forgets the answers it kept for the key.
    owner_page.goto("/sharing")
    owner_page.get_by_role("button", name="Revoke").click()
    expect(owner_page).to_have_url(re.compile(r"done=share_revoked"), timeout=WAIT_MS)
    page.reload()

    expect(boxes.first).to_contain_text("This graph is no longer shared", timeout=WAIT_MS)
    expect(boxes.nth(1)).to_contain_text("This graph is no longer shared", timeout=WAIT_MS)


def test_a_revoked_image_url_shows_its_message_as_an_image(
    page: Page, stack: Stack, db: Engine, blog: tuple[Path, str]
) -> None:
    """Chromium draws an image's body even on a 410, so image URLs keep their real status."""
    folder, blog_url = blog
    owner = make_account(db, "owner")
    stat = make_stat(db, owner, "visits", "counter")
    with db.begin() as conn:
        key = shares.share_stat(conn, owner.user.id, stat.id, int(time.time())).key
        shares.revoke_share(conn, owner.user.id, key, int(time.time()))
    (folder / "mail.html").write_text(
        f"<!doctype html><img id='gone' src='{stack.web}/embed/graph/{key}.png?w=400&h=100'>"
        f"<img id='unknown' src='{stack.web}/embed/graph/NoSuchKeyAtAll0000000.svg'>"
    )

    page.goto(f"{blog_url}/mail.html")

    for image in ("gone", "unknown"):
        page.wait_for_function(
            "(id) => { const i = document.getElementById(id); "
            "return i.complete && i.naturalWidth > 0; }",
            arg=image, timeout=WAIT_MS,
        )
    assert page.evaluate("() => document.getElementById('gone').naturalWidth") == 400


def test_the_embed_code_copied_from_the_stat_page_works_on_another_site(
    page: Page, stack: Stack, db: Engine, blog: tuple[Path, str]
) -> None:
    """The stat page's snippet names the host the page was reached at, and pasted as is, works."""
    folder, blog_url = blog
    _user, stat = signed_up_with_a_stat(page, db, "sharer")
    put_points(db, stat, [(int(time.time()) - 600, 5)])

    page.goto(f"/stats/{stat.public_id}")
    page.get_by_role("button", name="Share").click()
    snippet = page.locator("pre[data-embed-code=script]").inner_text()
    png_url = page.locator("pre[data-embed-code=png]").inner_text()

    host = stack.web.split("://", 1)[1]
    assert snippet.startswith(f'<script src="//{host}/javascripts/embed.js"></script>')
    assert png_url.startswith(f"{stack.web}/embed/graph/")
    (folder / "pasted.html").write_text(f"<!doctype html><p>Visits:</p>{snippet}")
    page.goto(f"{blog_url}/pasted.html")
    page.wait_for_function(BOX_IMAGE_LOADED, timeout=WAIT_MS)
