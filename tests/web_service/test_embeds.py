"""Embeds over real HTTP: anyone holding a key sees that stat, and nothing else of its owner."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine

from aerie import accounts, dashboards, shares
from aerie.stats import Stat, trash_stat
from interactor.embeds import NAMED_TIMEFRAMES
from tests.conftest import Account, make_account, make_stat, put_points
from tests.servers import RunningServer

PNG = b"\x89PNG\r\n\x1a\n"
NO_LONGER_SHARED = "This graph is no longer shared"
NOT_SHARED = "No graph is shared by this key"


@pytest.fixture
def visitor(web: RunningServer) -> Iterator[httpx.Client]:
    """Someone reading a page that embeds a graph: no session, no cookies."""
    with httpx.Client(base_url=web.url, timeout=60) as client:
        yield client


def share(engine: Engine, account: Account, stat: Stat) -> str:
    with engine.begin() as conn:
        return shares.share_stat(conn, account.user.id, stat.id, int(time.time())).key


def revoke(engine: Engine, account: Account, key: str) -> None:
    with engine.begin() as conn:
        shares.revoke_share(conn, account.user.id, key, int(time.time()))


def shared_stat(engine: Engine, account: Account, name: str = "requests",
                kind: str = "counter") -> tuple[Stat, str]:
    stat = make_stat(engine, account, name, kind)
    now = int(time.time())
    put_points(engine, stat, [(now - 3600 * h, 100 + h) for h in range(30)])
    return stat, share(engine, account, stat)


def secrets_of(account: Account, stat: Stat) -> list[str]:
    return [stat.public_id, stat.classic_key, account.user.email, account.user.ezkey,
            account.user.ukey, account.token]


def test_a_graph_fragment_points_at_its_image_and_any_origin_may_read_it(
    visitor: httpx.Client, engine: Engine, owner: Account, web: RunningServer
) -> None:
    stat, key = shared_stat(engine, owner)

    answer = visitor.get(f"/embed/graph/{key}", headers={"origin": "https://blog.example"})

    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in answer.headers
    assert "set-cookie" not in answer.headers
    assert answer.headers["content-type"].startswith("text/html")
    assert f'<img src="{web.url}/embed/graph/{key}.png?w=760&amp;h=235&amp;tf=week_compare' \
        in answer.text
    for secret in secrets_of(owner, stat):
        assert secret not in answer.text


@pytest.mark.parametrize("style", [None, "mini", "spark", "fill", "fill_bar"])
@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_the_image_url_draws_the_shared_graph_in_each_style(
    visitor: httpx.Client, engine: Engine, owner: Account, style: str | None, fmt: str
) -> None:
    stat, key = shared_stat(engine, owner)
    query = {"w": "300", "h": "120"} | ({"style": style} if style else {})

    answer = visitor.get(f"/embed/graph/{key}.{fmt}", params=query)

    assert answer.status_code == 200, answer.text
    if fmt == "png":
        assert answer.content.startswith(PNG)
    else:
        assert answer.headers["content-type"].startswith("image/svg+xml")
        for secret in secrets_of(owner, stat):
            assert secret.encode() not in answer.content
    assert answer.headers["cache-control"] == "public, max-age=60"


@pytest.mark.parametrize("style", [None, "fill_bar"])
def test_a_histogram_embed_has_its_own_image(
    visitor: httpx.Client, engine: Engine, owner: Account, style: str | None
) -> None:
    _stat, key = shared_stat(engine, owner, "latency", "value")
    query = {"style": style} if style else {}

    fragment = visitor.get(f"/embed/histogram/{key}", params=query)
    image = visitor.get(f"/embed/histogram/{key}.png", params=query)

    assert fragment.status_code == 200, fragment.text
    assert f"/embed/histogram/{key}.png?" in fragment.text
    assert image.status_code == 200, image.text
    assert image.content.startswith(PNG)


@pytest.mark.parametrize("tf", [*NAMED_TIMEFRAMES, "2d30m", "90m"])
def test_every_named_timeframe_and_any_stathat_timeframe_draws(
    visitor: httpx.Client, engine: Engine, owner: Account, tf: str
) -> None:
    _stat, key = shared_stat(engine, owner)

    answer = visitor.get(f"/embed/graph/{key}.png", params={"tf": tf})

    assert answer.status_code == 200, answer.text
    assert answer.content.startswith(PNG)


def test_the_data_embed_shows_the_latest_value_big_with_the_name(
    visitor: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "temperature", "value")
    put_points(engine, stat, [(int(time.time()) - 120, 21.5)])
    key = share(engine, owner, stat)

    answer = visitor.get(f"/embed/data/{key}")

    assert answer.status_code == 200
    assert "21.5" in answer.text and "temperature" in answer.text
    assert "stathat-value" in answer.text


def test_the_text_embed_reads_a_counter_as_its_total_over_the_frame(
    visitor: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "requests", "counter")
    put_points(engine, stat, [(int(time.time()) - 3600, 1200)])
    key = share(engine, owner, stat)

    answer = visitor.get(f"/embed/text/{key}", params={"tf": "week"})

    assert answer.status_code == 200
    assert "1.2k requests, last 1 week" in answer.text


def test_the_table_embed_lists_points_in_the_owners_time_zone(
    visitor: httpx.Client, engine: Engine, owner: Account
) -> None:
    with engine.begin() as conn:
        accounts.update_profile(conn, owner.user, email=owner.user.email, timezone="Asia/Tokyo")
    stat = make_stat(engine, owner, "orders", "counter")
    hour = int(time.time()) // 3600 * 3600
    put_points(engine, stat, [(hour - 3600, 7)])
    key = share(engine, owner, stat)

    answer = visitor.get(f"/embed/table/{key}", params={"tf": "1d1h"})

    assert answer.status_code == 200
    assert "Asia/Tokyo" in answer.text
    assert "JST" in answer.text  # times are written in the owner's zone
    assert ">7<" in answer.text


def test_up_to_three_stats_share_one_graph_and_a_fourth_is_refused(
    visitor: httpx.Client, engine: Engine, owner: Account
) -> None:
    keys = [shared_stat(engine, owner, f"s{i}")[1] for i in range(4)]

    three = visitor.get(f"/embed/graph/{'/'.join(keys[:3])}.png")
    four = visitor.get(f"/embed/graph/{'/'.join(keys)}")
    texts = visitor.get(f"/embed/text/{'/'.join(keys[:3])}")

    assert three.status_code == 200 and three.content.startswith(PNG)
    assert four.status_code == 400
    assert "1 to 3 stats" in four.text
    assert texts.text.count("last 1 week") == 3


def test_keys_of_two_accounts_cannot_share_one_embed(
    visitor: httpx.Client, engine: Engine, owner: Account, outsider: Account
) -> None:
    _mine, my_key = shared_stat(engine, owner)
    _theirs, their_key = shared_stat(engine, outsider)

    answer = visitor.get(f"/embed/graph/{my_key}/{their_key}")
    image = visitor.get(f"/embed/graph/{my_key}/{their_key}.png")

    assert answer.status_code == 400
    assert "same account" in answer.text
    assert image.status_code == 400 and image.content.startswith(PNG)


@pytest.mark.parametrize(("path", "query", "says"), [
    ("graph", {"w": "wide"}, "The width w must be a whole number of pixels"),
    ("graph", {"h": "99999"}, "The height h must be a whole number of pixels"),
    ("graph", {"tf": "fortnight"}, "The timeframe tf=fortnight is not understood"),
    ("graph", {"style": "neon"}, "Style must be one of mini, spark, fill, fill_bar"),
    ("pie", {}, "Embed kind must be one of graph, histogram, data, table, text"),
])
def test_bad_parameters_answer_400_saying_what_to_fix(
    visitor: httpx.Client, engine: Engine, owner: Account, path: str, query: dict[str, str],
    says: str,
) -> None:
    _stat, key = shared_stat(engine, owner)

    fragment = visitor.get(f"/embed/{path}/{key}", params=query)
    image = visitor.get(f"/embed/{path}/{key}.png", params=query)

    assert fragment.status_code == 400
    assert says in fragment.text
    assert fragment.headers["access-control-allow-origin"] == "*"
    assert image.status_code == 400 and image.content.startswith(PNG)


def test_an_image_of_a_text_kind_or_an_unknown_format_is_refused(
    visitor: httpx.Client, engine: Engine, owner: Account
) -> None:
    _stat, key = shared_stat(engine, owner)

    assert visitor.get(f"/embed/data/{key}.png").status_code == 400
    assert visitor.get(f"/embed/graph/{key}.gif").status_code == 400


def test_unchanged_embeds_answer_304_to_their_etag(
    visitor: httpx.Client, engine: Engine, owner: Account
) -> None:
    _stat, key = shared_stat(engine, owner)
    put_points(engine, _stat, [(int(time.time()) - 60, 1)], received=int(time.time()) - 600)

    for path in (f"/embed/graph/{key}", f"/embed/graph/{key}.png", f"/embed/data/{key}"):
        first = visitor.get(path)
        etag = first.headers["etag"]
        again = visitor.get(path, headers={"if-none-match": etag})

        assert first.status_code == 200 and etag.startswith('"')
        assert again.status_code == 304, path
        assert again.headers["etag"] == etag
        assert again.headers["access-control-allow-origin"] == "*"


def test_a_revoked_key_says_the_graph_is_no_longer_shared(
    visitor: httpx.Client, engine: Engine, owner: Account
) -> None:
    _stat, key = shared_stat(engine, owner)
    assert visitor.get(f"/embed/graph/{key}.png").status_code == 200

    revoke(engine, owner, key)
    fragment = visitor.get(f"/embed/graph/{key}")
    png = visitor.get(f"/embed/graph/{key}.png", params={"w": "400", "h": "100"})
    svg = visitor.get(f"/embed/graph/{key}.svg")

    assert fragment.status_code == 410
    assert NO_LONGER_SHARED in fragment.text
    assert fragment.headers["access-control-allow-origin"] == "*"
    assert png.status_code == 410 and png.content.startswith(PNG)
    assert png.headers["cache-control"] == "no-store"
    assert svg.status_code == 410 and NO_LONGER_SHARED.encode() in svg.content


def test_a_trashed_stat_is_no_longer_shared(
    visitor: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat, key = shared_stat(engine, owner)

    with engine.begin() as conn:
        trash_stat(conn, stat, int(time.time()))

    answer = visitor.get(f"/embed/data/{key}")
    assert answer.status_code == 410
    assert NO_LONGER_SHARED in answer.text


def test_an_unknown_key_answers_404_in_the_form_asked(visitor: httpx.Client) -> None:
    fragment = visitor.get("/embed/graph/NoSuchKeyNoSuchKey0000")
    image = visitor.get("/embed/graph/NoSuchKeyNoSuchKey0000.png")

    assert fragment.status_code == 404 and NOT_SHARED in fragment.text
    assert image.status_code == 404 and image.content.startswith(PNG)


def test_a_key_only_ever_shows_its_own_stat(
    visitor: httpx.Client, engine: Engine, owner: Account
) -> None:
    shown, key = shared_stat(engine, owner, "public figure")
    hidden = make_stat(engine, owner, "private figure", "counter")
    put_points(engine, hidden, [(int(time.time()) - 60, 999)])

    answers = [visitor.get(f"/embed/{kind}/{key}", params={"tf": "1d"})
               for kind in ("data", "text", "table", "graph")]

    for answer in answers:
        assert "public figure" in answer.text
        assert "private figure" not in answer.text and "999" not in answer.text
        for secret in [*secrets_of(owner, shown), hidden.public_id]:
            assert secret not in answer.text
    # The stat's public id is no key: it opens nothing.
    assert visitor.get(f"/embed/graph/{shown.public_id}").status_code == 404


def test_embed_js_is_served_to_any_page(visitor: httpx.Client) -> None:
    answer = visitor.get("/javascripts/embed.js")

    assert answer.status_code == 200
    assert "javascript" in answer.headers["content-type"]
    assert "StatHatEmbed" in answer.text


def test_an_embed_works_with_an_account_made_elsewhere(
    visitor: httpx.Client, engine: Engine
) -> None:
    """Each owner's embeds are drawn with their own user id (a second owner works too)."""
    second = make_account(engine, "second")
    _stat, key = shared_stat(engine, second, "visits")

    assert visitor.get(f"/embed/graph/{key}.svg").status_code == 200


@pytest.mark.parametrize("path", ["/embed/graph/", "/embed/graph//x.png", "/embed/text/a/b/c/d.svg",
                                  "/embed/graph/k.png.png", "/embed/table/k?w=1e9&h=-1"])
def test_malformed_embed_addresses_answer_4xx_never_500(visitor: httpx.Client, path: str) -> None:
    answer = visitor.get(path)

    assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text)


def test_a_dashboard_key_draws_no_stat(
    visitor: httpx.Client, engine: Engine, owner: Account
) -> None:
    now = int(time.time())
    with engine.begin() as conn:
        board = dashboards.create_dashboard(conn, owner.user.id, "ops", now)
        key = shares.share_dashboard(conn, owner.user.id, board.id, now).key

    answer = visitor.get(f"/embed/graph/{key}")

    assert answer.status_code == 404
    assert "shares a dashboard, not a stat" in answer.text
