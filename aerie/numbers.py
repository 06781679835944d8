"""Numbers as people read them at a glance: one rule for graph ticks, pages and hover.

static/aerie.js mirrors ``compact_number`` for the graph's hover read-out.
"""

from __future__ import annotations


def compact_number(value: float) -> str:
    """Tick labels people read at a glance: 950, 1.2k, 3.4M, 0.25, −12."""
    if value == 0:
        return "0"
    sign = "−" if value < 0 else ""
    size = abs(value)
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= scale:
            return sign + _short(size / scale) + suffix
    return sign + _short(size)


def _short(size: float) -> str:
    """Three significant digits at most, trailing zeros dropped: 1.25, 12.5, 125."""
    if size < 0.01:
        return f"{size:.2g}"
    text = f"{size:.0f}" if size >= 100 else f"{size:.1f}" if size >= 10 else f"{size:.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def percent_change(now: float | None, before: float | None) -> float | None:
    """``(now - before) / |before|`` in percent; None when either is missing or ``before``
    is 0 (nothing to compare against). Reports, summaries, delta alerts and pages share it."""
    if now is None or not before:
        return None
    return (now - before) / abs(before) * 100.0
