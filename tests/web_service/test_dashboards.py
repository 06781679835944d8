"""Dashboards over real HTTP: the owner's pages and forms, sharing by key, and who reaches what."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from aerie.schema import card_stats, dashboard_cards, dashboards
from aerie.stats import Stat
from tests.conftest import Account, make_stat, put_points
from tests.servers import RunningServer
from tests.web_service.conftest import Browser

PNG = b"\x89PNG\r\n\x1a\n"


def account(browser: Browser) -> Account:
    return Account(browser.user, "")


def create_dashboard(browser: Browser, name: str = "Signups") -> str:
    """The new dashboard's public id, from where the form redirects."""
    answer = browser.post("/dashboards", name=name)
    assert answer.status_code == 303, answer.text
    match = re.fullmatch(r"/dashboards/(\w+)\?edit=1&done=dashboard_created",
                         answer.headers["location"])
    assert match, answer.headers["location"]
    return match.group(1)


def add_card(browser: Browser, board: str, kind: str, stats: list[Stat], timeframe: str = "1d",
             title: str = "") -> httpx.Response:
    fields = {f"stat{i}": s.public_id for i, s in enumerate(stats, start=1)}
    return browser.post(f"/dashboards/{board}/cards", kind=kind, timeframe=timeframe, title=title,
                        **fields)


def cards_of(browser: Browser, board: str) -> list[dict[str, Any]]:
    answer = browser.json(f"/dashboards/{board}.json")
    assert answer.status_code == 200, answer.text
    cards: list[dict[str, Any]] = answer.json()["cards"]
    return cards


def rows_written(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (dashboards, dashboard_cards, card_stats)
        )


@pytest.fixture
def signups(owner_browser: Browser, engine: Engine) -> Stat:
    stat = make_stat(engine, account(owner_browser), "signups", "counter")
    now = int(time.time())
    put_points(engine, stat, [(now - 120, 5), (now - 60, 7)])
    return stat


@pytest.fixture
def load_time(owner_browser: Browser, engine: Engine) -> Stat:
    stat = make_stat(engine, account(owner_browser), "load time", "value")
    put_points(engine, stat, [(int(time.time()) - 60, 250)])
    return stat


def test_an_empty_list_explains_dashboards_and_has_a_json_twin(owner_browser: Browser) -> None:
    page = owner_browser.get("/dashboards")

    assert page.status_code == 200
    assert "No dashboards yet" in page.text
    assert "each card is a graph, a number or a table" in page.text
    assert owner_browser.json("/dashboards.json").json() == {"dashboards": []}


def test_create_rename_and_delete_a_dashboard(owner_browser: Browser) -> None:
    board = create_dashboard(owner_browser, "Growth")

    page = owner_browser.get(f"/dashboards/{board}?done=dashboard_created")
    assert "<h1>Growth</h1>" in page.text and "No cards yet" in page.text
    assert [d["name"] for d in owner_browser.json("/dashboards.json").json()["dashboards"]] == [
        "Growth"]

    renamed = owner_browser.post(f"/dashboards/{board}/rename", name="  Growth, weekly ")
    assert renamed.status_code == 303
    assert owner_browser.json(f"/dashboards/{board}.json").json()["name"] == "Growth, weekly"

    deleted = owner_browser.post(f"/dashboards/{board}/delete")
    assert deleted.headers["location"] == "/dashboards?done=dashboard_deleted"
    assert owner_browser.get(f"/dashboards/{board}").status_code == 404
    assert owner_browser.json("/dashboards.json").json() == {"dashboards": []}


def test_each_card_kind_shows_its_stats(
    owner_browser: Browser, signups: Stat, load_time: Stat
) -> None:
    board = create_dashboard(owner_browser)
    assert add_card(owner_browser, board, "graph", [signups, load_time], "1d",
                    "Both").status_code == 303
    assert add_card(owner_browser, board, "number", [signups, load_time], "1d").status_code == 303
    assert add_card(owner_browser, board, "table", [signups], "1h").status_code == 303

    graph, number, table = cards_of(owner_browser, board)
    page = owner_browser.get(f"/dashboards/{board}")

    assert graph["heading"] == "Both" and graph["timeframe"] == "1d"
    assert [s["name"] for s in graph["stats"]] == ["signups", "load time"]
    image = owner_browser.get(graph["graph"]["png_url"])
    assert image.status_code == 200 and image.content.startswith(PNG)
    again = owner_browser.get(graph["graph"]["png_url"],
                              headers={"if-none-match": image.headers["etag"]})
    assert again.status_code == 304
    svg = owner_browser.get(graph["graph"]["svg_url"])
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert f'src="{graph["graph"]["png_url"]}"' in page.text

    assert number["numbers"] == [
        {"name": "signups", "measure": "total", "value": 12, "change": None},
        {"name": "load time", "measure": "latest", "value": 250, "change": None},
    ]
    assert number["heading"] == "signups vs load time"

    rows = table["rows"]
    assert len(rows) == 60  # 1 hour of minutes, newest first
    assert rows[0]["time"] > rows[-1]["time"]
    assert sum(r["values"][0] for r in rows) == 12
    assert "Time (UTC)" in page.text and "<td class=\"num\">7</td>" in page.text


