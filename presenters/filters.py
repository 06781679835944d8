"""Formatting shared by every page and the graph server: numbers, times, timeframes."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aerie import numbers
from aerie.numbers import compact_number
from aerie.timeframes import parse_timeframe


def compact(value: float | None, unit: str | None = None) -> str:
    """1234 -> '1.23k', 3_400_000 -> '3.4M'; no value is an em dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    text = compact_number(value)
    return f"{text} {unit}" if unit else text


def relative_time(then: int | None, now: int) -> str:
    """'just now', '5 minutes ago', '3 days ago', 'in 2 hours'; None is 'never'."""
    if then is None:
        return "never"
    delta = now - then
    if abs(delta) < 45:
        return "just now"
    amount, unit = _largest_unit(abs(delta))
    words = f"{amount} {unit}{'' if amount == 1 else 's'}"
    return f"{words} ago" if delta > 0 else f"in {words}"


def _largest_unit(seconds: int) -> tuple[int, str]:
    for size, unit in ((86400 * 365, "year"), (86400 * 30, "month"), (86400 * 7, "week"),
                       (86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            return round(seconds / size), unit
    return max(1, seconds), "second"


def local_time(when: int | None, timezone: str, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """Unix seconds as wall-clock time in the viewer's zone (with its abbreviation)."""
    if when is None:
        return "—"
    moment = datetime.fromtimestamp(when, ZoneInfo(timezone))
    return f"{moment.strftime(pattern)} {moment.tzname()}"


def percent_change(now: float | None, before: float | None) -> str:
    """'+12%', '−3.4%', or '—' when there is nothing to compare against."""
    change = numbers.percent_change(now, before)
    if change is None:
        return "—"
    digits = 0 if abs(change) >= 10 else 1
    sign = "+" if change >= 0 else "−"
    return f"{sign}{abs(change):.{digits}f}%"


def timeframe_label(text: str) -> str:
    """'1w' -> '1 week'; what the timeframe buttons and headings say."""
    return parse_timeframe(text).label.split(" @ ")[0]


def sparkline_path(values: list[float | None], width: int = 120, height: int = 28) -> str:
    """An SVG path through the values (gaps break the line), scaled to the box."""
    known = [v for v in values if v is not None]
    if len(values) < 2 or not known:
        return ""
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    step = width / (len(values) - 1)
    path, pen_down = [], False
    for i, value in enumerate(values):
        if value is None:
            pen_down = False
            continue
        y = height - 2 - (value - low) / span * (height - 4)
        path.append(f"{'L' if pen_down else 'M'}{i * step:.1f},{y:.1f}")
        pen_down = True
    return " ".join(path)


def point_pairs(points: Iterable[Any]) -> list[list[float | None]]:
    """Points as ``[[time, value], ...]``, the compact form the hover script reads."""
    return [[p.time, p.value] for p in points]


def hover_series(point_lists: Iterable[Iterable[Any]], stats: Iterable[Any]) -> list[dict[str, Any]]:
    """Several stats' points for the hover script's ``data-series``: name, unit, pairs."""
    return [{"name": stat.name, "unit": stat.unit or "", "points": point_pairs(points)}
            for points, stat in zip(point_lists, stats, strict=True)]


def graph_left(when: int, graph: Any) -> float:
    """Where ``when`` falls across a graph image, in percent of its width, from the plot
    area the graph server reported: for marks laid over the picture."""
    x0, _y0, x1, _y1 = graph.plot_area
    share = (when - graph.first) / max(1, graph.end - graph.first)
    return round(100 * (x0 + min(1.0, max(0.0, share)) * (x1 - x0)), 3)


_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_ORDINALS = ("zeroth", "first", "second", "third", "fourth", "fifth", "sixth", "seventh",
             "eighth", "ninth", "tenth")


def sentence(message: str) -> str:
    """A domain error's message (lower case, as JSON answers carry it) as a sentence; one
    that opens with a parameter's name (``time_window must be ...``) keeps its spelling."""
    if "_" in message.split(" ", 1)[0]:
        return message
    return message[:1].upper() + message[1:]


def in_words(count: int, ordinal: bool = False) -> str:
    """A small number in running text, from the constant that sets it ("up to three
    stats", "third stat"); past ten, figures ("12", "12th")."""
    words = _ORDINALS if ordinal else _WORDS
    if 0 <= count < len(words):
        return words[count]
    if not ordinal:
        return str(count)
    suffix = "th" if 10 <= count % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(count % 10, "th")
    return f"{count}{suffix}"


FILTERS = {
    "sentence": sentence,
    "in_words": in_words,
    "graph_left": graph_left,
    "compact": compact,
    "relative_time": relative_time,
    "timeframe_label": timeframe_label,
    "sparkline_path": sparkline_path,
    "point_pairs": point_pairs,
    "hover_series": hover_series,
    "local_time": local_time,
    "percent_change": percent_change,
}
