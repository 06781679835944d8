"""Sparse value stats draw lines; real outages stay gaps."""

from __future__ import annotations

import numpy as np

from app_servers.gaps import MOST_JOINED, join_short_gaps, line_values

nan = np.nan


def test_points_every_fifth_interval_are_joined_into_a_line() -> None:
    y = np.array([1.0, nan, nan, nan, nan, 6.0, nan, nan, nan, nan, 1.0])
    joined = join_short_gaps(y)
    assert np.isfinite(joined).all()
    assert joined[1:5].tolist() == [2.0, 3.0, 4.0, 5.0]


def test_a_gap_much_longer_than_the_usual_spacing_stays_a_gap() -> None:
    y = np.array([1.0, nan, 2.0, nan, 3.0] + [nan] * 20 + [4.0, nan, 5.0])
    joined = join_short_gaps(y)
    assert np.isfinite(joined[:5]).all() and np.isfinite(joined[-3:]).all()
    assert np.isnan(joined[5:25]).all()


def test_nothing_before_the_first_or_after_the_last_point_is_drawn() -> None:
    joined = join_short_gaps(np.array([nan, nan, 1.0, nan, 2.0, nan, nan]))
    assert np.isnan(joined[[0, 1, 5, 6]]).all()


def test_no_gap_is_joined_past_the_limit_however_sparse_the_stat() -> None:
    gap = MOST_JOINED + 5
    y = np.array(([1.0] + [nan] * gap) * 3 + [1.0])
    assert np.isnan(join_short_gaps(y)).sum() == 3 * gap


def test_counters_and_bars_are_left_as_they_are() -> None:
    y = np.array([1.0, nan, 2.0])
    assert np.isnan(line_values(y, True, "full")[1])
    assert np.isnan(line_values(y, False, "fill_bar")[1])
    assert line_values(y, False, "full")[1] == 1.5
