"""Comment markers on line charts, and their text as SVG tooltips."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from aerie.comments import Comment
from app_servers.chart_options import chart_options
from app_servers.charts import render_chart
from app_servers.markers import with_tooltips
from tests.app_servers.test_charts import SVG, T0, series, svg_options

MOMENTS = [Comment(1, 1, T0 + 3600 + 600, "deploy <v2> & rollback", T0),
           Comment(2, 1, T0 + 7200, "outage", T0)]


def test_comment_markers_carry_their_text_as_svg_titles() -> None:
    drawn = render_chart([series([1.0, 2.0, 3.0, 4.0])], None, svg_options("fill"),
                         comments=MOMENTS)

    groups = {g.get("id"): g for g in ET.fromstring(drawn.body).iter(f"{SVG}g")}
    for i, comment in enumerate(MOMENTS):
        for gid in (f"comment-{i}", f"comment-{i}-line"):
            assert groups[gid].find(f"{SVG}title").text == comment.text  # type: ignore[union-attr]


def test_comments_are_marked_in_png_too() -> None:
    options = chart_options("png", 400, 200, "UTC", "mini", "")
    plain = render_chart([series([1.0, 2.0, 3.0])], None, options)
    marked = render_chart([series([1.0, 2.0, 3.0])], None, options, comments=MOMENTS)

    assert marked.body != plain.body


@pytest.mark.parametrize(("style", "chart"), [("spark", "line"), ("full", "histogram")])
def test_sparklines_and_histograms_mark_no_comments(style: str, chart: str) -> None:
    drawn = render_chart([series([1.0, 2.0, 3.0])], None, svg_options(style, chart=chart),
                         comments=MOMENTS)

    assert b"comment-" not in drawn.body and b"<title>" not in drawn.body


def test_tooltips_drop_characters_xml_cannot_hold() -> None:
    """A control character in a comment must not make the whole graph unreadable."""
    svg = b'<g id="comment-0"><path/></g><g id="comment-0-line"><path/></g>'

    titled = with_tooltips(svg, [Comment(1, 1, T0, "deploy\x00 <1> \x1b& done", T0)])

    assert titled.count(b"<title>deploy &lt;1&gt; &amp; done</title>") == 2
