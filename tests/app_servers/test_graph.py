"""The graph server on SQLite and MariaDB: who may draw what, what comes back, what is cached."""

from __future__ import annotations

import base64
import struct
import xml.etree.ElementTree as ET
from typing import Any

import anyio
import httpx
import orjson
import pytest
from sqlalchemy import Engine

from aerie.errors import BadRequest, NotFound
from aerie.secret_key import load_rpc_secret
from aerie.series import frame_bounds
from aerie.settings import Settings
from aerie.stats import Stat
from aerie.timeframes import parse_timeframe
from app_servers.charts import EMPTY_MESSAGE
from app_servers.graph import GraphServer, create_app
from rpc.signing import sign
from tests.conftest import Account, make_stat, put_points
from tests.servers import serve

HOUR = 3600
T0 = 1_700_006_400  # 2023-11-15 00:00 UTC
NOW = T0 + 20 * HOUR  # 20:00 UTC is 01:30 the next day in India
SVG = "{http://www.w3.org/2000/svg}"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.anyio


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def graphs(engine: Engine, clock: Clock) -> GraphServer:
    return GraphServer(engine, clock)


def signups(engine: Engine, owner: Account, name: str = "signups") -> Stat:
    """A counter with a week and a half of hourly data, last received an hour ago."""
    stat = make_stat(engine, owner, name, "counter")
    put_points(engine, stat, [(NOW - h * HOUR, 5 + h % 24) for h in range(250)], NOW - HOUR)
    return stat


def body(answer: dict[str, Any]) -> bytes:
    return base64.b64decode(answer["body"])


def svg_texts(answer: dict[str, Any]) -> list[str]:
    assert answer["content_type"] == "image/svg+xml"
    return [t.text or "" for t in ET.fromstring(body(answer)).iter(f"{SVG}text")]


async def test_png_has_the_signature_and_the_size_asked_for(
    graphs: GraphServer, engine: Engine, owner: Account
) -> None:
    stat = signups(engine, owner)

    answer = await graphs.render(owner.user.id, [stat.public_id], width=640, height=240)

    png = body(answer)
    assert answer["content_type"] == "image/png"
    assert png.startswith(PNG_SIGNATURE)
    assert png[12:16] == b"IHDR"
    assert struct.unpack(">II", png[16:24]) == (640, 240)


async def test_svg_parses_and_names_the_stat(
    graphs: GraphServer, engine: Engine, owner: Account
) -> None:
    stat = signups(engine, owner, "sign ups <today> & more")

    answer = await graphs.render(owner.user.id, [stat.public_id], format="svg")

    assert "sign ups <today> & more" in svg_texts(answer)


async def test_answer_reports_the_frame_and_a_plot_area_inside_the_image(
    graphs: GraphServer, engine: Engine, owner: Account
) -> None:
    stat = signups(engine, owner)

    answer = await graphs.render(owner.user.id, [stat.public_id], timeframe="1w")

    assert (answer["first"], answer["end"]) == frame_bounds(parse_timeframe("1w"), None, NOW)
    x0, y0, x1, y1 = answer["plot_area"]
    assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
    assert all(type(v) is float for v in answer["plot_area"])  # JSON numbers, not numpy's
    assert answer["interval"] == parse_timeframe("1w").interval
    assert answer["comments"] == []


async def test_an_identical_render_is_served_from_the_cache(
    graphs: GraphServer, engine: Engine, owner: Account
) -> None:
    stat = signups(engine, owner)

    first = await graphs.render(owner.user.id, [stat.public_id])
    again = await graphs.render(owner.user.id, [stat.public_id])

    assert (first["cached"], again["cached"]) == (False, True)
    assert again["etag"] == first["etag"]
    assert again["body"] == first["body"]


async def test_a_layout_only_render_warms_the_cache_for_the_image(
    graphs: GraphServer, engine: Engine, owner: Account
) -> None:
    stat = signups(engine, owner)

    layout = await graphs.render(owner.user.id, [stat.public_id], with_body=False)
    image = await graphs.render(owner.user.id, [stat.public_id])

    assert "body" not in layout and layout["plot_area"] == image["plot_area"]
    assert image["cached"] is True and image["etag"] == layout["etag"]
    assert base64.b64decode(image["body"]).startswith(PNG_SIGNATURE)


