"""Reading what StatHat gave its users: ``/x/`` data JSON, ``/a1/`` dataset JSON, CSV, statlists.

Each reader checks the whole file and returns its stats' points, or raises
BadImportFile naming the line and column (JSON syntax), the item (JSON content) or
the line (CSV); nothing here touches the database.

CSV: Aerie's own ``time,iso_time,value,count`` and any file with a header naming a
``time`` (or ``iso_time``/``date``) and a ``value`` column, or no header and
``time,value`` rows; times are unix seconds or ISO 8601 (UTC unless they say). The
stat's name is the file's name without ``.csv`` and a ``-1w3h`` timeframe suffix
(Aerie's download names), or ``name`` when the caller gives one.
"""

from __future__ import annotations

import csv
import json
import math
import re
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from aerie.errors import BadRequest
from aerie.imports.points import BadImportFile, ImportedStat, Point
from aerie.schema import COUNTER, VALUE
from aerie.text_rules import decimal_number
from aerie.timeframes import LATEST_START, UNITS, parse_timeframe

_WORDS = {word: seconds for seconds, word in UNITS.values()}
_LABEL_INTERVAL = re.compile(r"@\s*(\d+)\s+([a-z]+?)s?\s*$", re.ASCII)
_FILE_TIMEFRAME = re.compile(r"^(.+)-(\d+[mhdwMy](?:\d+[mhdwMy])?)$", re.ASCII)
_TIME_COLUMNS = ("time", "iso_time", "date", "timestamp")
_COUNT_COLUMNS = ("count", "rcount")


def read_statlist(path: Path) -> dict[str, str]:
    """``{name: kind}`` from a ``/x/TOKEN/statlist`` or ``/a1/stats`` answer."""
    data = _load_json(path)
    if not isinstance(data, list):
        raise BadImportFile(str(path), "", "a statlist is a JSON list of "
                            '{"name": ..., "counter": true|false} objects')
    kinds: dict[str, str] = {}
    for i, item in enumerate(data):
        if not (isinstance(item, dict) and isinstance(item.get("name"), str)
                and isinstance(item.get("counter"), bool)):
            raise BadImportFile(str(path), f"item {i}",
                                'expected {"name": "...", "counter": true|false}')
        kinds[item["name"]] = COUNTER if item["counter"] else VALUE
    return kinds


