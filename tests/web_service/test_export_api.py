"""The export API (``/x/TOKEN/...``) over real HTTP, on SQLite and MariaDB."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, delete, func, select

from aerie import accounts
from aerie.schema import ROLLUPS, stat_minutes
from aerie.settings import Settings
from tests.conftest import Account, make_stat, put_points
from tests.servers import RunningServer, free_port, serve
from web_service.app import create_app

DAY = 86400
T0 = 1_700_006_400  # 2023-11-15 00:00 UTC: a day boundary, so every grid starts here
STAT_FIELDS = {
    "id",
    "name",
    "public",
    "counter",
    "unit",
    "classic_key",
    "data_received_at",
    "created_at",
}


@pytest.fixture
def client(web: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web.url, timeout=10) as client:
        yield client


def values(answer: httpx.Response) -> list[float | None]:
    assert answer.status_code == 200, answer.text
    [series] = answer.json()
    return [p["value"] for p in series["points"]]


def times(answer: httpx.Response) -> list[int]:
    [series] = answer.json()
    return [p["time"] for p in series["points"]]


# -- listing and finding stats ------------------------------------------------


def test_statlist_lists_the_owners_stats_by_name(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    made = {
        name: make_stat(engine, owner, name, kind)
        for name, kind in [("signups", "counter"), ("load time", "value"), ("errors", "counter")]
    }

    answer = client.get(f"/x/{owner.token}/statlist")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    listed = answer.json()
    assert [s["name"] for s in listed] == ["errors", "load time", "signups"]
    assert all(set(s) == STAT_FIELDS for s in listed)
    signups = next(s for s in listed if s["name"] == "signups")
    assert signups["id"] == made["signups"].public_id
    assert signups["counter"] is True and signups["public"] is False
    assert next(s for s in listed if s["name"] == "load time")["counter"] is False


def test_statlist_offset_skips_rows(client: httpx.Client, engine: Engine, owner: Account) -> None:
    for name in ["a", "b", "c"]:
        make_stat(engine, owner, name, "counter")

    page = client.get(f"/x/{owner.token}/statlist", params={"offset": 1}).json()
    past_the_end = client.get(f"/x/{owner.token}/statlist", params={"offset": 3}).json()

    assert [s["name"] for s in page] == ["b", "c"]
    assert past_the_end == []


def test_statlist_rejects_a_negative_offset(client: httpx.Client, owner: Account) -> None:
    answer = client.get(f"/x/{owner.token}/statlist", params={"offset": -1})
    assert answer.status_code == 400
    assert "offset" in answer.json()["msg"]


def test_stat_by_name(client: httpx.Client, engine: Engine, owner: Account) -> None:
    stat = make_stat(engine, owner, "load time", "value")

    answer = client.get(f"/x/{owner.token}/stat", params={"name": "load time"})

    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == STAT_FIELDS
    assert body["id"] == stat.public_id
    assert body["counter"] is False
    assert body["classic_key"] == stat.classic_key
    assert body["created_at"] == stat.created_at


def test_stat_by_unknown_name_is_404(client: httpx.Client, owner: Account) -> None:
    answer = client.get(f"/x/{owner.token}/stat", params={"name": "nope"})
    assert answer.status_code == 404
    assert answer.json() == {"status": 404, "msg": "no stat named 'nope'"}


# -- data ----------------------------------------------------------------------


def test_counter_points_sum_within_interval_and_are_zero_without_data(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "signups", "counter")
    put_points(engine, stat, [(T0 + 10, 2), (T0 + 100, 3), (T0 + 20 * 60, 4), (T0 - 60, 100)])

    answer = client.get(
        f"/x/{owner.token}/data/{stat.public_id}", params={"t": "1h15m", "start": T0}
    )

    [series] = answer.json()
    assert series["name"] == "signups"
    assert series["timeframe"] == "1 hour @ 15 minutes"
    assert times(answer) == [T0, T0 + 900, T0 + 1800, T0 + 2700]
    assert values(answer) == [5, 4, 0, 0]


def test_value_points_average_within_interval_and_are_null_without_data(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "load time", "value")
    put_points(engine, stat, [(T0 + 60, 10), (T0 + 120, 20), (T0 + 1000, 7), (T0 + 3600, 99)])

    answer = client.get(
        f"/x/{owner.token}/data/{stat.public_id}", params={"t": "1h15m", "start": T0}
    )

    assert values(answer) == [15, 7, None, None]


def test_start_inside_an_interval_snaps_to_its_beginning(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "signups", "counter")
    put_points(engine, stat, [(T0 + 5, 1)])

    answer = client.get(
        f"/x/{owner.token}/data/{stat.public_id}", params={"t": "1h15m", "start": T0 + 7 * 60}
    )

    assert times(answer)[0] == T0
    assert values(answer) == [1, 0, 0, 0]


def test_label_names_duration_and_interval(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "signups", "counter")

    answer = client.get(f"/x/{owner.token}/data/{stat.public_id}", params={"t": "1w3h"})

    [series] = answer.json()
    assert series["timeframe"] == "1 week @ 3 hours"
    assert len(series["points"]) == 56


def test_without_start_the_frame_ends_with_the_interval_holding_now(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "signups", "counter")
    before = int(time.time())
    put_points(engine, stat, [(before, 3)])

    answer = client.get(f"/x/{owner.token}/data/{stat.public_id}", params={"t": "1h5m"})

    after = int(time.time())
    last = answer.json()[0]["points"][-1]
    assert last["time"] in {before - before % 300, after - after % 300}
    assert len(values(answer)) == 12
    assert sum(v or 0 for v in values(answer)) == 3


def test_summary_gives_one_point_per_day(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "signups", "counter")
    put_points(engine, stat, [(T0 + 3600, 1), (T0 + 20 * 3600, 2), (T0 + 3 * DAY + 5, 7)])

    answer = client.get(
        f"/x/{owner.token}/data/{stat.public_id}", params={"summary": "1w", "start": T0}
    )

    [series] = answer.json()
    assert series["timeframe"] == "1 week @ 1 day"
    assert times(answer) == [T0 + i * DAY for i in range(7)]
    assert values(answer) == [3, 0, 0, 7, 0, 0, 0]


def test_summary_without_start_ends_today(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "signups", "counter")
    answer = client.get(f"/x/{owner.token}/data/{stat.public_id}", params={"summary": "1w"})

    today = int(time.time()) // DAY * DAY  # after the request: it cannot be a day early
    assert times(answer) in (
        [today - (6 - i) * DAY for i in range(7)],
        [today - (7 - i) * DAY for i in range(7)],
    )


def test_hourly_frames_read_the_hour_rollup(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "signups", "counter")
    put_points(engine, stat, [(T0 + m * 60, 1) for m in range(90)])
    with engine.begin() as conn:  # as retention would: the minutes are gone, the hours stay
        conn.execute(delete(stat_minutes).where(stat_minutes.c.stat_id == stat.id))
    url = f"/x/{owner.token}/data/{stat.public_id}"

    hourly = client.get(url, params={"t": "3h1h", "start": T0})
    by_minute = client.get(url, params={"t": "3h1m", "start": T0})

    assert values(hourly) == [60, 30, 0]
    assert set(values(by_minute)) == {0}


def test_data_for_up_to_five_stats_in_the_order_asked(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    made = [make_stat(engine, owner, f"s{i}", "counter") for i in range(5)]
    for i, stat in enumerate(made):
        put_points(engine, stat, [(T0, i + 1)])
    ids = "/".join(s.public_id for s in reversed(made))

    answer = client.get(f"/x/{owner.token}/data/{ids}", params={"t": "1h1h", "start": T0})

    assert answer.status_code == 200
    assert [(s["name"], s["points"][0]["value"]) for s in answer.json()] == [
        ("s4", 5),
        ("s3", 4),
        ("s2", 3),
        ("s1", 2),
        ("s0", 1),
    ]


def test_six_stats_at_once_are_too_many(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    ids = "/".join(make_stat(engine, owner, f"s{i}", "counter").public_id for i in range(6))

    answer = client.get(f"/x/{owner.token}/data/{ids}", params={"t": "1d1h"})

    assert answer.status_code == 400
    assert answer.json()["msg"] == "asked for 6 stats; the limit is 5 at a time"


@pytest.mark.parametrize(
    "frame",
    ["1x", "week", "1h2h", "1y1m", "999999999999999y", "99999999999999999y99999999999999999y"],
)
def test_a_bad_timeframe_says_how_to_write_one(
    client: httpx.Client, engine: Engine, owner: Account, frame: str
) -> None:
    stat = make_stat(engine, owner, "signups", "counter")

    answer = client.get(f"/x/{owner.token}/data/{stat.public_id}", params={"t": frame})

    assert answer.status_code == 400
    assert answer.json()["status"] == 400
    assert frame in answer.json()["msg"]


def test_a_missing_timeframe_suggests_one(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "signups", "counter")

    answer = client.get(f"/x/{owner.token}/data/{stat.public_id}")

    assert answer.status_code == 400
    assert "t=1w1h" in answer.json()["msg"]


@pytest.mark.parametrize("start", ["yesterday", "1.5", "-5", "99999999999999999999"])
def test_a_bad_start_is_400(
    client: httpx.Client, engine: Engine, owner: Account, start: str
) -> None:
    stat = make_stat(engine, owner, "signups", "counter")

    answer = client.get(
        f"/x/{owner.token}/data/{stat.public_id}", params={"t": "1d1h", "start": start}
    )

    assert answer.status_code == 400
    assert "unix seconds" in answer.json()["msg"]


def test_a_summary_shorter_than_a_day_is_400(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "signups", "counter")

    answer = client.get(f"/x/{owner.token}/data/{stat.public_id}", params={"summary": "3h"})

    assert answer.status_code == 400
    assert "one point per day" in answer.json()["msg"]


# -- tokens and ownership ---------------------------------------------------------


def test_an_unknown_token_is_404(client: httpx.Client) -> None:
    for answer in [
        client.get("/x/not-a-token/statlist"),
        client.get("/x/not-a-token/stat", params={"name": "signups"}),
        client.get("/x/not-a-token/data/VP6Z", params={"t": "1d1h"}),
        client.delete("/x/not-a-token/stats/VP6Z"),
    ]:
        assert answer.status_code == 404
        assert answer.json() == {"status": 404, "msg": "unknown access token"}


def test_a_revoked_token_is_404(client: httpx.Client, engine: Engine, owner: Account) -> None:
    make_stat(engine, owner, "signups", "counter")
    with engine.begin() as conn:
        token = accounts.create_token(conn, owner.user.id, "laptop", T0)
    assert client.get(f"/x/{token.token}/statlist").status_code == 200
    with engine.begin() as conn:
        accounts.revoke_token(conn, owner.user.id, token.id, T0 + 1)

    answer = client.get(f"/x/{token.token}/statlist")

    assert answer.status_code == 404
    assert answer.json()["msg"] == "unknown access token"


def test_an_outsider_cannot_list_read_or_delete_the_owners_stat(
    client: httpx.Client, engine: Engine, owner: Account, outsider: Account
) -> None:
    stat = make_stat(engine, owner, "revenue", "counter")
    put_points(engine, stat, [(T0, 42)])
    missing = "zzzzzz"  # an id no one has: the outsider must see the same answer

    listed = client.get(f"/x/{outsider.token}/statlist")
    by_name = client.get(f"/x/{outsider.token}/stat", params={"name": "revenue"})
    data = client.get(
        f"/x/{outsider.token}/data/{stat.public_id}", params={"t": "1h1h", "start": T0}
    )
    no_data = client.get(f"/x/{outsider.token}/data/{missing}", params={"t": "1h1h", "start": T0})
    deleted = client.delete(f"/x/{outsider.token}/stats/{stat.public_id}")
    not_deleted = client.delete(f"/x/{outsider.token}/stats/{missing}")

    assert listed.json() == []
    assert by_name.status_code == 404
    assert data.status_code == deleted.status_code == 404
    assert data.json()["msg"] == no_data.json()["msg"].replace(missing, stat.public_id)
    assert deleted.json()["msg"] == not_deleted.json()["msg"].replace(missing, stat.public_id)
    still_there = client.get(
        f"/x/{owner.token}/data/{stat.public_id}", params={"t": "1h1h", "start": T0}
    )
    assert values(still_there) == [42]


def test_delete_removes_the_stat_and_its_data(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "signups", "counter")
    keep = make_stat(engine, owner, "logins", "counter")
    put_points(engine, stat, [(T0, 1), (T0 + DAY, 2)])
    put_points(engine, keep, [(T0, 1)])

    answer = client.delete(f"/x/{owner.token}/stats/{stat.public_id}")

    assert answer.status_code == 200
    assert answer.json() == {"msg": "stat deleted."}
    assert [s["name"] for s in client.get(f"/x/{owner.token}/statlist").json()] == ["logins"]
    gone = client.get(f"/x/{owner.token}/data/{stat.public_id}", params={"t": "1h1h"})
    assert gone.status_code == 404
    with engine.connect() as conn:
        for _resolution, table in ROLLUPS:
            rows = conn.execute(select(func.count()).where(table.c.stat_id == stat.id)).scalar_one()
            assert rows == 0, table.name
    assert client.delete(f"/x/{owner.token}/stats/{stat.public_id}").status_code == 404


# -- the rest of the app -------------------------------------------------------


def test_an_unknown_export_path_is_404_json_without_echoing_the_token(
    client: httpx.Client, owner: Account
) -> None:
    answer = client.get(f"/x/{owner.token}/nope")

    assert answer.status_code == 404
    assert answer.json()["status"] == 404
    assert "statlist" in answer.json()["msg"]
    assert owner.token not in answer.text


def test_health_check(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_landing_page_shows_how_to_post_and_read(client: httpx.Client, web: RunningServer) -> None:
    answer = client.get("/", headers={"accept": "text/html"})

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert "Create an account" in answer.text
    assert (
        "curl -d &#34;ezkey=you@example.com&amp;stat=signups&amp;count=1&#34; "
        "http://127.0.0.1:8001/ez" in answer.text
    )
    assert f"curl {web.url}/x/TOKEN/statlist" in answer.text  # AERIE_PUBLIC_WEB_URL


def test_landing_page_has_a_json_twin(client: httpx.Client, web: RunningServer) -> None:
    answer = client.get("/", headers={"accept": "application/json"})

    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["status"] == "running"
    commands = [e["command"] for e in body["examples"]]
    assert (
        'curl -d "ezkey=you@example.com&stat=signups&count=1" http://127.0.0.1:8001/ez' in commands
    )
    assert f"curl {web.url}/x/TOKEN/statlist" in commands


def test_an_unreachable_database_answers_503() -> None:
    closed = f"mysql+pymysql://root@127.0.0.1:{free_port()}/aerie"
    with serve(create_app(Settings(database_url=closed, db_timeout_seconds=1))) as server:
        answer = httpx.get(f"{server.url}/x/some-token/statlist", timeout=10)

    assert answer.status_code == 503
    assert answer.json() == {"status": 503, "msg": "the database is unavailable; try again shortly"}
