"""Histograms: how interval values fall into shared bins, and how the chart shows them."""

from __future__ import annotations

import pytest

from app_servers.charts import EMPTY_MESSAGE, render_chart
from app_servers.histograms import MOST_BINS, Histogram, histogram
from tests.app_servers.test_charts import series, svg_options, texts


def test_histogram_counts_whole_numbers_in_whole_number_bins() -> None:
    """Counts of 1, 1, 2, 2, 2 and 5: a bar of two at 1, of three at 2, one at 5."""
    counted = histogram([series([1.0, 1.0, 2.0, 2.0, 2.0, 5.0], kind="counter")])

    assert counted == Histogram([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [[2, 3, 0, 0, 1]])


def test_histogram_leaves_out_a_counters_running_interval() -> None:
    """The running hour's partial sum is not a value the counter took."""
    counts = series([5.0, 5.0, 1.0], kind="counter")

    assert histogram([counts], unfinished=True).counts == [[2]]
    assert sum(histogram([counts]).counts[0]) == 3


def test_histogram_leaves_out_a_value_stats_gaps_and_shares_bins_when_comparing() -> None:
    counted = histogram([series([0.5, 1.5, 2.5, None]), series([0.6, None, None, 2.4], "b")])

    assert counted.edges[0] == 0.5 and counted.edges[-1] == 2.5
    assert [sum(c) for c in counted.counts] == [3, 2]
    assert counted.counts[1][0] == 1 and counted.counts[1][-1] == 1


@pytest.mark.parametrize("values", [
    [i * 0.37 for i in range(5000)],  # fractions: numpy's 'auto' alone would give hundreds
    [float(i) for i in range(0, 50_000, 7)],  # whole numbers over a wide range
])
def test_histogram_bins_are_at_most_thirty(values: list[float | None]) -> None:
    counted = histogram([series(values)])

    assert len(counted.edges) - 1 <= MOST_BINS
    assert sum(counted.counts[0]) == len(values)


def test_histogram_of_nothing_has_no_bins_and_says_so() -> None:
    assert histogram([series([None, None], "a"), series([None, None], "b")]) == (
        Histogram([], [[], []])
    )
    for style in ("full", "mini", "fill"):
        drawn = render_chart([series([None, None])], None, svg_options(style, chart="histogram"))
        assert EMPTY_MESSAGE in texts(drawn.body)


def test_histogram_axes_count_intervals_and_show_values_with_their_unit() -> None:
    drawn = render_chart([series([10.0, 20.0, 20.0, 30.0], unit="ms")], None,
                         svg_options(chart="histogram"))

    labels = texts(drawn.body)
    assert "intervals" in labels
    assert "20 ms" in labels
    assert not any(":" in label for label in labels)  # no times on a histogram
