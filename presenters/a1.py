"""Renderings for the ``/a1/`` API (JSON) and for downloading a stat page's points (CSV)."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aerie.comments import Comment
from aerie.series import Point, Series
from aerie.stats import Stat
from interactor.a1 import StatComments
from interactor.comments import StatData

CSV_HEADER = ("time", "iso_time", "value", "count")
# A text cell starting with one of these is run as a formula by spreadsheets
# (OWASP "CSV injection"); a leading apostrophe makes it plain text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


def stat_object(stat: Stat) -> dict[str, Any]:
    return {
        "id": stat.public_id,
        "name": stat.name,
        "public": stat.public,
        "counter": stat.counter,
        "data_received_at": stat.data_received_at,
        "created_at": stat.created_at,
    }


def stat_list(result: list[Stat]) -> list[dict[str, Any]]:
    return [stat_object(s) for s in result]


def dataset(result: Series) -> dict[str, Any]:
    """``{name, timeframe, kind, points: [{time, value, rcount}]}``; no data is ``null``."""
    return {
        "name": result.stat.name,
        "timeframe": result.timeframe.label,
        "kind": "count" if result.stat.counter else "value",
        "points": [{"time": p.time, "value": p.value, "rcount": p.rcount} for p in result.points],
    }


def _comment(stat: Stat, comment: Comment) -> dict[str, Any]:
    return {"id": comment.id, "stat_id": stat.public_id, "time": comment.at, "text": comment.text}


def comment(result: StatComments) -> dict[str, Any]:
    """The one comment just made, with the ``message`` StatHat's command-line client prints
    (it reads no other field, and prints an empty line without it)."""
    [made] = result.comments
    return {**_comment(result.stat, made), "message": f"comment added to {result.stat.name}"}


def comment_list(result: StatComments) -> list[dict[str, Any]]:
    return [_comment(result.stat, c) for c in result.comments]


def safe_cell(text: str) -> str:
    """A text cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_filename(stat_name: str, timeframe: str) -> str:
    """``<stat name>-<timeframe>.csv`` in characters safe in any file system and header."""
    name = _UNSAFE_IN_FILENAME.sub("_", stat_name).strip("._-")[:100] or "stat"
    return f"{name}-{_UNSAFE_IN_FILENAME.sub('_', timeframe)}.csv"


def _number(value: float | None) -> str:
    """As the JSON twin writes it (the shortest text that reads back as the same float)."""
    return "" if value is None else repr(value)


def points_csv(points: list[Point], timezone: str) -> str:
    """``time,iso_time,value,count``: one row per interval, ISO times in ``timezone``.

    An interval without data has an empty value (a value stat) or 0 (a counter),
    as the JSON twin's ``null`` and ``0``.
    """
    zone = ZoneInfo(timezone)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for p in points:
        iso = datetime.fromtimestamp(p.time, zone).isoformat()
        writer.writerow((p.time, safe_cell(iso), _number(p.value), p.rcount))
    return out.getvalue()


def stat_data_csv(result: StatData) -> tuple[str, str]:
    """The stat page's points as ``(filename, CSV)``, times in the viewer's zone."""
    return (csv_filename(result.stat.name, result.timeframe),
            points_csv(result.points, result.timezone))


def dataset_csv(result: Series, timeframe: str) -> tuple[str, str]:
    """An ``/a1/`` dataset as ``(filename, CSV)``, times in UTC as the API's are."""
    return csv_filename(result.stat.name, timeframe), points_csv(result.points, "UTC")
