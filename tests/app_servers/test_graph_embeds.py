"""The graph server's embed styles, histograms and comment markers, on SQLite and MariaDB."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from sqlalchemy import Engine, delete

from aerie.comments import Comment, add_comment
from aerie.errors import BadRequest, NotFound
from aerie.schema import comments
from aerie.stats import Stat
from app_servers.charts import EMPTY_MESSAGE
from app_servers.graph import GraphServer
from tests.app_servers.test_graph import (
    HOUR,
    NOW,
    PNG_SIGNATURE,
    SVG,
    Clock,
    body,
    signups,
    svg_texts,
)
from tests.conftest import Account, make_stat, put_points

pytestmark = pytest.mark.anyio

# Each style at a typical embed size and at the smallest it draws.
SIZES = {
    "full": [(760, 235), (240, 120)],
    "mini": [(300, 100), (120, 60)],
    "spark": [(300, 60), (100, 40)],
    "fill": [(760, 235), (300, 100), (120, 60)],
    "fill_bar": [(760, 235), (300, 100), (120, 60)],
}


@pytest.fixture
def graphs(engine: Engine) -> GraphServer:
    return GraphServer(engine, Clock(NOW))


def comment(engine: Engine, owner: Account, stat: Stat, at: int, text: str) -> Comment:
    with engine.begin() as conn:
        return add_comment(conn, owner.user.id, stat.id, at, text, NOW)


def marker_titles(answer: dict[str, Any]) -> dict[str, str]:
    """The SVG's comment groups by id, with the text of their titles."""
    return {
        g.get("id", ""): g.findtext(f"{SVG}title", "")
        for g in ET.fromstring(body(answer)).iter(f"{SVG}g")
        if g.get("id", "").startswith("comment-")
    }


@pytest.mark.parametrize(
    ("style", "size"), [(style, size) for style, sizes in SIZES.items() for size in sizes]
)
async def test_every_style_draws_png_and_svg_at_embed_and_smallest_sizes(
    graphs: GraphServer, engine: Engine, owner: Account, style: str, size: tuple[int, int]
) -> None:
    stat = signups(engine, owner)
    width, height = size

    png = await graphs.render(owner.user.id, [stat.public_id], style=style, width=width,
                              height=height)
    svg = await graphs.render(owner.user.id, [stat.public_id], style=style, width=width,
                              height=height, format="svg")

    assert body(png).startswith(PNG_SIGNATURE)
    assert struct.unpack(">II", body(png)[16:24]) == size
    root = ET.fromstring(body(svg))
    assert (root.get("width"), root.get("height")) == (str(width), str(height))


@pytest.mark.parametrize("style", sorted(SIZES))
async def test_a_size_under_a_styles_smallest_says_the_range(
    graphs: GraphServer, engine: Engine, owner: Account, style: str
) -> None:
    stat = signups(engine, owner)
    width, height = SIZES[style][-1]

    with pytest.raises(BadRequest) as caught:
        await graphs.render(owner.user.id, [stat.public_id], style=style, width=width - 1,
                            height=height)

    assert f"width must be {width} to 2000 pixels for style {style!r}" in caught.value.message


async def test_a_histogram_counts_intervals_by_value(
    graphs: GraphServer, engine: Engine, owner: Account
) -> None:
    """A day of hourly load times: 20 hours at 100 ms, 4 at 300 ms."""
    stat = make_stat(engine, owner, "load time", "value")
    day = NOW - NOW % (24 * HOUR)
    put_points(engine, stat, [(day - (h + 1) * HOUR, 300 if h < 4 else 100) for h in range(24)],
               NOW - HOUR)

    answer = await graphs.render(owner.user.id, [stat.public_id], "1d1h", start=day - 24 * HOUR,
                                 chart="histogram", format="svg")

    labels = svg_texts(answer)
    assert "intervals" in labels and "load time" in labels
    assert "20" in labels  # the y axis reaches the tallest bar, of 20 intervals
    assert b"stroke-dasharray" not in body(answer)  # no period before on a histogram


