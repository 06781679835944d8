"""StatHat timeframes: ``1w3h`` is one week in 3-hour points, "1 week @ 3 hours"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aerie.errors import BadRequest

UNITS: dict[str, tuple[int, str]] = {
    "m": (60, "minute"),
    "h": (3600, "hour"),
    "d": (86400, "day"),
    "w": (7 * 86400, "week"),
    "M": (30 * 86400, "month"),
    "y": (365 * 86400, "year"),
}
MAX_POINTS = 10_000
# Longer frames are typos, and their bounds would overflow the 64-bit bucket column.
MAX_DURATION = 100 * UNITS["y"][0]
# The latest start a frame may have: 9999-12-31T23:59:59Z less the longest frame, so every
# frame, and every local date in it, ends before the year 10000.
LATEST_START = 253_402_300_799 - MAX_DURATION
_PART = re.compile(r"(\d+)([mhdwMy])", re.ASCII)  # ASCII: "１w" is not a timeframe
_FRAME = re.compile(r"^(\d+[mhdwMy])(\d+[mhdwMy])?$", re.ASCII)
# More digits than any frame under the limit needs; Python would refuse to read
# thousands of them at all (a ValueError, not a message saying what to fix).
_MAX_DIGITS = 12

# Without an interval, the finest interval that keeps a frame near 100-300 points.
_DEFAULT_INTERVALS = (60, 300, 900, 3600, 3 * 3600, 86400, 7 * 86400)


@dataclass(frozen=True)
class Timeframe:
    duration: int  # seconds
    interval: int  # seconds
    label: str

    @property
    def points(self) -> int:
        return self.duration // self.interval


def _amount(part: str) -> tuple[int, str]:
    match = _PART.fullmatch(part)
    assert match is not None
    number, unit = int(match.group(1)), match.group(2)
    seconds, word = UNITS[unit]
    return number * seconds, f"{number} {word}{'' if number == 1 else 's'}"


def parse_timeframe(text: str) -> Timeframe:
    """Parse ``1w3h`` (or ``1w``, which picks an interval); raise BadRequest saying what to fix."""
    match = _FRAME.match(text.strip())
    if not match:
        raise BadRequest(
            f"timeframe {text!r} is not understood; use a duration and an interval such as "
            "1w3h (units m, h, d, w, M, y)"
        )
    if any(len(part) > _MAX_DIGITS for part in match.groups() if part):
        raise BadRequest(f"timeframe {text!r} is longer than the limit of 100 years")
    duration, duration_label = _amount(match.group(1))
    if match.group(2):
        interval, interval_label = _amount(match.group(2))
    else:
        interval = next(
            (i for i in _DEFAULT_INTERVALS if duration // i <= 300), _DEFAULT_INTERVALS[-1]
        )
        interval_label = _label_seconds(interval)
    if duration > MAX_DURATION:
        raise BadRequest(f"timeframe {text!r} is longer than the limit of 100 years")
    if duration == 0 or interval == 0:
        raise BadRequest(f"timeframe {text!r} has a zero duration or interval")
    if interval > duration:
        raise BadRequest(f"timeframe {text!r}: the interval is longer than the duration")
    if duration // interval > MAX_POINTS:
        raise BadRequest(
            f"timeframe {text!r} asks for {duration // interval} points; the limit is {MAX_POINTS}"
        )
    return Timeframe(duration, interval, f"{duration_label} @ {interval_label}")


def _label_seconds(seconds: int) -> str:
    for unit in "ywdhm":
        size, word = UNITS[unit]
        if seconds % size == 0:
            number = seconds // size
            return f"{number} {word}{'' if number == 1 else 's'}"
    raise ValueError(seconds)


def check_start(start: int | None) -> int | None:
    """A frame's start as given (unix seconds), or BadRequest saying what is allowed."""
    if start is not None and not 0 <= start <= LATEST_START:
        raise BadRequest(
            f"start must be a time in unix seconds from 0 to {LATEST_START}, "
            f"such as 1700000000, not {start}"
        )
    return start


def check_timezone(name: str) -> str:
    """An IANA zone name such as Europe/Paris; raises BadRequest naming the mistake."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(
            f"{name!r} is not a time zone; use an IANA name such as Europe/Paris or UTC"
        ) from None
    return name