def test_cards_are_removed_and_reordered_and_the_order_persists(
    owner_browser: Browser, signups: Stat
) -> None:
    board = create_dashboard(owner_browser)
    for title in ("a", "b", "c", "d"):
        add_card(owner_browser, board, "graph", [signups], title=title)
    ids = {c["title"]: c["id"] for c in cards_of(owner_browser, board)}

    def order() -> list[object]:
        return [c["title"] for c in cards_of(owner_browser, board)]

    move = f"/dashboards/{board}/cards/{{}}/move"
    assert owner_browser.post(move.format(ids["c"]), direction="up").status_code == 303
    assert order() == ["a", "c", "b", "d"]
    owner_browser.post(move.format(ids["a"]), direction="down")
    assert order() == ["c", "a", "b", "d"]
    owner_browser.post(move.format(ids["c"]), direction="up")  # already first: stays
    owner_browser.post(move.format(ids["d"]), position="0")
    assert order() == ["d", "c", "a", "b"]
    owner_browser.post(move.format(ids["d"]), position="99")  # past the end: last
    assert order() == ["c", "a", "b", "d"]
    assert owner_browser.post(move.format(ids["d"]), position="soon").status_code == 400

    removed = owner_browser.post(f"/dashboards/{board}/cards/{ids['a']}/remove")
    assert removed.status_code == 303
    assert order() == ["c", "b", "d"]
    assert [c["position"] for c in cards_of(owner_browser, board)] == [0, 1, 2]
    owner_browser.post(move.format(ids["d"]), direction="up")
    assert order() == ["c", "d", "b"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "graph", "timeframe": "1d"}, "A card shows 1 to 3 stats; you chose 0"),
        ({"kind": "graph", "timeframe": "1d", "stats": "four"}, "A card shows 1 to 3 stats; you chose 4"),
        ({"kind": "graph", "timeframe": "1 week", "stats": "one"}, "Timeframe &#39;1 week&#39; is not understood"),
        ({"kind": "pie", "timeframe": "1d", "stats": "one"}, "A card is a graph, number or table, not &#39;pie&#39;"),
        ({"kind": "table", "timeframe": "1d", "stats": "one", "title": "t" * 201}, "Card title is 201 characters"),
    ],
)
def test_a_bad_card_is_refused_saying_what_to_fix_and_nothing_is_written(
    owner_browser: Browser, engine: Engine, fields: dict[str, str], message: str
) -> None:
    mine = [make_stat(engine, account(owner_browser), f"s{i}", "counter") for i in range(4)]
    ids = {"one": mine[0].public_id, "four": ",".join(s.public_id for s in mine)}
    if "stats" in fields:
        fields = {**fields, "stats": ids[fields["stats"]]}
    board = create_dashboard(owner_browser)
    before = rows_written(engine)

    answer = owner_browser.post(f"/dashboards/{board}/cards", **fields)

    assert answer.status_code == 400
    assert message in answer.text
    assert rows_written(engine) == before
    assert cards_of(owner_browser, board) == []


def test_a_dashboard_needs_a_name(owner_browser: Browser, engine: Engine) -> None:
    before = rows_written(engine)
    answer = owner_browser.post("/dashboards", name="   ")

    assert answer.status_code == 400
    assert "Dashboard name is empty" in answer.text
    assert rows_written(engine) == before
    board = create_dashboard(owner_browser, "Kept")
    assert owner_browser.post(f"/dashboards/{board}/rename", name="").status_code == 400
    assert owner_browser.json(f"/dashboards/{board}.json").json()["name"] == "Kept"


