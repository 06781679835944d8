"""Hostile text and numbers are refused, naming the character and its position, wherever they enter.

Control characters, bidi overrides and isolates, byte-order marks and invisible-only
names would reach mail headers, CSV files, terminals and pages; digits that only look
like ASCII (``１２``) and Python's extra float spellings must not become numbers.
Every case writes nothing; ordinary letters of any script still work.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from aerie.schema import alerts, comments, dashboard_cards, dashboards, stats
from presenters.filters import sentence
from tests.api_service.conftest import Servers
from tests.api_service.helpers import assert_error, recent_minute, stat_info, stat_names
from tests.conftest import Account, make_stat
from tests.servers import RunningServer
from tests.web_service.conftest import Browser

# (character, how the answer names it): each is sent inside "ab_cd", at position 3.
HOSTILE = [
    pytest.param("\x00", "U+0000 (null)", id="NUL"),
    pytest.param("\r", "U+000D (carriage return)", id="CR"),
    pytest.param("\n", "U+000A (line feed)", id="LF"),
    pytest.param("\t", "U+0009 (tab)", id="TAB"),
    pytest.param("\x1b", "U+001B (escape)", id="ESC"),
    pytest.param("\x7f", "U+007F (delete)", id="DEL"),
    pytest.param("\x85", "U+0085 (next line)", id="NEL"),
    pytest.param("\u202e", "U+202E (right-to-left override)", id="RLO"),
    pytest.param("\u2066", "U+2066 (left-to-right isolate)", id="LRI"),
    pytest.param("\ufeff", "U+FEFF (byte order mark)", id="BOM"),
]
# Names with nothing a person could see or type back.
INVISIBLE = [
    pytest.param("\ufeff", "U+FEFF (byte order mark) at position 1", id="lone-BOM"),
    pytest.param("\u200b\u200b", "has no visible character", id="zero-width-spaces"),
    pytest.param("   ", "stat name is empty", id="spaces"),
]
# Numbers Python's float() reads but no StatHat client sends.
NOT_NUMBERS = [
    pytest.param("１２", "U+FF11 (fullwidth digit one) at position 1", id="fullwidth"),
    pytest.param("\u0661\u0662", "U+0661 (arabic-indic digit one) at position 1", id="arabic"),
    pytest.param("12\r", "U+000D (carriage return) at position 3", id="trailing-CR"),
    pytest.param("nan", "must be a number", id="nan"),
    pytest.param("inf", "must be a number", id="inf"),
    pytest.param("Infinity", "must be a number", id="infinity"),
    pytest.param("1_000", "must be a number", id="underscore"),
    pytest.param("1e999", "must be a finite number", id="overflow"),
]
ORDINARY = ["café au lait", "日本 signups", "🚀 launches", "עברית\u200f", "naïve-ü ß"]


def sent_to_ez(api: RunningServer, how: str, params: dict[str, Any]) -> httpx.Response:
    """One EZ point as a form body, a query string, or the second point of a JSON batch."""
    if how == "form":
        return httpx.post(f"{api.url}/ez", data=params)
    if how == "query":
        return httpx.get(f"{api.url}/ez", params=params)
    ezkey = params.pop("ezkey")
    batch = [{"stat": "harmless", "count": 1}, params]
    return httpx.post(f"{api.url}/ez", json={"ezkey": ezkey, "data": batch})


def where(how: str) -> str:
    return "data[1]: " if how == "json" else ""


@pytest.mark.parametrize("how", ["form", "query", "json"])
@pytest.mark.parametrize(("char", "named"), HOSTILE)
def test_a_stat_name_with_a_hostile_character_is_refused_and_nothing_is_stored(
    servers: Servers, owner: Account, how: str, char: str, named: str,
) -> None:
    api, web = servers
    answer = sent_to_ez(api, how, {"ezkey": owner.ezkey, "stat": f"ab{char}cd", "count": "1"})
    assert_error(answer, 400, f"{where(how)}stat: character {named} at position 3 is not allowed")
    assert stat_names(web, owner) == []


@pytest.mark.parametrize(("char", "named"), HOSTILE[:3])
def test_each_tilde_fan_out_name_is_checked(
    servers: Servers, owner: Account, char: str, named: str,
) -> None:
    api, web = servers
    answer = sent_to_ez(api, "form", {"ezkey": owner.ezkey, "stat": f"hits~a,b{char}", "count": 1})
    assert_error(answer, 400, f"stat: character {named} at position 9 is not allowed")
    assert stat_names(web, owner) == []


@pytest.mark.parametrize(("name", "says"), INVISIBLE)
def test_a_stat_name_with_nothing_visible_is_refused(
    servers: Servers, owner: Account, name: str, says: str,
) -> None:
    api, web = servers
    assert_error(sent_to_ez(api, "form", {"ezkey": owner.ezkey, "stat": name, "count": "1"}),
                 400, says)
    assert stat_names(web, owner) == []


@pytest.mark.parametrize("how", ["form", "query", "json"])
@pytest.mark.parametrize(("number", "says"), NOT_NUMBERS)
def test_ez_numbers_are_ascii_decimal_only(
    servers: Servers, owner: Account, how: str, number: str, says: str,
) -> None:
    api, web = servers
    for field in ("count", "t"):
        params = {"ezkey": owner.ezkey, "stat": "hits", "count": "1", field: number}
        answer = sent_to_ez(api, how, params)
        assert_error(answer, 400, f"{where(how)}{field}")
        assert says in answer.json()["msg"]
    assert stat_names(web, owner) == []


@pytest.mark.parametrize("path", ["/v", "/c"])
@pytest.mark.parametrize(("number", "says"), NOT_NUMBERS[:4])
def test_classic_numbers_are_ascii_decimal_only(
    servers: Servers, owner: Account, engine: Engine, path: str, number: str, says: str,
) -> None:
    api, web = servers
    kind = "value" if path == "/v" else "counter"
    stat = make_stat(engine, owner, f"classic {kind}", kind)
    field = "value" if path == "/v" else "count"
    for sent in ({field: number}, {field: "5", "t": number}):
        params = {"ukey": owner.ukey, "key": stat.classic_key, **sent}
        answer = httpx.post(f"{api.url}{path}", data=params)
        assert_error(answer, 400, says)
    info = stat_info(web, owner, stat.name)
    assert info is not None and not info.get("data_received_at")


def test_ordinary_names_in_any_script_are_kept_as_sent(servers: Servers, owner: Account) -> None:
    api, web = servers
    for name in ORDINARY:
        answer = sent_to_ez(api, "form", {"ezkey": owner.ezkey, "stat": name, "value": "12.5",
                                          "t": str(recent_minute())})
        assert answer.is_success, answer.text
    assert stat_names(web, owner) == sorted(ORDINARY)


# -- the web app and its APIs -----------------------------------------------------------

ENTERED = [("\r", "U+000D (carriage return)"), ("\u202e", "U+202E (right-to-left override)"),
           ("\x00", "U+0000 (null)")]


def refused_page(answer: httpx.Response, what: str, named: str, position: int = 3) -> None:
    assert answer.status_code == 400, answer.text[:300]
    assert f"{what}: character {named} at position {position} is not allowed" in answer.text


def count_rows(engine: Engine, table: Any, **where: Any) -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(table)
        for column, value in where.items():
            query = query.where(table.c[column] == value)
        return int(conn.execute(query).scalar_one())


def test_web_stat_creation_and_renaming_refuse_hostile_names(
    owner_browser: Browser, engine: Engine,
) -> None:
    user_id = owner_browser.user.id
    stat = make_stat(engine, Account(owner_browser.user, ""), "signups", "counter")
    for char, named in ENTERED:
        refused_page(owner_browser.post("/stats", name=f"ab{char}cd", kind="counter"),
                     "Stat name", named)
        refused_page(owner_browser.post(f"/stats/{stat.public_id}/rename", name=f"ab{char}cd"),
                     "Stat name", named)
    assert owner_browser.post("/stats", name="\u200b", kind="counter").status_code == 400
    with engine.connect() as conn:
        names = conn.execute(select(stats.c.name).where(stats.c.user_id == user_id)).scalars()
        assert list(names) == ["signups"]
    assert owner_browser.post("/stats", name="日本 🚀", kind="value").status_code == 303


def test_dashboard_names_and_card_titles_refuse_hostile_text(
    owner_browser: Browser, engine: Engine,
) -> None:
    user_id = owner_browser.user.id
    stat = make_stat(engine, Account(owner_browser.user, ""), "signups", "counter")
    made = owner_browser.post("/dashboards", name="Growth")
    board = made.headers["location"].split("/")[2].split("?")[0]
    for char, named in ENTERED:
        refused_page(owner_browser.post("/dashboards", name=f"ab{char}cd"), "Dashboard name", named)
        refused_page(owner_browser.post(f"/dashboards/{board}/rename", name=f"ab{char}cd"),
                     "Dashboard name", named)
        refused_page(owner_browser.post(f"/dashboards/{board}/cards", kind="graph", timeframe="1d",
                                        title=f"ab{char}cd", stat1=stat.public_id),
                     "Card title", named)
    wide = owner_browser.post(f"/dashboards/{board}/cards", kind="graph", timeframe="１d",
                              stat1=stat.public_id)
    assert wide.status_code == 400  # a full-width digit is not a timeframe
    assert count_rows(engine, dashboards, user_id=user_id) == 1
    with engine.connect() as conn:
        names = conn.execute(select(dashboards.c.name).where(dashboards.c.user_id == user_id))
        assert names.scalars().all() == ["Growth"]
    with engine.connect() as conn:
        cards = conn.execute(select(func.count()).select_from(dashboard_cards).join(dashboards)
                             .where(dashboards.c.user_id == user_id)).scalar_one()
    assert cards == 0


@pytest.fixture
def a1(web: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web.url, timeout=30) as client:
        yield client


def test_comments_refuse_hostile_text_on_the_page_and_the_a1_api(
    owner_browser: Browser, owner: Account, a1: httpx.Client, engine: Engine,
) -> None:
    mine = make_stat(engine, Account(owner_browser.user, ""), "signups", "counter")
    theirs = make_stat(engine, owner, "deploys", "counter")
    for char, named in ENTERED:
        refused_page(owner_browser.post(f"/stats/{mine.public_id}/comments", text=f"ab{char}cd",
                                        time=""), "Comment", named)
        answer = a1.post("/a1/comments", data={"id": theirs.public_id, "text": f"ab{char}cd"},
                         auth=(owner.token, ""))
        assert_error(answer, 400, f"comment: character {named} at position 3")
    answer = a1.post("/a1/comments", auth=(owner.token, ""),
                     data={"id": theirs.public_id, "text": "ok", "time": "１７００000000"})
    assert_error(answer, 400, "time must be unix seconds")
    for stat in (mine, theirs):
        assert count_rows(engine, comments, stat_id=stat.id) == 0


ALERT = {"kind": "value", "time_window": "1h", "operator": "gt", "threshold": "500"}
BAD_ALERTS = [
    ({"threshold": "１２"}, "threshold: character U+FF11 (fullwidth digit one) at position 1"),
    ({"threshold": "nan"}, "threshold must be a number"),
    ({"repeat_minutes": "６0"}, "repeat_minutes must be 0"),
    ({"repeat_minutes": "²"}, "repeat_minutes must be 0"),
    ({"webhook_url": "https://example.com/\r\nX-Evil: 1"},
     "webhook_url: character U+000D (carriage return) at position 21"),
    ({"operator": "gt\x00"}, "operator: character U+0000 (null) at position 3"),
]


def test_alert_fields_are_checked_on_the_page_and_both_apis(
    owner_browser: Browser, owner: Account, a1: httpx.Client, engine: Engine,
) -> None:
    mine = make_stat(engine, Account(owner_browser.user, ""), "signups", "counter")
    theirs = make_stat(engine, owner, "deploys", "counter")
    for change, says in BAD_ALERTS:
        page = owner_browser.post(f"/stats/{mine.public_id}/alerts", **{**ALERT, **change})
        assert page.status_code == 400 and sentence(says) in page.text, (change, page.text[:300])
        form = {**ALERT, **change, "stat_id": theirs.public_id}
        assert_error(a1.post(f"/x/{owner.token}/alerts", data=form), 400, says)
        assert_error(a1.post("/a1/alerts", data=form, auth=(owner.token, "")), 400, says)
    for stat in (mine, theirs):
        assert count_rows(engine, alerts, stat_id=stat.id) == 0


def test_report_hours_and_token_labels_are_checked(owner_browser: Browser) -> None:
    for hour, says in (("²", "Choose the hour"), ("１", "Choose the hour"),
                       ("7\r", "Hour: character U+000D (carriage return) at position 2")):
        answer = owner_browser.post("/reports", hour=hour)
        assert answer.status_code == 400, (hour, answer.text[:300])
        assert says in answer.text, hour
    refused_page(owner_browser.post("/settings/tokens", label="ab\x1bcd"), "Token label",
                 "U+001B (escape)")
