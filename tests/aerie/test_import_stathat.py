"""``aerie import stathat``: StatHat's exports come back as the same figures, once, however often imported."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import Engine

from aerie import stats
from aerie.schema import COUNTER, VALUE
from aerie.series import read_series
from aerie.stats import Stat
from aerie.timeframes import parse_timeframe
from ops.cli import main
from ops.import_command import Progress
from tests.conftest import Account, make_stat, put_points

DAY0 = 1_456_790_400  # 2016-03-01T00:00:00Z, a StatHat-era day
HOURLY = [3.0, 0.0, 7.0, 1.0, 0.0, 12.0]
LATENCY = [0.25, None, 0.5, 0.75, 1.0, 0.125]


def aerie_import(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], database_url: str,
    *argv: str,
) -> tuple[int, str, str]:
    """Run ``aerie import stathat ...`` in-process; returns (status, stdout, stderr)."""
    monkeypatch.setenv("AERIE_DATABASE_URL", database_url)
    status = main(["import", "stathat", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def x_data(*series: tuple[str, Sequence[object]]) -> list[dict[str, object]]:
    """``/x/TOKEN/data/...?t=6h1h&start=DAY0`` as StatHat answered it."""
    return [{"name": name, "timeframe": "6 hours @ 1 hour",
             "points": [{"time": DAY0 + i * 3600, "value": v} for i, v in enumerate(values)]}
            for name, values in series]


def write(path: Path, data: object) -> str:
    path.write_text(json.dumps(data, indent=1))
    return str(path)


def statlist(tmp_path: Path) -> str:
    return write(tmp_path / "statlist.json", [
        {"id": "a1", "name": "signups", "public": False, "counter": True},
        {"id": "b2", "name": "latency", "public": False, "counter": False},
    ])


def stat_named(engine: Engine, owner: Account, name: str) -> Stat | None:
    with engine.connect() as conn:
        return stats.stat_by_name(conn, owner.user.id, name)


def figures(engine: Engine, owner: Account, name: str, frame: str, start: int) -> list[object]:
    stat = stat_named(engine, owner, name)
    assert stat is not None
    with engine.connect() as conn:
        series = read_series(conn, stat, parse_timeframe(frame), DAY0 + 86400, start=start)
    return [p.value for p in series.points]


def test_x_data_reads_back_as_exported_and_a_second_import_changes_nothing(
    engine: Engine, owner: Account, database_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    data = write(tmp_path / "data.json", x_data(("signups", HOURLY), ("latency", LATENCY)))
    argv = (data, "--statlist", statlist(tmp_path), "--user", owner.user.email)

    for run in range(2):
        status, out, err = aerie_import(monkeypatch, capsys, database_url, *argv)
        assert status == 0, err
        assert figures(engine, owner, "signups", "6h1h", DAY0) == HOURLY
        assert figures(engine, owner, "latency", "6h1h", DAY0) == LATENCY
        assert figures(engine, owner, "signups", "1d1d", DAY0) == [sum(HOURLY)]
        assert figures(engine, owner, "latency", "1d1d", DAY0) == [pytest.approx(0.525)]
        assert ("2 stat(s) created, 0 updated" if run == 0 else "0 stat(s) created, 2 updated") in out
    signups = stat_named(engine, owner, "signups")
    assert signups is not None and signups.kind == COUNTER


def test_import_sets_its_intervals_and_keeps_live_data_around_them(
    engine: Engine, owner: Account, database_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    stat = make_stat(engine, owner, "signups", COUNTER)
    put_points(engine, stat, [(DAY0 + 60, 100.0), (DAY0 + 10 * 3600, 5.0)])
    data = write(tmp_path / "data.json", [{"name": "signups", "timeframe": "1 hour @ 1 minute",
                                           "points": [{"time": DAY0 + 60, "value": 4}]}])

    for _run in range(2):
        status, _out, err = aerie_import(monkeypatch, capsys, database_url, data,
                                         "--user", owner.user.email)
        assert status == 0, err
        # the exported minute replaces the live one; the live point hours later stays
        assert figures(engine, owner, "signups", "1d1d", DAY0) == [9.0]
        assert figures(engine, owner, "signups", "12h1h", DAY0)[0] == 4.0


def test_a1_dataset_carries_its_kind_and_raw_counts(
    engine: Engine, owner: Account, database_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    dataset = write(tmp_path / "a1.json", {
        "name": "queue depth", "timeframe": "1 day @ 3 hours", "kind": "value",
        "points": [{"time": DAY0, "value": 2.0, "rcount": 3},
                   {"time": DAY0 + 3 * 3600, "value": 8.0, "rcount": 1},
                   {"time": DAY0 + 6 * 3600, "value": None, "rcount": 0}],
    })
    status, _out, err = aerie_import(monkeypatch, capsys, database_url, dataset,
                                     "--user", owner.user.email)
    assert status == 0, err
    stat = stat_named(engine, owner, "queue depth")
    assert stat is not None and stat.kind == VALUE
    with engine.connect() as conn:
        series = read_series(conn, stat, parse_timeframe("9h3h"), DAY0 + 86400, start=DAY0)
    assert [(p.value, p.rcount) for p in series.points] == [(2.0, 3), (8.0, 1), (None, 0)]
    # the day's mean weighs each interval by its raw points, as StatHat's did
    assert figures(engine, owner, "queue depth", "1d1d", DAY0) == [3.5]


def test_aerie_csv_download_and_statHat_time_value_csv_import(
    engine: Engine, owner: Account, database_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    aerie_csv = tmp_path / "pageviews-3d1d.csv"
    aerie_csv.write_text("time,iso_time,value,count\r\n"
                         f"{DAY0},2016-03-01T00:00:00+00:00,40.0,4\r\n"
                         f"{DAY0 + 86400},2016-03-02T00:00:00+00:00,0.0,0\r\n"
                         f"{DAY0 + 2 * 86400},2016-03-03T00:00:00+00:00,2.0,1\r\n")
    plain_csv = tmp_path / "export.csv"
    plain_csv.write_text("2016-03-01T00:00:00Z,1.5\n2016-03-01T00:01:00Z,2.5\n"
                         "2016-03-01T00:03:00Z,\n")
    status, _out, err = aerie_import(monkeypatch, capsys, database_url, str(aerie_csv),
                                     "--kind", "counter", "--user", owner.user.email)
    assert status == 0, err
    status, _out, err = aerie_import(monkeypatch, capsys, database_url, str(plain_csv),
                                     "--name", "load", "--kind", "value",
                                     "--user", owner.user.email)
    assert status == 0, err
    assert figures(engine, owner, "pageviews", "3d1d", DAY0) == [40.0, 0.0, 2.0]
    assert figures(engine, owner, "load", "4m1m", DAY0) == [1.5, 2.5, None, None]


@pytest.mark.parametrize(("content", "where"), [
    ('[{"name": "good", "timeframe": "1 hour @ 1 minute",\n "points": [}]', "line 2, column"),
    (json.dumps(x_data(("good", [1.0]), ("bad", [1.0, "lots"]))), "item 1: point 1"),
])
def test_a_bad_json_file_is_refused_whole_with_its_position(
    engine: Engine, owner: Account, database_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], content: str, where: str,
) -> None:
    first = write(tmp_path / "first.json", x_data(("earlier", HOURLY)))
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    status, _out, err = aerie_import(monkeypatch, capsys, database_url, first, str(bad),
                                     "--kind", "counter", "--user", owner.user.email)
    assert status == 1
    assert f"{bad}: {where}" in err
    assert "nothing from this file was written; the 1 file(s) before it were imported" in err
    assert stat_named(engine, owner, "earlier") is not None
    assert stat_named(engine, owner, "good") is None


def test_a_bad_csv_row_is_named_by_line_and_nothing_is_written(
    engine: Engine, owner: Account, database_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    bad = tmp_path / "orders-1h1m.csv"
    bad.write_text(f"time,value\n{DAY0},1\n{DAY0 + 60},2\n{DAY0 + 120},two\n")
    status, _out, err = aerie_import(monkeypatch, capsys, database_url, str(bad),
                                     "--kind", "counter", "--user", owner.user.email)
    assert status == 1
    assert f"{bad}: line 4: value must be a number" in err
    assert stat_named(engine, owner, "orders") is None


def test_a_new_stat_of_unknown_kind_or_past_the_limit_is_refused(
    engine: Engine, owner: Account, database_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    data = write(tmp_path / "data.json", x_data(("signups", HOURLY), ("latency", LATENCY)))
    status, _out, err = aerie_import(monkeypatch, capsys, database_url, data,
                                     "--user", owner.user.email)
    assert status == 1 and "--statlist" in err
    monkeypatch.setenv("AERIE_MAX_STATS_PER_ACCOUNT", "1")
    status, _out, err = aerie_import(monkeypatch, capsys, database_url, data,
                                     "--kind", "value", "--user", owner.user.email)
    assert status == 1 and "the limit is 1" in err
    assert stat_named(engine, owner, "signups") is None


@pytest.mark.processes
def test_the_aerie_command_imports_with_progress_and_a_summary(
    engine: Engine, owner: Account, database_url: str, tmp_path: Path,
) -> None:
    data = write(tmp_path / "data.json", x_data(("signups", HOURLY)))
    result = subprocess.run(
        [sys.executable, "-m", "aerie", "import", "stathat", data, "--statlist",
         statlist(tmp_path), "--user", owner.user.email],
        env={**os.environ, "AERIE_DATABASE_URL": database_url}, capture_output=True,
        text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"imported {data}: 6 points (1/1)" in result.stderr
    assert "imported 1 file(s): 1 stat(s) created, 0 updated, 6 points" in result.stdout
    assert figures(engine, owner, "signups", "6h1h", DAY0) == HOURLY


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_progress_is_one_line_redrawn_then_ended() -> None:
    screen = Terminal()
    progress = Progress(screen, total=2)
    progress.within("a.json", 1, 3)
    progress.step("a.json", 10)
    progress.step("b.json", 5)
    progress.close()
    text = screen.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    assert text.split("\r")[-1].startswith(f"importing [{'#' * 30}] 2/2 files, 15 points")
    assert "a.json: 1/3 stats" in text
