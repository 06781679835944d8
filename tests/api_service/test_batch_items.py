"""A batch item reads the same inside a JSON batch as alone: batches take a quicker
road for the usual item, and whatever it leaves to the general reader (fan-outs,
numbers as text, odd times, refusals) comes out as that reader says."""

from __future__ import annotations

from typing import Any

import pytest

from aerie.errors import BadRequest
from api_service.parsing import Limits, Point, ez_point_values, ez_points

LIMITS = Limits(batch_limit=1000, max_future_seconds=3600, max_past_seconds=400 * 86400)
NOW = 1_796_000_000.0  # fixed: the test ids spell the times

ITEMS: list[dict[str, Any]] = [
    {"stat": "pages", "count": 1},
    {"stat": "latency", "value": 2.5},
    {"stat": "pages", "count": -3, "t": int(NOW) - 60},
    {"stat": "pages", "count": 1, "t": NOW - 0.5},
    {"stat": "pages", "count": 1, "t": None},
    {"stat": "pages", "count": 2**60},  # a float cannot hold it exactly
    {"stat": "pages", "count": "3"},  # numbers as text: the general reader's
    {"stat": "pages", "count": 1, "t": str(int(NOW) - 60)},
    {"stat": "shop~north,south", "count": 1},  # a fan-out: two points
    {"stat": "  padded  ", "count": 1},
    {"stat": "pages", "count": True},
    {"stat": "pages", "count": float("inf")},
    {"stat": "pages", "count": float("nan")},
    {"stat": "pages", "count": 1, "t": NOW + 10**9},
    {"stat": "pages", "count": 1, "t": NOW - 10**9},
    {"stat": "pages", "count": 1, "t": True},
    {"stat": "", "count": 1},
    {"stat": 7, "count": 1},
    {"stat": "line\nbreak", "count": 1},
    {"stat": "pages", "count": 1, "value": 2},
    {"stat": "pages"},
    {"stat": "pages", "count": ""},
]


def alone(item: dict[str, Any]) -> list[Point] | str:
    try:
        return ez_point_values(item, NOW, LIMITS)
    except BadRequest as exc:
        return exc.message


def in_a_batch(item: dict[str, Any]) -> list[Point] | str:
    try:
        return ez_points({"data": [{"stat": "first", "count": 1}, item]}, NOW, LIMITS)[1:]
    except BadRequest as exc:
        return exc.message.removeprefix("data[1]: ")


@pytest.mark.parametrize("item", ITEMS, ids=repr)
def test_a_batch_item_reads_as_it_does_alone(item: dict[str, Any]) -> None:
    expected = alone(item)
    assert in_a_batch(item) == expected
    if isinstance(expected, list):  # the same numbers, as floats
        assert all(type(p.x) is float and type(p.t) is float for p in in_a_batch(item))


def test_a_batch_of_plain_items_past_the_limit_after_a_fan_out_is_refused() -> None:
    data = [{"stat": "shop~" + ",".join(f"s{i}" for i in range(10)), "count": 1}]
    data += [{"stat": f"stat {i}", "count": 1} for i in range(995)]
    with pytest.raises(BadRequest, match="limit is 1000 points per request"):
        ez_points({"data": data}, NOW, LIMITS)