def test_another_users_stat_cannot_go_on_a_card(
    owner_browser: Browser, outsider_browser: Browser, engine: Engine, signups: Stat
) -> None:
    theirs = make_stat(engine, account(outsider_browser), "secret", "counter")
    board = create_dashboard(owner_browser)
    before = rows_written(engine)

    answer = add_card(owner_browser, board, "graph", [signups, theirs])

    assert answer.status_code == 404
    assert "secret" not in answer.text
    assert rows_written(engine) == before
    missing = owner_browser.post(f"/dashboards/{board}/cards", kind="graph", timeframe="1d",
                                 stat1="nosuch")
    assert missing.status_code == 404  # the same answer as for a stat that does not exist


def test_an_outsider_gets_404_on_every_dashboard_route(
    owner_browser: Browser, outsider_browser: Browser, engine: Engine, signups: Stat
) -> None:
    board = create_dashboard(owner_browser, "Private")
    add_card(owner_browser, board, "graph", [signups])
    add_card(owner_browser, board, "graph", [signups])
    card, other = (c["id"] for c in cards_of(owner_browser, board))
    theirs = make_stat(engine, account(outsider_browser), "mine", "counter")
    base = f"/dashboards/{board}"

    gets = [base, f"{base}.json", f"{base}/cards/{card}/graph.png",
            f"{base}/cards/{card}/graph.svg"]
    for path in gets:
        assert outsider_browser.get(path).status_code == 404, path
    assert outsider_browser.json(f"{base}.json").status_code == 404
    posts: list[tuple[str, dict[str, str]]] = [
        (f"{base}/rename", {"name": "Mine now"}),
        (f"{base}/cards", {"kind": "graph", "timeframe": "1d", "stat1": theirs.public_id}),
        (f"{base}/cards/{card}/move", {"direction": "down"}),
        (f"{base}/cards/{card}/remove", {}),
        (f"{base}/share", {}),
        (f"{base}/unshare", {}),
        (f"{base}/delete", {}),
    ]
    for path, fields in posts:
        assert outsider_browser.post(path, **fields).status_code == 404, path

    # Nothing changed, and the owner's card ids open nothing on a dashboard of the outsider's.
    twin = owner_browser.json(f"{base}.json").json()
    assert twin["name"] == "Private" and twin["embed_key"] is None
    assert [c["id"] for c in twin["cards"]] == [card, other]
    own = create_dashboard(outsider_browser)
    assert outsider_browser.get(f"/dashboards/{own}/cards/{card}/graph.png").status_code == 404
    assert outsider_browser.post(f"/dashboards/{own}/cards/{card}/remove").status_code == 404
    assert len(cards_of(owner_browser, board)) == 2


def test_a_card_whose_stats_were_deleted_says_so(
    owner_browser: Browser, signups: Stat, load_time: Stat
) -> None:
    board = create_dashboard(owner_browser)
    add_card(owner_browser, board, "graph", [signups])
    add_card(owner_browser, board, "number", [signups, load_time])
    owner_browser.post(f"/stats/{signups.public_id}/delete")

    graph, number = cards_of(owner_browser, board)
    page = owner_browser.get(f"/dashboards/{board}")

    assert graph["stats_deleted"] is True and "graph" not in graph
    # In the trash, restorable: the cards say so (and where to restore it) in both cases.
    assert page.text.count("signups is in the Trash") == 2
    assert graph["stats_in_trash"] == ["signups"]
    assert owner_browser.get(f"/dashboards/{board}/cards/{graph['id']}/graph.png").status_code == 404
    assert [n["name"] for n in number["numbers"]] == ["load time"]


