"""CPU time of a cold graph render: today's drawing code against the code before it, one process.

    .venv/bin/python bench/render.py                   # 1w of minute data at 760x235, full style
    .venv/bin/python bench/render.py --repeats 100 --style fill --size 400x150 --out /tmp/r

A counter stat gets two weeks of minute points in a scratch SQLite database
(written through ``rollups.add_point``/``write_cells`` as the API does); the
graph server's own reads give the week shown and the week before, which is
drawn dashed. Both render paths draw those same series: ``before`` is
``app_servers/charts.py`` as it was at ``BASELINE`` (loaded from git into a
module of its own), ``now`` is the checkout's. Each path renders ``--repeats``
times, alternating, timed with ``time.process_time`` (CPU of this process,
which is what a graph copy spends; the machine's other load moves wall time
far more), and the medians and their ratio are printed. Database reads are
not timed: only drawing and encoding.

``--out DIR`` writes both PNGs, to compare by eye. Figures only: never fails on time.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from aerie import accounts, migrate, rollups, stats
from aerie.db import make_engine
from aerie.schema import COUNTER, DAY
from aerie.series import Series, previous_start, read_series
from aerie.settings import Settings
from aerie.timeframes import parse_timeframe
from app_servers import charts
from app_servers.chart_options import ChartOptions, chart_options
from bench.ingest import machine

# The render path before this bench's work: the last commit before charts.py was changed.
BASELINE = "d136715"

Render = Callable[..., charts.Rendered]


def main() -> int:
    args = parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    options = chart_options(args.format, width, height, "UTC", args.style, "", "line")
    current, before = two_weeks(args.timeframe)
    paths = {"before": baseline_charts().render_chart, "now": charts.render_chart}
    unfinished = False
    for name, render in paths.items():  # the first render loads fonts and fills caches
        drawn = render(current, before, options, unfinished)
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            (Path(args.out) / f"{name}.{args.format}").write_bytes(drawn.body)
    seconds: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(args.repeats):
        for name, render in paths.items():
            began = time.process_time()
            render(current, before, options, unfinished)
            seconds[name].append(time.process_time() - began)
    report(args, options, current, seconds)
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--timeframe", default="1w", help="a StatHat timeframe (default 1w)")
    parser.add_argument("--size", default="760x235", help="WIDTHxHEIGHT in pixels")
    parser.add_argument("--style", default="full")
    parser.add_argument("--format", choices=("png", "svg"), default="png")
    parser.add_argument("--repeats", type=int, default=60, help="renders per path, alternating")
    parser.add_argument("--out", help="a folder to write both images to")
    args = parser.parse_args()
    if args.repeats < 5:
        parser.error("--repeats must be at least 5")
    return args


def two_weeks(timeframe: str) -> tuple[list[Series], Series]:
    """The frame and the one before it, read as the graph server reads them, from minute
    points covering both (a daily swing with some noise, so the line has detail)."""
    frame = parse_timeframe(timeframe)
    now = int(time.time())
    with tempfile.TemporaryDirectory(prefix="aerie-bench-render-") as folder:
        engine = make_engine(Settings(database_url=f"sqlite:///{folder}/render.db"))
        migrate.upgrade(engine)
        with engine.begin() as conn:
            user = accounts.create_user(conn, "bench-render@example.com", None, now)
            stat = stats.create_stat(conn, user.id, "requests", COUNTER, now)
        cells: rollups.Cells = {}
        first = now - now % 60 - 2 * frame.duration - frame.interval
        for t in range(first, now, 60):
            swing = math.sin(2 * math.pi * (t % DAY) / DAY)
            rollups.add_point(cells, stat.id, t, round(50 + 30 * swing + (t * 7919) % 13))
        with engine.begin() as conn:
            rollups.write_cells(conn, cells)
        with engine.connect() as conn:
            current = read_series(conn, stat, frame, now)
            before = read_series(conn, stat, frame, now, previous_start(frame, None, now))
        engine.dispose()
    return [current], before


def baseline_charts() -> ModuleType:
    """``app_servers/charts.py`` at ``BASELINE``, as a module named ``charts_before``."""
    source = subprocess.run(["git", "show", f"{BASELINE}:app_servers/charts.py"], cwd=ROOT,
                            check=True, capture_output=True).stdout
    spec = importlib.util.spec_from_loader("charts_before", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["charts_before"] = module  # dataclasses look their module up by name
    exec(compile(source, f"{BASELINE}:app_servers/charts.py", "exec"), module.__dict__)
    return module


def report(args: argparse.Namespace, options: ChartOptions, current: list[Series],
           seconds: dict[str, list[float]]) -> None:
    before, now = (statistics.median(seconds[name]) * 1000 for name in ("before", "now"))
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}")
    print(f"graph: {args.timeframe} ({len(current[0].points)} points, and the period before "
          f"dashed), {options.width}x{options.height} {options.style} {options.format}; "
          f"{args.repeats} renders per path, alternating; CPU time (time.process_time)\n")
    print("| render path | median CPU | p10 | p90 |")
    print("| --- | ---: | ---: | ---: |")
    for name, label in (("before", f"before ({BASELINE})"), ("now", "now")):
        ordered = sorted(seconds[name])
        p10, p90 = (ordered[int(q * (len(ordered) - 1))] * 1000 for q in (0.1, 0.9))
        print(f"| {label} | {statistics.median(ordered) * 1000:.2f} ms | {p10:.2f} ms | "
              f"{p90:.2f} ms |")
    print(f"\nnow / before (medians): {now / before:.2f} ({before / now:.2f}x less CPU)")
    argv = " ".join(sys.argv[1:])
    print(f"command: .venv/bin/python bench/render.py{' ' + argv if argv else ''}")


if __name__ == "__main__":
    sys.exit(main())