async def test_a_histogram_without_data_says_so(
    graphs: GraphServer, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "load time", "value")

    answer = await graphs.render(owner.user.id, [stat.public_id], chart="histogram",
                                 style="fill", format="svg", width=760, height=235)

    assert EMPTY_MESSAGE in svg_texts(answer)


async def test_comments_in_the_frame_are_marked_and_listed(
    graphs: GraphServer, engine: Engine, owner: Account
) -> None:
    stat = signups(engine, owner)
    comment(engine, owner, stat, NOW - 30 * 24 * HOUR, "last month: not drawn")
    comment(engine, owner, stat, NOW - 5 * HOUR, "deploy <v2> & rollback")

    answer = await graphs.render(owner.user.id, [stat.public_id], style="fill", format="svg",
                                 width=760, height=235)

    assert answer["comments"] == [{"time": NOW - 5 * HOUR, "text": "deploy <v2> & rollback"}]
    assert marker_titles(answer) == {
        "comment-0": "deploy <v2> & rollback", "comment-0-line": "deploy <v2> & rollback"
    }


async def test_compared_stats_list_the_comments_of_each(
    graphs: GraphServer, engine: Engine, owner: Account
) -> None:
    web, api = signups(engine, owner, "web"), signups(engine, owner, "api")
    comment(engine, owner, api, NOW - 3 * HOUR, "api deploy")
    comment(engine, owner, web, NOW - 9 * HOUR, "web deploy")

    answer = await graphs.render(owner.user.id, [web.public_id, api.public_id], style="fill_bar")

    assert [c["text"] for c in answer["comments"]] == ["web deploy", "api deploy"]


@pytest.mark.parametrize(("style", "chart"), [("spark", "line"), ("full", "histogram")])
async def test_sparklines_and_histograms_mark_no_comments(
    graphs: GraphServer, engine: Engine, owner: Account, style: str, chart: str
) -> None:
    stat = signups(engine, owner)
    comment(engine, owner, stat, NOW - 5 * HOUR, "deploy")

    answer = await graphs.render(owner.user.id, [stat.public_id], style=style, chart=chart,
                                 format="svg")

    assert answer["comments"] == [] and marker_titles(answer) == {}


async def test_a_new_comment_redraws_and_a_removed_one_redraws_again(
    graphs: GraphServer, engine: Engine, owner: Account
) -> None:
    stat = signups(engine, owner)

    async def render() -> dict[str, Any]:
        return await graphs.render(owner.user.id, [stat.public_id], style="mini",
                                   width=300, height=100)

    plain = await render()
    added = comment(engine, owner, stat, NOW - 5 * HOUR, "deploy")
    marked = await render()
    with engine.begin() as conn:
        conn.execute(delete(comments).where(comments.c.id == added.id))
    unmarked = await render()

    assert marked["cached"] is False and marked["etag"] != plain["etag"]
    assert marked["body"] != plain["body"] and marked["comments"] != []
    assert unmarked["cached"] is True and unmarked["etag"] == plain["etag"]  # the first render
    assert unmarked["comments"] == []


async def test_a_comment_outside_the_frame_keeps_the_cached_render(
    graphs: GraphServer, engine: Engine, owner: Account
) -> None:
    stat = signups(engine, owner)
    before = await graphs.render(owner.user.id, [stat.public_id])

    comment(engine, owner, stat, NOW - 30 * 24 * HOUR, "last month")
    after = await graphs.render(owner.user.id, [stat.public_id])

    assert after["cached"] is True and after["etag"] == before["etag"]


async def test_an_outsider_cannot_draw_the_owners_stat_in_any_chart(
    graphs: GraphServer, engine: Engine, owner: Account, outsider: Account
) -> None:
    stat = signups(engine, owner)
    comment(engine, owner, stat, NOW - 5 * HOUR, "private")

    for chart, style in (("histogram", "full"), ("line", "fill")):
        with pytest.raises(NotFound):
            await graphs.render(outsider.user.id, [stat.public_id], chart=chart, style=style)
