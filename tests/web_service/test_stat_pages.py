"""The stat pages over real HTTP, through the interactor, the app servers and presenters."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import Engine

from aerie.retention import prune_expired
from aerie.settings import Settings
from aerie.stats import TRASH_SECONDS
from interactor import stat_pages
from interactor.stat_pages import TIMEFRAMES
from tests.conftest import Account, make_stat, put_points
from tests.servers import RunningServer
from tests.web_service.conftest import Browser

PNG = b"\x89PNG\r\n\x1a\n"


def account(browser: Browser) -> Account:
    return Account(browser.user, "")


def test_an_empty_list_shows_how_to_send_the_first_point(owner_browser: Browser) -> None:
    page = owner_browser.get("/stats")

    assert page.status_code == 200
    assert "No stats yet" in page.text
    assert f"ezkey={owner_browser.user.ezkey.replace('@', '%40')}&amp;stat=hello" in page.text
    assert owner_browser.json("/stats.json").json() == {
        "search": "", "tag": "", "sort": "name", "page": 1, "pages": 1, "total": 0,
        "more": False, "tags": [], "stats": []}


def test_the_list_shows_each_stat_with_kind_latest_value_and_sparkline(
    owner_browser: Browser, engine: Engine
) -> None:
    signups = make_stat(engine, account(owner_browser), "signups", "counter")
    make_stat(engine, account(owner_browser), "load time", "value")
    put_points(engine, signups, [(int(time.time()) - 60, 1200)])

    page = owner_browser.get("/stats")
    twin = owner_browser.json("/stats.json").json()

    assert [s["name"] for s in twin["stats"]] == ["load time", "signups"]
    assert twin["stats"][1]["latest"] == 1200
    assert twin["stats"][1]["kind"] == "counter"
    assert len(twin["stats"][1]["spark"]) == 24
    assert "1.2k" in page.text  # numbers as people read them
    assert page.text.count('class="spark"') == 1  # only signups has data today
    assert "just now" in page.text


def test_a_long_list_shows_its_first_page_and_links_the_next(
    owner_browser: Browser, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stat_pages, "PAGE_SIZE", 2)  # the web app runs in this process
    for name in ("a", "b", "c"):
        make_stat(engine, account(owner_browser), name, "counter")

    twin = owner_browser.json("/stats.json").json()
    page = owner_browser.get("/stats")
    second = owner_browser.json("/stats.json", params={"page": 2}).json()
    searched = owner_browser.json("/stats.json", params={"q": "c"}).json()

    assert [s["name"] for s in twin["stats"]] == ["a", "b"] and twin["more"] is True
    assert twin["pages"] == 2 and twin["total"] == 3
    assert 'rel="next"' in page.text and "Page 1 of 2" in page.text
    assert [s["name"] for s in second["stats"]] == ["c"] and second["more"] is False
    assert [s["name"] for s in searched["stats"]] == ["c"] and searched["more"] is False
    assert owner_browser.get("/stats", params={"page": 0}).status_code == 400
    assert owner_browser.get("/stats", params={"sort": "size"}).status_code == 400


def test_search_keeps_names_containing_the_text_in_any_case(
    owner_browser: Browser, engine: Engine
) -> None:
    for name in ("api.requests", "API errors", "signups", "100%_done"):
        make_stat(engine, account(owner_browser), name, "counter")

    def found(q: str) -> list[str]:
        return [s["name"] for s in owner_browser.json("/stats.json", params={"q": q}).json()["stats"]]

    assert found("api") == ["API errors", "api.requests"]
    assert found("%_") == ["100%_done"]
    assert "No stat names contain" in owner_browser.get("/stats", params={"q": "zzz"}).text


def test_a_stat_page_has_graph_summary_and_a_json_twin_from_the_same_result(
    owner_browser: Browser, engine: Engine
) -> None:
    stat = make_stat(engine, account(owner_browser), "orders", "counter")
    now = int(time.time())
    put_points(engine, stat, [(now - 3 * 3600, 2), (now - 3600, 3), (now - 8 * 86400, 5)])

    page = owner_browser.get(f"/stats/{stat.public_id}")
    twin = owner_browser.json(f"/stats/{stat.public_id}.json").json()
    by_accept = owner_browser.json(f"/stats/{stat.public_id}").json()

    assert page.status_code == 200
    assert f'data-src="/stats/{stat.public_id}/graph.png?tf=1w"' in page.text
    assert twin == by_accept
    assert twin["timeframe"] == "1w"
    assert twin["summary"]["current"]["total"] == 5
    assert twin["summary"]["previous"]["total"] == 5
    assert sum(p["value"] for p in twin["points"]) == 5
    assert twin["graph"]["png_url"] == f"/stats/{stat.public_id}/graph.png?tf=1w"


def test_every_timeframe_button_and_a_typed_statHat_timeframe_show_the_graph(
    owner_browser: Browser, engine: Engine
) -> None:
    stat = make_stat(engine, account(owner_browser), "temps", "value")
    put_points(engine, stat, [(int(time.time()) - 120, 20.5)])

    for tf in (*TIMEFRAMES, "2d30m"):
        twin = owner_browser.json(f"/stats/{stat.public_id}.json", params={"tf": tf})
        assert twin.status_code == 200, (tf, twin.text)
        image = owner_browser.get(twin.json()["graph"]["png_url"])
        assert image.content.startswith(PNG), tf
    assert len(owner_browser.json(f"/stats/{stat.public_id}.json?tf=2d30m").json()["points"]) == 96


def test_a_bad_timeframe_is_a_400_page_saying_what_to_type(
    owner_browser: Browser, engine: Engine
) -> None:
    stat = make_stat(engine, account(owner_browser), "temps", "value")

    page = owner_browser.get(f"/stats/{stat.public_id}", params={"tf": "2x"})

    assert page.status_code == 400
    assert "text/html" in page.headers["content-type"]
    assert "such as" in page.text and "1w3h" in page.text


def test_a_mistyped_timeframe_stays_in_its_box_to_be_fixed(
    owner_browser: Browser, engine: Engine
) -> None:
    stat = make_stat(engine, account(owner_browser), "queue depth", "value")
    typed = '2dd"><b>x'

    page = owner_browser.get(f"/stats/{stat.public_id}", params={"tf": typed})
    compared = owner_browser.get("/compare", params={"ids": stat.public_id, "tf": typed})

    box = 'name="tf" value="2dd&#34;&gt;&lt;b&gt;x"'
    for answer in (page, compared):
        assert answer.status_code == 400 and 'class="flash error"' in answer.text
        assert box in answer.text, answer.text  # what was typed, escaped, not the default
        assert "<b>x" not in answer.text


def test_graph_images_are_revalidated_by_etag_until_new_data_lands(
    owner_browser: Browser, engine: Engine
) -> None:
    stat = make_stat(engine, account(owner_browser), "orders", "counter")
    path = f"/stats/{stat.public_id}/graph.png"

    first = owner_browser.get(path, params={"tf": "1d"})
    etag = first.headers["etag"]
    again = owner_browser.get(path, params={"tf": "1d"}, headers={"if-none-match": etag})
    put_points(engine, stat, [(int(time.time()) - 30, 7)])
    after_data = owner_browser.get(path, params={"tf": "1d"}, headers={"if-none-match": etag})
    svg = owner_browser.get(f"/stats/{stat.public_id}/graph.svg", params={"tf": "1d"})

    assert first.status_code == 200 and first.content.startswith(PNG)
    assert again.status_code == 304 and again.content == b""
    assert after_data.status_code == 200 and after_data.headers["etag"] != etag
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert owner_browser.get(f"{path[:-4]}.gif").status_code == 400


@pytest.mark.parametrize("query", [
    {"theme": "sepia"}, {"scale": "9"}, {"scale": "0.5"}, {"w": "0"}, {"h": "wide"},
    {"threshold": "nan"}, {"threshold": "inf"}, {"threshold": "12abc"},
])
def test_a_graph_image_asked_for_in_a_look_it_cannot_have_is_a_400(
    owner_browser: Browser, engine: Engine, query: dict[str, str]
) -> None:
    stat = make_stat(engine, account(owner_browser), "orders", "counter")

    answer = owner_browser.get(f"/stats/{stat.public_id}/graph.png", params={"tf": "1d", **query})

    assert answer.status_code == 400, (query, answer.status_code, answer.text[:200])


def test_how_to_send_data_examples_carry_the_stats_real_keys_and_work(
    owner_browser: Browser, engine: Engine, api: RunningServer
) -> None:
    stat = make_stat(engine, account(owner_browser), "jobs", "value")
    examples = owner_browser.json(f"/stats/{stat.public_id}.json").json()["examples"]
    # The first curl line, as pasted into a terminal, aimed at this test's API port.
    data, url = examples["curl"].splitlines()[0].removeprefix('curl -d "').split('" ')

    posted = httpx.post(
        api.url + url[url.rindex("/"):], content=data,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )

    assert list(examples) == ["curl", "HTML", "JavaScript", "Python", "Go"]
    for code in examples.values():
        assert stat.classic_key in code and owner_browser.user.ukey in code
    assert url.endswith("/v") and "value" in examples["Go"]
    assert posted.status_code == 200, posted.text  # committed
    summary = owner_browser.json(f"/stats/{stat.public_id}.json").json()["summary"]
    assert summary["current"]["latest"] == 42.5


def test_create_rename_trash_restore_and_purge(
    owner_browser: Browser, engine: Engine, settings: Settings
) -> None:
    created = owner_browser.post("/stats", name="deploys", kind="counter")
    assert created.status_code == 303
    stat_path = created.headers["location"].split("?")[0]
    public_id = stat_path.rsplit("/", 1)[1]
    assert "Stat created." in owner_browser.get(created.headers["location"]).text

    duplicate = owner_browser.post("/stats", name="deploys", kind="value")
    assert duplicate.status_code == 409 and "already have a stat named" in duplicate.text
    assert owner_browser.post("/stats", name="x", kind="gauge").status_code == 400

    assert owner_browser.post(f"{stat_path}/rename", name="releases").status_code == 303
    assert owner_browser.json(f"{stat_path}.json").json()["stat"]["name"] == "releases"

    assert owner_browser.post(f"{stat_path}/delete").headers["location"] == "/stats?done=trashed"
    assert owner_browser.get(stat_path).status_code == 404
    assert owner_browser.json("/stats.json").json()["stats"] == []
    trash = owner_browser.json("/trash.json").json()["stats"]
    assert [s["name"] for s in trash] == ["releases"]

    assert owner_browser.post(f"/trash/{public_id}/restore").status_code == 303
    assert owner_browser.get(stat_path).status_code == 200

    owner_browser.post(f"{stat_path}/delete")
    with engine.connect():
        prune_expired(engine, settings, int(time.time()) + TRASH_SECONDS - 60)
    assert len(owner_browser.json("/trash.json").json()["stats"]) == 1  # not yet 48 hours
    prune_expired(engine, settings, int(time.time()) + TRASH_SECONDS + 60)
    assert owner_browser.json("/trash.json").json()["stats"] == []
    assert owner_browser.post(f"/trash/{public_id}/restore").status_code == 404


def test_an_old_link_to_a_trashed_stat_offers_its_owner_to_restore_it(
    owner_browser: Browser, engine: Engine
) -> None:
    stat = make_stat(engine, account(owner_browser), "nightly builds", "counter")
    owner_browser.post(f"/stats/{stat.public_id}/delete")

    page = owner_browser.get(f"/stats/{stat.public_id}")
    twin = owner_browser.json(f"/stats/{stat.public_id}.json")

    assert page.status_code == 404  # the address names no live stat
    assert "nightly builds" in page.text and "in the trash" in page.text
    restore = (f'<form class="inline" method="post" action="/trash/{stat.public_id}/restore">\n'
               f'      <input type="hidden" name="csrf" value="{owner_browser.csrf}">')
    assert restore in page.text and "Restore nightly builds</button>" in page.text
    assert twin.status_code == 404 and twin.json()["stat"]["name"] == "nightly builds"
    restored = owner_browser.post(f"/trash/{stat.public_id}/restore")
    assert restored.headers["location"] == f"/stats/{stat.public_id}?done=restored"
    assert owner_browser.get(f"/stats/{stat.public_id}").status_code == 200


def test_another_accounts_trashed_stat_answers_as_one_that_does_not_exist(
    owner_browser: Browser, outsider_browser: Browser, engine: Engine
) -> None:
    stat = make_stat(engine, account(owner_browser), "secret launches", "counter")
    owner_browser.post(f"/stats/{stat.public_id}/delete")
    missing = "Zz9Zz9"

    theirs = outsider_browser.get(f"/stats/{stat.public_id}")
    nothing = outsider_browser.get(f"/stats/{missing}")
    theirs_json = outsider_browser.json(f"/stats/{stat.public_id}.json")
    nothing_json = outsider_browser.json(f"/stats/{missing}.json")

    assert theirs.status_code == nothing.status_code == 404
    assert theirs.text == nothing.text.replace(missing, stat.public_id)
    assert "secret launches" not in theirs.text and "Restore" not in theirs.text
    assert theirs_json.json() == {**nothing_json.json(),
                                  "msg": nothing_json.json()["msg"].replace(missing, stat.public_id)}


def test_a_refused_rename_or_unit_keeps_the_stat_page_saying_what_to_fix(
    owner_browser: Browser, engine: Engine
) -> None:
    stat = make_stat(engine, account(owner_browser), "orders", "counter")
    make_stat(engine, account(owner_browser), "refunds", "counter")
    path = f"/stats/{stat.public_id}"

    taken = owner_browser.post(f"{path}/rename", name="refunds")
    unit = owner_browser.post(f"{path}/details", unit="u" * 33, description="", tags="")
    as_json = owner_browser.client.post(f"{path}/rename", headers={"accept": "application/json"},
                                        data={"csrf": owner_browser.csrf, "name": "refunds"})

    assert taken.status_code == 409 and unit.status_code == 400
    flash = '<div class="flash error" role="status">'
    assert f"{flash}You already have a stat named &#39;refunds&#39;</div>" in taken.text
    assert f"{flash}Unit is 33 characters; the limit is 32</div>" in unit.text
    for page in (taken, unit):  # the stat's own page, its forms there to try again
        assert "<h1>orders" in page.text and f'action="{path}/rename"' in page.text
    assert as_json.status_code == 409
    assert as_json.json()["msg"] == "you already have a stat named 'refunds'"
    assert owner_browser.json(f"{path}.json").json()["stat"]["name"] == "orders"


def test_compare_draws_up_to_three_stats_with_their_summaries(
    owner_browser: Browser, engine: Engine
) -> None:
    ids = [make_stat(engine, account(owner_browser), f"s{i}", "counter").public_id for i in range(4)]

    empty = owner_browser.json("/compare.json").json()
    three = owner_browser.json("/compare.json", params={"ids": ids[:3], "tf": "1d"})
    four = owner_browser.json("/compare.json", params={"ids": ids})
    image = owner_browser.get(three.json()["graph"]["png_url"])

    assert empty["graph"] is None and len(empty["choices"]) == 4
    assert [s["name"] for s in three.json()["stats"]] == ["s0", "s1", "s2"]
    assert four.status_code == 400 and "up to 3" in four.json()["msg"]
    assert image.content.startswith(PNG)


def test_compare_takes_ids_separated_by_commas_as_typed_into_the_address(
    owner_browser: Browser, engine: Engine
) -> None:
    ids = [make_stat(engine, account(owner_browser), f"c{i}", "counter").public_id for i in range(3)]

    page = owner_browser.get(f"/compare?ids={ids[0]},{ids[1]}&ids={ids[2]}")
    twin = owner_browser.json(f"/compare.json?ids={ids[0]},{ids[1]}")
    image = owner_browser.get(f"/compare/graph.png?ids={ids[0]},{ids[1]}")

    assert page.status_code == 200, page.text
    assert all(f'href="/stats/{i}?tf=1w"' in page.text for i in ids)  # each chosen, linked
    assert [s["name"] for s in twin.json()["stats"]] == ["c0", "c1"]
    assert image.status_code == 200 and image.content.startswith(PNG)


def test_pages_need_a_session(web: object, owner_browser: Browser) -> None:
    with httpx.Client(base_url=str(owner_browser.client.base_url)) as anonymous:
        page = anonymous.get("/stats?q=a", headers={"accept": "text/html"})
        twin = anonymous.get("/stats.json")

    assert page.status_code == 303 and page.headers["location"] == "/login?next=/stats%3Fq%3Da"
    assert twin.status_code == 401 and twin.json()["msg"] == "log in to see this page"


def test_a_form_without_the_csrf_token_changes_nothing(
    owner_browser: Browser, engine: Engine
) -> None:
    stat = make_stat(engine, account(owner_browser), "orders", "counter")

    forged = owner_browser.client.post(
        f"/stats/{stat.public_id}/rename", data={"name": "pwned"}, headers={"accept": "text/html"}
    )

    assert forged.status_code == 403
    assert owner_browser.json(f"/stats/{stat.public_id}.json").json()["stat"]["name"] == "orders"


def test_an_outsider_reaches_none_of_the_owners_stats_by_any_route(
    owner_browser: Browser, outsider_browser: Browser, engine: Engine
) -> None:
    stat = make_stat(engine, account(owner_browser), "secret revenue", "counter")
    put_points(engine, stat, [(int(time.time()) - 60, 99)])
    sid = stat.public_id
    missing = "Zz9Zz9"

    for path in (f"/stats/{sid}", f"/stats/{sid}.json", f"/stats/{sid}/graph.png",
                 f"/stats/{sid}/graph.svg", f"/compare/graph.png?ids={sid}",
                 f"/compare.json?ids={sid}"):
        theirs = outsider_browser.json(path)
        nothing = outsider_browser.json(path.replace(sid, missing))
        assert theirs.status_code == nothing.status_code == 404, path
        assert theirs.json()["msg"] == nothing.json()["msg"].replace(missing, sid), path
    for action in ("rename", "details", "delete"):
        assert outsider_browser.post(f"/stats/{sid}/{action}", name="mine", unit="x").status_code == 404
    owner_browser.post(f"/stats/{sid}/delete")
    assert outsider_browser.post(f"/trash/{sid}/restore").status_code == 404
    for path in ("/stats.json", "/stats.json?q=secret", "/trash.json", "/compare.json"):
        assert "secret revenue" not in outsider_browser.json(path).text, path
    assert owner_browser.json("/trash.json").json()["stats"][0]["name"] == "secret revenue"


def test_a_form_posted_while_logged_out_returns_to_a_page_not_to_the_form_target(
    web: RunningServer,
) -> None:
    with httpx.Client(base_url=web.url, headers={"accept": "text/html"}) as anonymous:
        posted = anonymous.post("/settings/tokens", data={"label": "x"})
        opened = anonymous.get("/settings/tokens")

    assert posted.status_code == 303 and posted.headers["location"] == "/login?next=/stats"
    assert opened.status_code == 405 and "text/html" in opened.headers["content-type"]
    assert "GET is not allowed here" in opened.text


def test_a_delete_link_asks_before_deleting_and_only_the_owner_gets_the_page(
    owner_browser: Browser, outsider_browser: Browser, engine: Engine
) -> None:
    stat = make_stat(engine, account(owner_browser), "sigups", "counter")

    page = owner_browser.get(f"/stats/{stat.public_id}/delete")

    assert page.status_code == 200 and "Delete sigups?" in page.text
    assert owner_browser.json(f"/stats/{stat.public_id}.json").status_code == 200  # not yet
    assert outsider_browser.get(f"/stats/{stat.public_id}/delete").status_code == 404
    assert owner_browser.post(f"/stats/{stat.public_id}/delete").status_code == 303
    assert owner_browser.json(f"/stats/{stat.public_id}.json").status_code == 404