async def test_new_data_makes_a_new_render(
    graphs: GraphServer, engine: Engine, owner: Account
) -> None:
    stat = signups(engine, owner)
    before = await graphs.render(owner.user.id, [stat.public_id])

    put_points(engine, stat, [(NOW - 10 * HOUR, 500)], NOW - HOUR + 60)
    after = await graphs.render(owner.user.id, [stat.public_id])

    assert after["cached"] is False
    assert after["etag"] != before["etag"]
    assert after["body"] != before["body"]


async def test_data_for_an_old_timestamp_redraws_the_old_frame(
    graphs: GraphServer, engine: Engine, owner: Account
) -> None:
    """data_received_at is when data arrived, so a late point for last week still counts."""
    stat = signups(engine, owner)
    last_week = T0 - 7 * 24 * HOUR
    before = await graphs.render(owner.user.id, [stat.public_id], "1d", start=last_week)

    put_points(engine, stat, [(last_week + 3 * HOUR, 900)], NOW - HOUR + 120)
    after = await graphs.render(owner.user.id, [stat.public_id], "1d", start=last_week)

    assert after["cached"] is False and after["etag"] != before["etag"]


async def test_a_render_soon_after_data_arrived_is_reused_only_briefly(
    graphs: GraphServer, clock: Clock, engine: Engine, owner: Account
) -> None:
    """The writer marks arrivals at most once a minute: points may land unmarked meanwhile."""
    stat = make_stat(engine, owner, "signups", "counter")
    put_points(engine, stat, [(NOW - HOUR, 1)], NOW - 5)

    def render() -> Any:
        return graphs.render(owner.user.id, [stat.public_id], "1d", start=T0)

    fresh = await render()
    assert (await render())["cached"] is True
    clock.now += 11
    refreshed = await render()
    assert refreshed["cached"] is False and refreshed["etag"] != fresh["etag"]
    clock.now = NOW + 70
    settled = await render()
    clock.now = NOW + 5 * HOUR
    assert settled["cached"] is False and (await render())["cached"] is True


async def test_an_outsider_cannot_draw_the_owners_stat(
    graphs: GraphServer, engine: Engine, owner: Account, outsider: Account
) -> None:
    stat = signups(engine, owner)

    with pytest.raises(NotFound) as theirs:
        await graphs.render(outsider.user.id, [stat.public_id])
    with pytest.raises(NotFound) as missing:
        await graphs.render(outsider.user.id, ["no-such-id"])

    assert theirs.value.message == f"no stat with id {stat.public_id!r}"
    assert missing.value.message == "no stat with id 'no-such-id'"


@pytest.mark.parametrize("count", [0, 4])
async def test_one_to_three_stats_may_be_drawn(
    graphs: GraphServer, engine: Engine, owner: Account, count: int
) -> None:
    ids = [signups(engine, owner, f"s{i}").public_id for i in range(count)]

    with pytest.raises(BadRequest, match="give 1 to 3 stat ids"):
        await graphs.render(owner.user.id, ids)


@pytest.mark.parametrize(
    ("change", "hint"),
    [
        ({"timezone": "Atlantis/Capital"}, "IANA name"),
        ({"format": "jpeg"}, "'png' or 'svg'"),
        ({"style": "pie"}, "'full', 'mini', 'spark', 'fill' or 'fill_bar'"),
        ({"chart": "pie"}, "'line' or 'histogram'"),
        ({"width": 50}, "width must be"),
        ({"timeframe": "1fortnight"}, "not understood"),
        ({"start": -5}, "start must be"),
    ],
)
async def test_parameters_that_cannot_be_drawn_are_refused(
    graphs: GraphServer, engine: Engine, owner: Account, change: dict[str, Any], hint: str
) -> None:
    stat = signups(engine, owner)

    with pytest.raises(BadRequest, match=hint):
        await graphs.render(owner.user.id, [stat.public_id], **change)


