"""``aerie import whisper``: a Graphite tree comes in as value stats, each archive at its resolution."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import whisper  # type: ignore[import-untyped]
from sqlalchemy import Engine

from aerie import stats
from aerie.schema import VALUE
from aerie.series import read_series
from aerie.timeframes import parse_timeframe
from ops.cli import main
from tests.conftest import Account

MINUTES, HOURS = (60, 120), (3600, 48)  # 2 hours of minutes, 2 days of hours


def make_tree(root: Path, now: int) -> Path:
    """``servers/web1/cpu.wsp``: a point a minute for 10 hours, each hour its own level."""
    path = root / "servers" / "web1" / "cpu.wsp"
    path.parent.mkdir(parents=True)
    whisper.create(str(path), [MINUTES, HOURS])
    points = [(t, t // 3600 % 24 + t // 60 % 60 / 100) for t in range(now - 10 * 3600, now, 60)]
    whisper.update_many(str(path), points, now=now)  # whisper's clock is the test's
    return path


def archive(path: Path, step: int, start: int, end: int) -> dict[int, float]:
    """What whisper itself holds in one archive, by time, read as of ``end`` rather than
    whisper's own clock (one loaded CI run read a window holding only the oldest slot)."""
    (first, _until, got_step), values = whisper.fetch(str(path), start, end, now=end,
                                                      archiveToSelect=step)
    return {first + i * got_step: v for i, v in enumerate(values) if v is not None}


def import_tree(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], database_url: str,
    root: Path, email: str,
) -> tuple[int, str, str]:
    monkeypatch.setenv("AERIE_DATABASE_URL", database_url)
    status = main(["import", "whisper", str(root), "--user", email])
    out, err = capsys.readouterr()
    return status, out, err


def test_each_archive_is_read_at_its_own_resolution_and_twice_is_once(
    engine: Engine, owner: Account, database_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    now = int(time.time())
    if now % 60 == 0:  # whisper.fetch, the oracle below, finds one slot for a window
        now -= 1       # ending on a step; the importer reads the file itself
    path = make_tree(tmp_path, now)
    minutes = archive(path, 60, now - 7201, now)  # all but the oldest slot: fetch starts a step on
    first_minute = min(minutes)
    old_hour = first_minute - first_minute % 3600 - 5 * 3600  # wholly before the minutes
    hours = archive(path, 3600, old_hour - 1, old_hour + 3600)  # fetch starts a step on
    assert minutes and old_hour in hours

    for run in range(2):
        status, out, err = import_tree(monkeypatch, capsys, database_url, tmp_path,
                                       owner.user.email)
        assert status == 0, err
        assert f"{'1 stat(s) created, 0' if run == 0 else '0 stat(s) created, 1'} updated" in out
        with engine.connect() as conn:
            stat = stats.stat_by_name(conn, owner.user.id, "servers.web1.cpu")
            assert stat is not None and stat.kind == VALUE
            by_minute = read_series(conn, stat, parse_timeframe("2h1m"), now, start=now - 7200)
            by_hour = read_series(conn, stat, parse_timeframe("1h1h"), now, start=old_hour)
        read = {p.time: p.value for p in by_minute.points if p.value is not None}
        assert len(minutes) >= 119 and len(read) == 120
        assert {t: read[t] for t in minutes} == pytest.approx(minutes)
        assert [(p.value, p.rcount) for p in by_hour.points] == [(pytest.approx(hours[old_hour]), 1)]


def test_a_file_that_is_not_whisper_stops_the_run_and_names_it(
    engine: Engine, owner: Account, database_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    make_tree(tmp_path, int(time.time()))
    broken = tmp_path / "zz" / "broken.wsp"
    broken.parent.mkdir()
    broken.write_bytes(b"\x00\x00\x00\x01not whisper at all")
    status, _out, err = import_tree(monkeypatch, capsys, database_url, tmp_path,
                                    owner.user.email)
    assert status == 1
    assert f"{broken}: " in err and "the 1 file(s) before it were imported" in err
    with engine.connect() as conn:
        assert stats.stat_by_name(conn, owner.user.id, "servers.web1.cpu") is not None
        assert stats.stat_by_name(conn, owner.user.id, "zz.broken") is None