def test_a_shared_dashboard_opens_logged_out_showing_only_its_cards(
    owner_browser: Browser, web: RunningServer, signups: Stat, load_time: Stat
) -> None:
    board = create_dashboard(owner_browser, "Public numbers")
    add_card(owner_browser, board, "graph", [signups], title="Signups graph")
    add_card(owner_browser, board, "number", [load_time], title="Load now")
    add_card(owner_browser, board, "table", [signups], "1h", title="Signups table")

    assert owner_browser.post(f"/dashboards/{board}/share").status_code == 303
    key = owner_browser.json(f"/dashboards/{board}.json").json()["embed_key"]
    owner_page = owner_browser.get(f"/dashboards/{board}?edit=1").text  # sharing: edit mode
    assert f'href="/d/{key}"' in owner_page
    assert f'&lt;iframe src="//{web.url.split("//")[1]}/embed/dashboard/{key}"' in owner_page
    assert owner_browser.post(f"/dashboards/{board}/share").status_code == 303  # same key again
    assert owner_browser.json(f"/dashboards/{board}.json").json()["embed_key"] == key

    with httpx.Client(base_url=web.url, headers={"accept": "text/html"}) as visitor:
        page = visitor.get(f"/d/{key}")
        embedded = visitor.get(f"/embed/dashboard/{key}")
        twin = visitor.get(f"/d/{key}.json").json()
        images = re.findall(r'<img data-sized data-src="([^"]+)"[^>]*class="card-graph"',
                            page.text)
        assert len(images) == 1
        image = visitor.get(images[0])
        again = visitor.get(images[0], headers={"if-none-match": image.headers["etag"]})

    assert page.status_code == 200 and page.headers["cache-control"] == "public, max-age=60"
    for title in ("Public numbers", "Signups graph", "Load now", "Signups table"):
        assert title in page.text and title in embedded.text
    assert image.status_code == 200 and image.content.startswith(PNG)
    assert image.headers["cache-control"] == "public, max-age=60"
    assert again.status_code == 304
    user = owner_browser.user
    for secret in (signups.public_id, load_time.public_id, signups.classic_key, user.email,
                   user.ezkey, board, 'name="csrf"', "<form", "/stats", "/settings"):
        assert secret not in page.text, secret
        assert secret not in embedded.text, secret
        assert secret not in str(twin), secret
    assert [c["heading"] for c in twin["cards"]] == ["Signups graph", "Load now", "Signups table"]
    # The embed page has no site chrome and may be framed anywhere.
    assert 'class="topbar"' in page.text and 'class="topbar"' not in embedded.text
    assert "x-frame-options" not in embedded.headers
    assert "frame-ancestors" not in embedded.headers.get("content-security-policy", "")


def test_revoking_the_share_answers_410_and_sharing_again_draws_a_new_key(
    owner_browser: Browser, web: RunningServer, signups: Stat
) -> None:
    board = create_dashboard(owner_browser)
    add_card(owner_browser, board, "graph", [signups])
    card = cards_of(owner_browser, board)[0]["id"]
    owner_browser.post(f"/dashboards/{board}/share")
    key = owner_browser.json(f"/dashboards/{board}.json").json()["embed_key"]

    assert owner_browser.post(f"/dashboards/{board}/unshare").status_code == 303
    assert owner_browser.json(f"/dashboards/{board}.json").json()["embed_key"] is None

    with httpx.Client(base_url=web.url, headers={"accept": "text/html"}) as visitor:
        for path in (f"/d/{key}", f"/embed/dashboard/{key}", f"/d/{key}/cards/{card}/graph.png"):
            gone = visitor.get(path)
            assert gone.status_code == 410, path
        assert "This dashboard is no longer shared" in visitor.get(f"/d/{key}").text
        owner_browser.post(f"/dashboards/{board}/share")
        fresh = owner_browser.json(f"/dashboards/{board}.json").json()["embed_key"]
        assert fresh != key
        assert visitor.get(f"/d/{fresh}").status_code == 200
        assert visitor.get(f"/d/{key}").status_code == 410


def test_a_key_opens_only_its_own_dashboards_cards(
    owner_browser: Browser, web: RunningServer, signups: Stat
) -> None:
    shared, private = create_dashboard(owner_browser), create_dashboard(owner_browser)
    add_card(owner_browser, shared, "graph", [signups])
    add_card(owner_browser, private, "graph", [signups])
    private_card = cards_of(owner_browser, private)[0]["id"]
    owner_browser.post(f"/dashboards/{shared}/share")
    key = owner_browser.json(f"/dashboards/{shared}.json").json()["embed_key"]

    with httpx.Client(base_url=web.url, headers={"accept": "text/html"}) as visitor:
        assert visitor.get(f"/d/{key}/cards/{private_card}/graph.png").status_code == 404
        assert visitor.get(f"/d/{key}/cards/{private_card}/graph.svg").status_code == 404
        assert visitor.get("/d/NoSuchKeyAtAll0000000").status_code == 404
        assert visitor.get("/embed/dashboard/NoSuchKeyAtAll0000000").status_code == 404
        assert visitor.get(f"/dashboards/{shared}").status_code in (303, 401)  # log in first