def read_stathat_file(path: Path, name: str | None = None) -> list[ImportedStat]:
    """The stats in one export, told apart by content: a JSON list is ``/x/`` data, a
    JSON object an ``/a1/`` dataset, anything else CSV. ``name`` names a CSV's stat."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadImportFile(str(path), f"byte {exc.start}", "not UTF-8 text") from None
    except OSError as exc:
        raise BadImportFile(str(path), "", exc.strerror or "cannot be read") from None
    start = text.lstrip()[:1]
    if start == "[":
        return _x_data(path, _parse_json(path, text))
    if start == "{":
        return [_a1_dataset(path, _parse_json(path, text))]
    return [_csv(path, text, name)]


def _load_json(path: Path) -> Any:
    try:
        return _parse_json(path, path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise BadImportFile(str(path), "", exc.strerror or "cannot be read") from None


def _parse_json(path: Path, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadImportFile(str(path), f"line {exc.lineno}, column {exc.colno}",
                            f"not valid JSON ({exc.msg})") from None


def _x_data(path: Path, data: list[Any]) -> list[ImportedStat]:
    """``[{"name", "timeframe", "points": [{"time", "value"}]}]`` from ``/x/TOKEN/data/...``."""
    found = []
    for i, item in enumerate(data):
        where = f"item {i}"
        if isinstance(item, dict) and "counter" in item and "points" not in item:
            raise BadImportFile(str(path), where, "this is a statlist; give it with --statlist")
        found.append(_dataset(path, where, item, kind=None))
    return found


def _a1_dataset(path: Path, item: Any) -> ImportedStat:
    """``{"name", "timeframe", "kind", "points": [{"time", "value", "rcount"}]}``."""
    kind = item.get("kind") if isinstance(item, dict) else None
    if kind not in (None, "count", "value"):
        raise BadImportFile(str(path), "kind", f'expected "count" or "value", not {kind!r}')
    return _dataset(path, "", item, kind=None if kind is None else
                    COUNTER if kind == "count" else VALUE)


def _dataset(path: Path, where: str, item: Any, kind: str | None) -> ImportedStat:
    at = f"{where}: " if where else ""
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) \
            or not isinstance(item.get("points"), list):
        raise BadImportFile(str(path), where or "top level",
                            'expected {"name": "...", "timeframe": "...", "points": [...]}')
    stat = ImportedStat(item["name"], kind)
    raw = []
    for j, p in enumerate(item["points"]):
        spot = f"{at}point {j}"
        if not isinstance(p, dict) or not _is_int(p.get("time")) \
                or not 0 <= p["time"] <= LATEST_START:
            raise BadImportFile(str(path), spot, 'expected {"time": unix seconds, "value": ...} '
                                f"with a time from 0 to {LATEST_START}")
        value = p.get("value")
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or not math.isfinite(value)):
            raise BadImportFile(str(path), spot, f"value must be a finite number, not {value!r}")
        rcount = p.get("rcount")
        if rcount is not None and not (_is_int(rcount) and rcount >= 0):
            raise BadImportFile(str(path), spot, f"rcount must be a whole number, not {rcount!r}")
        raw.append((p["time"], value, rcount))
    interval = _label_interval(item.get("timeframe")) or _spacing([t for t, _, _ in raw])
    if interval is None:
        raise BadImportFile(str(path), where or "timeframe", "cannot tell the interval: "
                            'no "timeframe" such as "1 week @ 3 hours" and fewer than two points')
    stat.points = [Point(t, interval, float(v), r) for t, v, r in raw if v is not None]
    return stat


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _label_interval(label: Any) -> int | None:
    """The interval of ``"1 week @ 3 hours"`` or ``"1w3h"`` in seconds; None if it says none."""
    if not isinstance(label, str):
        return None
    match = _LABEL_INTERVAL.search(label)
    if match and match.group(2) in _WORDS:
        return int(match.group(1)) * _WORDS[match.group(2)] or None
    try:
        return parse_timeframe(label).interval if "@" not in label else None
    except BadRequest:
        return None


def _spacing(times: list[int]) -> int | None:
    """The smallest gap between distinct times: the interval of a list of points."""
    distinct = sorted(set(times))
    gaps = [b - a for a, b in pairwise(distinct)]
    return min(gaps) if gaps else None


def _csv(path: Path, text: str, name: str | None) -> ImportedStat:
    stem = path.name[:-4] if path.name.lower().endswith(".csv") else path.name
    named = _FILE_TIMEFRAME.match(stem)
    interval = _label_interval(named.group(2)) if named else None
    stat = ImportedStat(name or (named.group(1) if named else stem), None)
    reader = csv.reader(text.splitlines())
    columns: tuple[int, int, int | None] = (0, 1, None)
    raw: list[tuple[int, float | None, int | None]] = []
    for row in reader:
        line = reader.line_num
        if not row or not any(cell.strip() for cell in row):
            continue
        if line == 1 and not _looks_like_time(row[0]):
            columns = _header(path, row)
            continue
        raw.append(_csv_row(path, line, row, columns))
    interval = interval or _spacing([t for t, _, _ in raw])
    if interval is None:
        raise BadImportFile(str(path), "", "cannot tell the interval: name the file like "
                            "STAT-1w3h.csv or give it at least two rows")
    stat.points = [Point(t, interval, v, r) for t, v, r in raw if v is not None]
    return stat


def _header(path: Path, row: list[str]) -> tuple[int, int, int | None]:
    names = [cell.strip().lower() for cell in row]
    time_at = next((names.index(c) for c in _TIME_COLUMNS if c in names), None)
    if time_at is None or "value" not in names:
        raise BadImportFile(str(path), "line 1", f"the header {','.join(row)!r} names no "
                            "time and value columns; expected time,value (as StatHat's and "
                            "Aerie's CSV downloads have)")
    count_at = next((names.index(c) for c in _COUNT_COLUMNS if c in names), None)
    return time_at, names.index("value"), count_at


def _csv_row(
    path: Path, line: int, row: list[str], columns: tuple[int, int, int | None]
) -> tuple[int, float | None, int | None]:
    time_at, value_at, count_at = columns
    needed = max(time_at, value_at, -1 if count_at is None else count_at) + 1
    if len(row) < needed:
        raise BadImportFile(str(path), f"line {line}",
                            f"expected {needed} columns, found {len(row)}")
    try:
        when = _time(row[time_at].strip())
        cell = row[value_at].strip()
        value = decimal_number("value", cell) if cell else None
        count = row[count_at].strip() if count_at is not None else ""
        rcount = int(count) if count.isascii() and count.isdigit() else None
    except BadRequest as exc:
        raise BadImportFile(str(path), f"line {line}", exc.message) from None
    return when, value, rcount


def _looks_like_time(cell: str) -> bool:
    try:
        _time(cell.strip())
    except BadRequest:
        return False
    return True


def _time(text: str) -> int:
    """Unix seconds, or an ISO 8601 time (UTC when it names no zone), from 1970 on."""
    if text.isascii() and text.isdigit() and len(text) <= len(str(LATEST_START)):
        seconds = int(text)
    else:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise BadRequest(f"time {text!r} is neither unix seconds nor an ISO 8601 time "
                             "such as 2016-03-01T12:00:00Z") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = int(moment.timestamp())
    if not 0 <= seconds <= LATEST_START:
        raise BadRequest(f"time {text!r} is not between 1970 and {LATEST_START} (unix seconds)")
    return seconds
