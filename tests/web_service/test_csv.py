"""Downloading a stat page's points as CSV over real HTTP."""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine

from aerie import accounts
from presenters.a1 import safe_cell
from tests.conftest import Account, make_stat, put_points
from tests.web_service.conftest import Browser

PARIS = "Europe/Paris"


def account(browser: Browser) -> Account:
    return Account(browser.user, "")


def rows(answer: httpx.Response) -> list[list[str]]:
    assert answer.status_code == 200, answer.text
    return list(csv.reader(io.StringIO(answer.text)))


def csv_and_json(browser: Browser, sid: str, tf: str) -> tuple[list[list[str]], list[Any]]:
    """The CSV and the JSON twin's points, fetched within one interval of the frame."""
    for _attempt in range(3):
        before = browser.json(f"/stats/{sid}.json?tf={tf}").json()["points"]
        table = rows(browser.get(f"/stats/{sid}/data.csv?tf={tf}"))
        after = browser.json(f"/stats/{sid}.json?tf={tf}").json()["points"]
        if before == after:
            return table, after
    raise AssertionError("the frame kept moving")


def assert_rows_match_points(table: list[list[str]], points: list[Any], timezone: str) -> None:
    assert table[0] == ["time", "iso_time", "value", "count"]
    assert len(table) - 1 == len(points)
    for (unix, iso, value, _count), point in zip(table[1:], points, strict=True):
        assert int(unix) == point["time"]
        assert iso == datetime.fromtimestamp(point["time"], ZoneInfo(timezone)).isoformat()
        assert (float(value) if value else None) == point["value"]


@pytest.mark.parametrize("tf", ["1d1h", "1w", "1w1d"])
def test_counter_rows_match_the_pages_json_points_in_the_users_zone(
    owner_browser: Browser, engine: Engine, tf: str
) -> None:
    with engine.begin() as conn:
        accounts.update_profile(conn, owner_browser.user, email=owner_browser.user.email,
                                timezone=PARIS)
    stat = make_stat(engine, account(owner_browser), "signups", "counter")
    now = int(time.time())
    put_points(engine, stat, [(now - 60, 2), (now - 60, 3.5), (now - 7200, 4), (now - 90000, 1)])

    table, points = csv_and_json(owner_browser, stat.public_id, tf)

    assert_rows_match_points(table, points, PARIS)
    in_frame = 3 if tf == "1d1h" else 4  # the point 25 hours ago is outside one day
    assert sum(int(row[3]) for row in table[1:]) == in_frame
    assert sum(float(row[2]) for row in table[1:]) == (9.5 if in_frame == 3 else 10.5)


def test_value_rows_are_empty_where_the_json_is_null(
    owner_browser: Browser, engine: Engine
) -> None:
    stat = make_stat(engine, account(owner_browser), "load time", "value")
    now = int(time.time())
    put_points(engine, stat, [(now - 60, 0.1), (now - 70, 0.2), (now - 5 * 3600, -3)])

    table, points = csv_and_json(owner_browser, stat.public_id, "1d1h")

    assert_rows_match_points(table, points, "UTC")
    assert [row[2] for row in table[1:]].count("") == sum(p["value"] is None for p in points)
    assert any(row[2] == "-3.0" and row[3] == "1" for row in table[1:])


def test_the_download_is_an_attachment_named_after_the_stat_and_timeframe(
    owner_browser: Browser, engine: Engine
) -> None:
    stat = make_stat(engine, account(owner_browser), "Sign-ups / day (EU) é", "counter")

    answer = owner_browser.get(f"/stats/{stat.public_id}/data.csv?tf=2d30m")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == (
        'attachment; filename="Sign-ups_day_EU-2d30m.csv"'
    )
    assert len(rows(answer)) == 1 + 96


def test_the_default_timeframe_is_the_pages(owner_browser: Browser, engine: Engine) -> None:
    stat = make_stat(engine, account(owner_browser), "signups", "counter")

    answer = owner_browser.get(f"/stats/{stat.public_id}/data.csv")

    # A stat made just now opens on its hour, on the page and in its CSV alike.
    assert 'filename="signups-1h.csv"' in answer.headers["content-disposition"]
    assert len(rows(answer)) == 1 + len(owner_browser.json(f"/stats/{stat.public_id}.json")
                                        .json()["points"])


def test_a_formula_for_a_name_never_reaches_a_cell_or_the_filename(
    owner_browser: Browser, engine: Engine
) -> None:
    stat = make_stat(engine, account(owner_browser), '=HYPERLINK("http://evil", "x")', "value")
    put_points(engine, stat, [(int(time.time()) - 60, -1e21)])

    answer = owner_browser.get(f"/stats/{stat.public_id}/data.csv?tf=1h")

    assert 'filename="HYPERLINK_http_evil_x-1h.csv"' in answer.headers["content-disposition"]
    for row in rows(answer)[1:]:
        assert not row[1].startswith(("=", "+", "-", "@"))
        assert row[2] in ("", "-1e+21")  # numbers stay numbers


@pytest.mark.parametrize(
    ("text", "safe"),
    [("=1+2", "'=1+2"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
     ("\t=1", "'\t=1"), ("2026-01-01T00:00:00+01:00", "2026-01-01T00:00:00+01:00"), ("", "")],
)
def test_text_cells_starting_like_a_formula_are_quoted(text: str, safe: str) -> None:
    assert safe_cell(text) == safe


def test_an_outsider_gets_404_and_a_stranger_is_sent_to_log_in(
    owner_browser: Browser, outsider_browser: Browser, engine: Engine
) -> None:
    stat = make_stat(engine, account(owner_browser), "secret revenue", "counter")
    path = f"/stats/{stat.public_id}/data.csv"

    theirs = outsider_browser.json(path)
    nothing = outsider_browser.json(path.replace(stat.public_id, "Zz9Zz9"))
    with httpx.Client(base_url=str(owner_browser.client.base_url)) as stranger:
        anonymous = stranger.get(path, headers={"accept": "text/html"})

    assert theirs.status_code == nothing.status_code == 404
    assert theirs.json()["msg"] == nothing.json()["msg"].replace("Zz9Zz9", stat.public_id)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_a_bad_timeframe_is_400(owner_browser: Browser, engine: Engine) -> None:
    stat = make_stat(engine, account(owner_browser), "signups", "counter")

    answer = owner_browser.json(f"/stats/{stat.public_id}/data.csv?tf=soon")

    assert answer.status_code == 400
    assert "not understood" in answer.json()["msg"]
