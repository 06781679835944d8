"""Drawing graphs from series in memory: layout and what the pictures contain."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from aerie.comments import Comment
from aerie.contracts import full_graph_plot_area
from aerie.errors import BadRequest
from aerie.numbers import compact_number
from aerie.series import Point, Series
from aerie.stats import Stat
from aerie.timeframes import parse_timeframe
from app_servers.chart_options import STYLES, ChartOptions, chart_options
from app_servers.charts import EMPTY_MESSAGE, PALETTE, render_chart

T0 = 1_700_006_400  # 2023-11-15 00:00 UTC
SVG = "{http://www.w3.org/2000/svg}"


def stat(name: str = "load time", kind: str = "value", unit: str | None = None) -> Stat:
    return Stat(1, "s1", 1, name, kind, "ck", unit, False, T0, None)


def series(values: list[float | None], name: str = "load time", kind: str = "value",
           unit: str | None = None) -> Series:
    frame = parse_timeframe(f"{len(values)}h1h")
    points = [
        Point(T0 + i * 3600, v, 0 if v is None else 1) for i, v in enumerate(values)
    ]
    return Series(stat(name, kind, unit), frame, points, T0 + len(values) * 3600)


def svg_options(
    style: str = "full", width: int = 800, height: int = 300, chart: str = "line"
) -> ChartOptions:
    return chart_options("svg", width, height, "UTC", style, "", chart)


def texts(body: bytes) -> list[str]:
    return [t.text or "" for t in ET.fromstring(body).iter(f"{SVG}text")]


@pytest.mark.parametrize(
    ("value", "label"),
    [(0, "0"), (950, "950"), (1200, "1.2k"), (1500, "1.5k"), (2000, "2k"), (3_400_000, "3.4M"),
     (12.5, "12.5"), (0.25, "0.25"), (-12, "−12"), (7e9, "7B"), (0.004, "0.004")],
)
def test_tick_numbers_are_compact(value: float, label: str) -> None:
    assert compact_number(value) == label


def test_svg_is_sized_in_pixels_and_keeps_text_as_text() -> None:
    drawn = render_chart([series([1.0, 2.0, 3.0])], None, svg_options(width=640, height=240))

    root = ET.fromstring(drawn.body)
    assert (root.get("width"), root.get("height")) == ("640", "240")
    assert "load time" in texts(drawn.body)


def test_equal_graphs_are_equal_bytes() -> None:
    """Copies of the graph server must agree, byte for byte, on what an etag names."""
    for fmt in ("png", "svg"):
        options = chart_options(fmt, 400, 200, "UTC", "full", "")
        first = render_chart([series([1.0, None, 3.0])], None, options)
        again = render_chart([series([1.0, None, 3.0])], None, options)
        assert first.body == again.body


@pytest.mark.parametrize("fmt", ["png", "svg"])
@pytest.mark.parametrize("chart", ["line", "histogram"])
def test_nothing_of_one_graph_shows_in_the_next_of_its_size(fmt: str, chart: str) -> None:
    """Graphs of one size and style are drawn on one kept figure: a graph drawn after a
    busy one (other stats, a title, a legend, comment markers, a unit, a threshold,
    normalised lines, a denser image) is the same as when drawn first."""
    options = chart_options(fmt, 500, 200, "UTC", "full", "", chart)
    quiet = ([series([None, None, None])], None, options)
    first = render_chart(*quiet).body
    busy = chart_options(fmt, 500, 200, "UTC", "full", "a title", chart, scale=2,
                         threshold=7.0, normalise=True)
    render_chart([series([1.0, None, 3.0, 9.0], "latency", unit="ms"),
                  series([4.0, 2.0, 1.0, 5.0], "size", unit="kB")],
                 series([2.0, 2.0, 2.0, 2.0]), busy, True,
                 [Comment(1, 1, T0 + 3600, "deploy", T0)])
    assert render_chart(*quiet).body == first


def test_plot_area_depends_on_style_and_size_not_on_data() -> None:
    options = svg_options()
    small = render_chart([series([1.0, 2.0])], None, options).plot_area
    large = render_chart([series([1e9, -5e8], unit="bytes")], None, options).plot_area
    compare = render_chart(
        [series([1.0, 2.0], "a"), series([3.0, 4.0], "b")], None, options
    ).plot_area

    assert small == large == compare
    for style in STYLES:
        x0, y0, x1, y1 = render_chart([series([1.0, 2.0])], None, svg_options(style)).plot_area
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1


@pytest.mark.parametrize(("width", "height"), [(1100, 380), (760, 262), (320, 200)])
def test_a_full_graphs_plot_area_is_what_pages_work_out_without_a_render(
    width: int, height: int
) -> None:
    """Stat, compare and backtest pages lay their hover and marks out with
    ``full_graph_plot_area``, asking for no render; it must be where the chart draws."""
    options = chart_options("png", width, height, "UTC", "full", "", "line")
    drawn = render_chart([series([1.0, 2.0])], None, options).plot_area

    # the chart answers fractions to 5 decimals
    assert list(drawn) == pytest.approx(full_graph_plot_area(width, height), abs=5e-6)


def test_a_shared_unit_labels_the_y_axis() -> None:
    drawn = render_chart([series([1.0, 2.0], unit="ms")], None, svg_options())

    assert "ms" in texts(drawn.body)


def test_compared_stats_with_different_units_carry_them_in_the_legend() -> None:
    drawn = render_chart(
        [series([1.0, 2.0], "latency", unit="ms"), series([3.0, 4.0], "size", unit="kB")],
        None, svg_options(),
    )

    labels = texts(drawn.body)
    assert {"latency (ms)", "size (kB)"} <= set(labels)
    assert "ms" not in labels


def test_a_value_between_two_gaps_is_drawn_as_a_dot() -> None:
    """A lone value makes no line segment; without a marker it would vanish. (The gaps are
    long beside the stat's usual spacing, so they are not joined: ``app_servers.gaps``.)"""
    outage: list[float | None] = [None] * 6
    lonely = render_chart([series([1.0] * 8 + outage + [2.0] + outage + [3.0] + outage
                                  + [4.0] * 8)], None, svg_options())
    joined = render_chart([series([1.0, 1.5, 2.0, 2.5, 3.0, 4.0])], None, svg_options())

    dot = f'style="fill: {PALETTE[0]}; stroke: {PALETTE[0]}"'.encode()  # the first stat's marker
    assert lonely.body.count(dot) == 2
    assert joined.body.count(dot) == 0


def test_sparklines_have_no_words_even_when_empty() -> None:
    drawn_values: list[list[float | None]] = [[1.0, 5.0, 2.0], [None, None, None]]
    for values in drawn_values:
        drawn = render_chart([series(values)], None, svg_options("spark", 120, 40))
        assert texts(drawn.body) == []


def test_an_empty_graph_says_so_without_a_scale() -> None:
    drawn = render_chart([series([None, None, None], unit="ms")], None, svg_options())

    assert EMPTY_MESSAGE in texts(drawn.body)
    assert b'id="ytick_' not in drawn.body  # matplotlib's SVG groups each tick by id
    assert b'id="xtick_' in drawn.body


def test_a_counters_unfinished_last_interval_is_drawn_faint() -> None:
    """The running interval's sum is partial; its drop must not read as a collapse."""
    counts = series([40.0, 42.0, 3.0], "signups", "counter")

    running = render_chart([counts], None, svg_options(), unfinished=True)
    finished = render_chart([counts], None, svg_options(), unfinished=False)

    assert b"stroke-opacity: 0.35" in running.body
    assert b"stroke-opacity: 0.35" not in finished.body


def test_embed_styles_label_what_fits() -> None:
    """fill and fill_bar take full's title and legend when big, mini's bare axes when small."""
    for style in ("fill", "fill_bar"):
        big = render_chart([series([1.0, 3.0, 2.0])], None, svg_options(style, 760, 235))
        small = render_chart([series([1.0, 3.0, 2.0])], None, svg_options(style, 300, 100))
        assert "load time" in texts(big.body)
        assert "load time" not in texts(small.body)


def test_fill_bar_draws_a_bar_per_interval_with_data() -> None:
    drawn = render_chart([series([1.0, None, 3.0, 2.0])], None, svg_options("fill_bar"))

    assert drawn.body.count(f"fill: {PALETTE[0]}".encode()) == 3  # the gap draws no bar


def test_a_scaled_png_has_twice_the_pixels_and_the_same_layout() -> None:
    """A 2x image for a dense screen: sharper, not smaller text."""
    plain = render_chart([series([1.0, 2.0, 3.0])], None,
                         chart_options("png", 400, 200, "UTC", "full", ""))
    dense = render_chart([series([1.0, 2.0, 3.0])], None,
                         chart_options("png", 400, 200, "UTC", "full", "", scale=2))

    assert Image.open(io.BytesIO(plain.body)).size == (400, 200)
    assert Image.open(io.BytesIO(dense.body)).size == (800, 400)
    assert dense.plot_area == plain.plot_area


def test_the_dark_theme_draws_on_a_dark_background() -> None:
    light, dark = (
        render_chart([series([1.0, 2.0, 3.0])], None,
                     chart_options("png", 400, 200, "UTC", "full", "", theme=theme))
        for theme in ("light", "dark")
    )
    inside_plot = (200, 100)  # the axes' own background, not only the figure's margin
    for corner in ((0, 0), inside_plot):
        assert sum(Image.open(io.BytesIO(light.body)).convert("RGB").getpixel(corner)) > 700
        assert sum(Image.open(io.BytesIO(dark.body)).convert("RGB").getpixel(corner)) < 150


@pytest.mark.parametrize(("field", "value"), [("theme", "sepia"), ("scale", 4.0), ("scale", 0.5)])
def test_unknown_themes_and_scales_are_refused(field: str, value: object) -> None:
    with pytest.raises(BadRequest, match=field):
        chart_options("png", 400, 200, "UTC", "full", "", **{field: value})  # type: ignore[arg-type]


def test_an_alert_threshold_is_drawn_across_the_graph_even_above_the_data() -> None:
    options = chart_options("svg", 800, 300, "UTC", "full", "", threshold=50.0)
    drawn = render_chart([series([1.0, 2.0, 3.0])], None, options)
    plain = render_chart([series([1.0, 2.0, 3.0])], None, svg_options())

    assert b'id="threshold"' in drawn.body and b'id="threshold"' not in plain.body
    assert "50" in texts(drawn.body)  # the axis reaches up to it


def test_a_value_stat_posted_every_fifth_interval_draws_no_lonely_dots() -> None:
    sparse: list[float | None] = [v if i % 5 == 0 else None for i, v in enumerate([2.0] * 31)]
    drawn = render_chart([series(sparse)], None, svg_options())
    dot = f'style="fill: {PALETTE[0]}; stroke: {PALETTE[0]}"'.encode()
    assert drawn.body.count(dot) == 0
