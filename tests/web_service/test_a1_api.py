"""The ``/a1/`` API (HTTP Basic, the token as user name) over real HTTP, on SQLite and MariaDB."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine

from aerie import accounts
from aerie.comments import MAX_TEXT
from tests.conftest import Account, make_stat, put_points
from tests.servers import RunningServer

DAY = 86400
T0 = 1_700_006_400  # 2023-11-15 00:00 UTC: a day boundary, so every grid starts here
CHALLENGE = 'Basic realm="Aerie"'


@pytest.fixture
def client(web: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=web.url, timeout=30) as client:
        yield client


def basic(token: str) -> tuple[str, str]:
    return (token, "")


def assert_challenged(answer: httpx.Response) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"] == CHALLENGE
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["status"] == 401 and answer.json()["msg"]


def today() -> int:
    now = int(time.time())
    return now - now % DAY


# -- stats -----------------------------------------------------------------------


def test_stats_lists_the_owners_stats_with_the_a1_fields(
    client: httpx.Client, engine: Engine, owner: Account, outsider: Account
) -> None:
    signups = make_stat(engine, owner, "signups", "counter")
    load_time = make_stat(engine, owner, "load time", "value")
    make_stat(engine, outsider, "not yours", "counter")
    put_points(engine, signups, [(T0, 1)], received=T0 + 5)

    answer = client.get("/a1/stats", auth=basic(owner.token))

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == [
        {"id": load_time.public_id, "name": "load time", "public": False, "counter": False,
         "data_received_at": None, "created_at": load_time.created_at},
        {"id": signups.public_id, "name": "signups", "public": False, "counter": True,
         "data_received_at": T0 + 5, "created_at": signups.created_at},
    ]


# -- datasets ----------------------------------------------------------------------


def test_counter_dataset_sums_counts_and_counts_raw_points_per_interval(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "signups", "counter")
    put_points(engine, stat, [(T0 + 10, 2), (T0 + 100, 3), (T0 + 1200, 4), (T0 + 3700, 5),
                              (T0 - 60, 100)])

    answer = client.get(f"/a1/stats/{stat.public_id}/dataset", params={"t": "3h1h", "start": T0},
                        auth=basic(owner.token))

    assert answer.status_code == 200
    assert answer.json() == {
        "name": "signups",
        "timeframe": "3 hours @ 1 hour",
        "kind": "count",
        "points": [
            {"time": T0, "value": 9.0, "rcount": 3},
            {"time": T0 + 3600, "value": 5.0, "rcount": 1},
            {"time": T0 + 7200, "value": 0.0, "rcount": 0},
        ],
    }


def test_value_dataset_averages_and_is_null_without_data(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "load time", "value")
    put_points(engine, stat, [(T0 + 10, 10), (T0 + 20, 20), (T0 + 30, 30), (T0 + 3700, 7)])

    answer = client.get(f"/a1/stats/{stat.public_id}/dataset", params={"t": "3h1h", "start": T0},
                        auth=basic(owner.token))

    body = answer.json()
    assert body["kind"] == "value"
    assert body["points"] == [
        {"time": T0, "value": 20.0, "rcount": 3},
        {"time": T0 + 3600, "value": 7.0, "rcount": 1},
        {"time": T0 + 7200, "value": None, "rcount": 0},
    ]


def test_dataset_as_csv_has_the_same_points_in_utc(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "load/time", "value")
    put_points(engine, stat, [(T0 + 10, 10), (T0 + 20, 20), (T0 + 3700, -7)])
    params: dict[str, str | int] = {"t": "3h1h", "start": T0}

    answer = client.get(f"/a1/stats/{stat.public_id}/dataset.csv", params=params,
                        auth=basic(owner.token))
    unauthorised = client.get(f"/a1/stats/{stat.public_id}/dataset.csv", params=params)

    assert answer.status_code == 200
    assert answer.headers["content-disposition"] == 'attachment; filename="load_time-3h1h.csv"'
    assert answer.text.splitlines() == [
        "time,iso_time,value,count",
        f"{T0},2023-11-15T00:00:00+00:00,15.0,2",
        f"{T0 + 3600},2023-11-15T01:00:00+00:00,-7.0,1",
        f"{T0 + 7200},2023-11-15T02:00:00+00:00,,0",
    ]
    assert_challenged(unauthorised)


def test_dataset_without_start_ends_with_the_interval_holding_now(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "signups", "counter")

    points = client.get(f"/a1/stats/{stat.public_id}/dataset", params={"t": "1w1d"},
                        auth=basic(owner.token)).json()["points"]

    assert len(points) == 7
    assert points[-1]["time"] == today()


def test_dataset_needs_a_good_timeframe(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "signups", "counter")
    path = f"/a1/stats/{stat.public_id}/dataset"

    missing = client.get(path, auth=basic(owner.token))
    bad = client.get(path, params={"t": "1fortnight"}, auth=basic(owner.token))
    bad_start = client.get(path, params={"t": "1d", "start": -5}, auth=basic(owner.token))

    assert missing.status_code == bad.status_code == bad_start.status_code == 400
    assert "t=1w1h" in missing.json()["msg"]
    assert "not understood" in bad.json()["msg"]
    assert "start" in bad_start.json()["msg"]


def test_dataset_full_is_daily_from_the_first_data_to_today(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "signups", "counter")
    put_points(engine, stat, [(T0 + 10, 2), (T0 + 20, 3), (T0 + 2 * DAY + 5, 7)])
    days = (today() - T0) // DAY + 1

    body = client.get(f"/a1/stats/{stat.public_id}/dataset_full",
                      auth=basic(owner.token)).json()

    assert body["name"] == "signups" and body["kind"] == "count"
    assert body["timeframe"] == f"{days} days @ 1 day"
    points = body["points"]
    assert len(points) == days
    assert [p["time"] for p in points[:3]] == [T0, T0 + DAY, T0 + 2 * DAY]
    assert points[:3] == [{"time": T0, "value": 5.0, "rcount": 2},
                          {"time": T0 + DAY, "value": 0.0, "rcount": 0},
                          {"time": T0 + 2 * DAY, "value": 7.0, "rcount": 1}]
    assert points[-1]["time"] == today()
    assert sum(p["rcount"] for p in points) == 3


def test_dataset_full_of_a_stat_without_data_starts_the_day_it_was_made(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "load time", "value")

    body = client.get(f"/a1/stats/{stat.public_id}/dataset_full",
                      auth=basic(owner.token)).json()

    assert body == {"name": "load time", "timeframe": "1 day @ 1 day", "kind": "value",
                    "points": [{"time": today(), "value": None, "rcount": 0}]}


# -- comments ------------------------------------------------------------------------


def test_a_comment_posted_by_form_is_answered_and_listed(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "signups", "counter")

    made = client.post("/a1/comments", data={"id": stat.public_id, "text": " deploy v2 ",
                                             "time": str(T0 + 60)}, auth=basic(owner.token))
    before = int(time.time())
    now_made = client.post("/a1/comments", data={"id": stat.public_id, "text": "now"},
                           auth=basic(owner.token))
    listed = client.get("/a1/comments", params={"id": stat.public_id}, auth=basic(owner.token))

    assert made.status_code == 200, made.text
    first = made.json()
    assert first == {"id": first["id"], "stat_id": stat.public_id, "time": T0 + 60,
                     "text": "deploy v2", "message": "comment added to signups"}
    second = now_made.json()
    assert before <= second["time"] <= int(time.time())
    assert listed.json() == [
        {key: value for key, value in made.items() if key != "message"}
        for made in (first, second)
    ]


def test_the_command_line_tool_prints_the_comment_answers_message(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    """`stathat comment` decodes the answer into ``struct{ Message string }`` (Go matches
    field names case-insensitively) and prints it: without the field, an empty line."""
    stat = make_stat(engine, owner, "deploys", "counter")
    made = client.post("/a1/comments", content=f"id={stat.public_id}&text=v2+shipped",
                       headers={"Content-Type": "application/x-www-form-urlencoded"},
                       auth=basic(owner.token))
    assert made.status_code == 200, made.text
    printed = {key.lower(): value for key, value in made.json().items()}["message"]
    assert printed == "comment added to deploys"


def test_bad_comments_are_400_and_write_nothing(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "signups", "counter")
    sid = stat.public_id

    answers = [
        client.post("/a1/comments", data=form, auth=basic(owner.token))
        for form in (
            {"id": sid, "text": "   "},
            {"id": sid, "text": "x" * (MAX_TEXT + 1)},
            {"id": sid, "text": "ok", "time": "yesterday"},
            {"id": sid, "text": "ok", "time": "-1"},
            {"text": "no stat named"},
        )
    ]

    assert [a.status_code for a in answers] == [400] * 5
    assert "empty" in answers[0].json()["msg"]
    assert "limit is 1000" in answers[1].json()["msg"]
    assert "unix seconds" in answers[2].json()["msg"]
    assert "unix seconds from 0" in answers[3].json()["msg"]
    assert "id=" in answers[4].json()["msg"]
    assert client.get("/a1/comments", params={"id": sid}, auth=basic(owner.token)).json() == []


# -- who may ---------------------------------------------------------------------------


def a1_calls(
    client: httpx.Client, sid: str, auth: tuple[str, str] | None,
    headers: dict[str, str] | None = None,
) -> list[httpx.Response]:
    """One request to every /a1 route (``auth`` None sends no credentials)."""
    sent: tuple[str, str] | httpx._client.UseClientDefault = auth or httpx.USE_CLIENT_DEFAULT
    return [
        client.get("/a1/stats", auth=sent, headers=headers),
        client.get(f"/a1/stats/{sid}/dataset", params={"t": "1d"}, auth=sent, headers=headers),
        client.get(f"/a1/stats/{sid}/dataset_full", auth=sent, headers=headers),
        client.get("/a1/comments", params={"id": sid}, auth=sent, headers=headers),
        client.post("/a1/comments", data={"id": sid, "text": "hi"}, auth=sent, headers=headers),
    ]


def test_every_route_without_credentials_is_401_with_a_basic_challenge(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    sid = make_stat(engine, owner, "signups", "counter").public_id

    for answer in a1_calls(client, sid, None, headers={"accept": "text/html"}):
        assert_challenged(answer)
        assert "HTTP Basic" in answer.json()["msg"]


def test_an_unknown_token_is_401(client: httpx.Client, engine: Engine, owner: Account) -> None:
    sid = make_stat(engine, owner, "signups", "counter").public_id

    for answer in a1_calls(client, sid, basic("not-a-token")):
        assert_challenged(answer)
        assert answer.json()["msg"].startswith("unknown or revoked access token")


def test_a_revoked_token_is_401(client: httpx.Client, engine: Engine, owner: Account) -> None:
    sid = make_stat(engine, owner, "signups", "counter").public_id
    with engine.begin() as conn:
        token = accounts.create_token(conn, owner.user.id, "laptop", T0)
    assert client.get("/a1/stats", auth=basic(token.token)).status_code == 200
    with engine.begin() as conn:
        accounts.revoke_token(conn, owner.user.id, token.id, T0 + 1)

    for answer in a1_calls(client, sid, basic(token.token)):
        assert_challenged(answer)
    assert client.get("/a1/comments", params={"id": sid}, auth=basic(owner.token)).json() == []


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer TOKEN",
        "Basic",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"TOKEN-without-a-colon").decode(),
        "Basic " + base64.b64encode(b":TOKEN-as-password").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:").decode(),
    ],
)
def test_malformed_basic_credentials_are_401(
    client: httpx.Client, owner: Account, authorization: str
) -> None:
    header = authorization.replace("TOKEN", owner.token)

    assert_challenged(client.get("/a1/stats", headers={"authorization": header}))


def test_the_password_is_ignored(client: httpx.Client, owner: Account) -> None:
    assert client.get("/a1/stats", auth=(owner.token, "anything")).status_code == 200


def test_an_outsiders_token_finds_the_owners_stat_no_more_than_a_missing_one(
    client: httpx.Client, engine: Engine, owner: Account, outsider: Account
) -> None:
    stat = make_stat(engine, owner, "revenue", "counter")
    put_points(engine, stat, [(T0, 42)])
    missing = "Zz9Zz9"

    theirs = a1_calls(client, stat.public_id, basic(outsider.token))
    nothing = a1_calls(client, missing, basic(outsider.token))

    assert theirs[0].json() == []
    for mine, absent in zip(theirs[1:], nothing[1:], strict=True):
        assert mine.status_code == absent.status_code == 404, mine.request.url
        assert mine.json() == {**absent.json(),
                               "msg": absent.json()["msg"].replace(missing, stat.public_id)}
    assert client.get("/a1/comments", params={"id": stat.public_id},
                      auth=basic(owner.token)).json() == []


# -- alerts ------------------------------------------------------------------------


def cli_alert_value(stat_id: str) -> str:
    """The form body `stathat alert value STAT` posts (Go's url.Values.Encode, keys sorted):
    the tool has no threshold or operator flags, so it sends its placeholders."""
    return f"kind=value&operator=gt&stat_id={stat_id}&threshold=0&time_window=1d"


def test_the_command_line_tools_value_alert_without_threshold_is_refused(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "queue length", "value")
    answer = client.post("/a1/alerts", content=cli_alert_value(stat.public_id),
                         headers={"Content-Type": "application/x-www-form-urlencoded"},
                         auth=basic(owner.token))
    assert answer.status_code == 400, answer.text
    assert "needs a threshold and an operator" in answer.json()["msg"]
    assert client.get("/a1/alerts", auth=basic(owner.token)).json() == []


@pytest.mark.parametrize(("left_out", "named"), [
    (("threshold",), "needs threshold: add threshold=500"),
    (("operator",), "needs operator: add operator=greater than"),
    (("threshold", "operator"), "needs threshold and operator"),
])
def test_a_value_alert_missing_its_threshold_or_operator_is_400_naming_it(
    client: httpx.Client, engine: Engine, owner: Account, left_out: tuple[str, ...], named: str
) -> None:
    stat = make_stat(engine, owner, "queue length", "value")
    form = {"stat_id": stat.public_id, "kind": "value", "time_window": "1h",
            "operator": "greater than", "threshold": "500"}
    for name in left_out:
        del form[name]
    answer = client.post("/a1/alerts", data=form, auth=basic(owner.token))
    assert answer.status_code == 400, answer.text
    assert named in answer.json()["msg"]
    assert client.get("/a1/alerts", auth=basic(owner.token)).json() == []


def test_a_value_alert_above_zero_said_in_full_is_made(
    client: httpx.Client, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "errors", "value")
    made = client.post("/a1/alerts", auth=basic(owner.token), data={
        "stat_id": stat.public_id, "kind": "value", "time_window": "1h",
        "operator": "greater than", "threshold": "0"})
    assert made.status_code == 200, made.text
    assert made.json()["operator"] == "greater than" and made.json()["threshold"] == 0
