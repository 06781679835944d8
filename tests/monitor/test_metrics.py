"""The in-process collector and what a report looks like, without a database."""

from __future__ import annotations

from aerie.monitor import Metrics, Snapshot, ez_items, resident_mb


def test_counts_add_up_and_a_snapshot_starts_them_again() -> None:
    metrics = Metrics("api")
    metrics.count("aerie api requests /c")
    metrics.count("aerie api requests /c", 2)
    first = metrics.snapshot()
    assert first.counts == {"aerie api requests /c": 3}
    assert metrics.snapshot().counts == {}


def test_observations_report_their_mean_and_how_many() -> None:
    metrics = Metrics("api")
    for ms in (1.0, 2.0, 6.0):
        metrics.observe("aerie api latency ms /c", ms)
    assert metrics.snapshot().observed == {"aerie api latency ms /c": (3.0, 3)}


def test_a_report_holds_counters_as_counts_and_observations_as_values() -> None:
    snapshot = Snapshot({"aerie api commits": 4}, {"aerie api commit ms": (2.5, 4)})
    items = ez_items(snapshot, ("aerie api 8001 memory MB", 61.25))
    assert items == [
        {"stat": "aerie api commits", "count": 4},
        {"stat": "aerie api commit ms", "value": 2.5},
        {"stat": "aerie api 8001 memory MB", "value": 61.2},
    ]


def test_memory_is_named_by_role_and_port_once_the_port_is_known() -> None:
    metrics = Metrics("graph")
    assert metrics.memory_stat() == "aerie graph memory MB"
    metrics.learn_port({"server": ("127.0.0.1", 8010)})
    assert metrics.memory_stat() == "aerie graph 8010 memory MB"


def test_resident_memory_is_a_plausible_number_of_megabytes() -> None:
    assert 5 < resident_mb() < 4096