async def test_three_stats_compare_in_one_graph_with_a_legend(
    graphs: GraphServer, engine: Engine, owner: Account
) -> None:
    names = ["web", "api", "mobile"]
    ids = [signups(engine, owner, name).public_id for name in names]

    png = await graphs.render(owner.user.id, ids)
    svg = await graphs.render(owner.user.id, ids, format="svg")

    assert body(png).startswith(PNG_SIGNATURE)
    assert set(names) <= set(svg_texts(svg))


async def test_a_stat_without_data_shows_the_empty_state(
    graphs: GraphServer, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "load time", "value")

    answer = await graphs.render(owner.user.id, [stat.public_id], format="svg")

    assert EMPTY_MESSAGE in svg_texts(answer)


async def test_the_previous_period_is_drawn_dashed_for_one_stat_only(
    graphs: GraphServer, engine: Engine, owner: Account
) -> None:
    one, two = signups(engine, owner, "one"), signups(engine, owner, "two")

    def dashed(answer: dict[str, Any]) -> bool:
        return b"stroke-dasharray" in body(answer)

    assert dashed(await graphs.render(owner.user.id, [one.public_id], format="svg"))
    assert not dashed(
        await graphs.render(owner.user.id, [one.public_id], previous=False, format="svg")
    )
    assert not dashed(
        await graphs.render(owner.user.id, [one.public_id, two.public_id], format="svg")
    )


async def test_time_labels_follow_the_time_zone(
    graphs: GraphServer, engine: Engine, owner: Account
) -> None:
    """At 20:00 UTC the day drawn has begun in India: its midnight is a date later."""
    stat = signups(engine, owner)

    def labels(zone: str) -> Any:
        return graphs.render(owner.user.id, [stat.public_id], "1d", format="svg", timezone=zone)

    utc = svg_texts(await labels("UTC"))
    india = svg_texts(await labels("Asia/Kolkata"))

    assert "Nov 15" in utc and "Nov 16" not in utc
    assert "Nov 16" in india


async def test_spark_and_mini_styles_render_small(
    graphs: GraphServer, engine: Engine, owner: Account
) -> None:
    stat = signups(engine, owner)

    spark = await graphs.render(owner.user.id, [stat.public_id], style="spark", width=120, height=40)
    mini = await graphs.render(owner.user.id, [stat.public_id], style="mini", width=300, height=90)

    assert struct.unpack(">II", body(spark)[16:24]) == (120, 40)
    assert struct.unpack(">II", body(mini)[16:24]) == (300, 90)


async def test_equal_requests_at_once_draw_once(
    graphs: GraphServer, engine: Engine, owner: Account
) -> None:
    stat = signups(engine, owner)
    answers: list[dict[str, Any]] = []

    async def view() -> None:
        answers.append(await graphs.render(owner.user.id, [stat.public_id]))

    async with anyio.create_task_group() as views:
        for _ in range(4):
            views.start_soon(view)

    assert sorted(a["cached"] for a in answers) == [False, True, True, True]
    assert len({a["etag"] for a in answers}) == 1


async def test_the_app_serves_render_over_json_rpc(
    settings: Settings, engine: Engine, owner: Account
) -> None:
    """End to end: the answer must survive JSON, and domain errors must cross as such."""
    stat = signups(engine, owner)
    call = {"jsonrpc": "2.0", "id": 1, "method": "render"}
    mine = {"user_id": owner.user.id, "stat_ids": [stat.public_id], "format": "svg"}
    secret = load_rpc_secret(settings)

    async def post(params: dict[str, Any]) -> Any:
        body = orjson.dumps({**call, "params": params})
        return (await client.post("/", content=body, headers=sign(secret, body))).json()

    with serve(create_app(settings)) as server:
        async with httpx.AsyncClient(base_url=server.url) as client:
            drawn = await post(mine)
            refused = await post({**mine, "stat_ids": ["nope"]})

    result = drawn["result"]
    assert result["content_type"] == "image/svg+xml"
    assert ET.fromstring(base64.b64decode(result["body"])).tag == f"{SVG}svg"
    assert refused["error"]["data"]["kind"] == "NotFound"
