"""Fairness: what one account's flood does to another account's posts.

    .venv/bin/python bench/fairness.py                 # SQLite in a temp dir
    .venv/bin/python bench/fairness.py --db mariadb    # a fresh database on 127.0.0.1:3306

The API runs as one uvicorn worker (uvloop, httptools). A quiet account posts
one point to ``/ez`` ``--quiet-rate`` times a second (open loop: each request
leaves on schedule, however slow the last one was). The run takes ``--rounds``
turns of two phases: ``--seconds`` of the quiet account alone, then
``--seconds`` more while a flood account runs wrk with ``bench/flood.lua``
(``--connections`` in flight), taking turns between 1,000-point batches to its
existing stats, tilde fan-outs of ``--fan-out`` new names (each a new stat) and
single posts. The flood is bounded by wrk's duration. Alternating the phases
(rather than one of each) makes a shared machine's slow minutes fall on both.

Printed: the rate limit and stat limit the API ran with, the quiet account's
p50/p99/max alone and during the flood (all rounds pooled) and its errors (any
answer but 2xx, or no answer), and the flood's answers by status. The target
(issue section 6) is no errors for the quiet account and its p99 during the
flood within 5x of its p99 alone; it is reported, never a failure: exit 1 only
if the quiet account got an error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import httpx

from aerie import accounts, migrate, stats
from aerie.db import make_engine
from aerie.settings import Settings
from bench.ingest import (
    MARIADB_SERVER,
    Server,
    describe_db,
    in_scratch,
    machine,
    server_version,
)

FLOOD_LUA = HERE / "flood.lua"
FLOOD_STATS = 1000  # the flood's batch: one point to each of its 1,000 existing stats
TARGET_RATIO = 5.0


@dataclass
class Quiet:
    """The quiet account's latencies (ms) and errors in one phase."""

    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def line(self, label: str) -> str:
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())) or "none"
        return (f"{label:<14} {len(self.latencies) + self.error_count:>5} requests  "
                f"p50 {self.percentile(50):7.1f} ms  p99 {self.percentile(99):7.1f} ms  "
                f"max {max(self.latencies, default=float('nan')):7.1f} ms  errors {errors}")


def main() -> int:
    args = parse_args()
    if shutil.which(args.wrk) is None:
        sys.exit(f"wrk not found ({args.wrk}); apt-get install wrk")
    return in_scratch(args, "fairness", bench, keep=args.keep)


def parse_args() -> argparse.Namespace:
    defaults = Settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "mariadb"), default="sqlite")
    parser.add_argument("--mariadb-server", default=MARIADB_SERVER,
                        help="server URL; a fresh database aerie_bench_<pid> is made and dropped")
    parser.add_argument("--seconds", type=float, default=5,
                        help="length of each phase: quiet alone, then quiet during the flood")
    # 1,200 quiet posts a phase: its p99 is then the 12th slowest, not the 3rd
    parser.add_argument("--rounds", type=int, default=6, help="turns of the two phases")
    parser.add_argument("--quiet-rate", type=float, default=40, help="quiet posts per second")
    parser.add_argument("--connections", type=int, default=16, help="the flood's connections")
    parser.add_argument("--threads", type=int, default=2, help="the flood's wrk threads")
    parser.add_argument("--fan-out", type=int, default=50, help="new names per fan-out request")
    parser.add_argument("--rate-limit", type=int, default=defaults.rate_limit_points,
                        help="AERIE_RATE_LIMIT_POINTS for the API (0: off)")
    parser.add_argument("--max-stats", type=int, default=defaults.max_stats_per_account,
                        help="AERIE_MAX_STATS_PER_ACCOUNT for the API (0: no limit)")
    parser.add_argument("--wrk", default="wrk")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, SQLite)")
    return parser.parse_args()


def bench(args: argparse.Namespace, workdir: Path, database_url: str) -> int:
    engine = make_engine(Settings(database_url=database_url))
    migrate.upgrade(engine)
    now = int(time.time())
    with engine.begin() as conn:
        quiet = accounts.create_user(conn, "bench-quiet@example.com", None, now)
        stats.create_stat(conn, quiet.id, "quiet requests", "counter", now)
        flood = accounts.create_user(conn, "bench-flood@example.com", None, now)
        for i in range(FLOOD_STATS):
            stats.create_stat(conn, flood.id, f"flood {i:04d}", "counter", now)
    db_version = server_version(engine)
    batch = workdir / "batch.json"
    batch.write_text(json.dumps({
        "ezkey": flood.ezkey,
        "data": [{"stat": f"flood {i:04d}", "count": 1} for i in range(FLOOD_STATS)],
    }))

    env = dict(os.environ, AERIE_DATABASE_URL=database_url, AERIE_MONITOR_SECONDS="0",
               AERIE_RATE_LIMIT_POINTS=str(args.rate_limit),
               AERIE_MAX_STATS_PER_ACCOUNT=str(args.max_stats))
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} before start")
    print(f"database: {describe_db(args.db, db_version)}")
    print(f"API: one uvicorn worker; AERIE_RATE_LIMIT_POINTS={args.rate_limit} "
          f"(burst {args.rate_limit * 5}), AERIE_MAX_STATS_PER_ACCOUNT={args.max_stats}")
    print(f"quiet: {args.quiet_rate:g} posts/s; {args.rounds} rounds of {args.seconds:g} s alone "
          f"then {args.seconds:g} s during the flood; flood: wrk -t{args.threads} -c{args.connections}, "
          f"1,000-point batches, {args.fan_out}-name fan-outs of new stats, single posts\n")

    with Server("api_service.main:app", env, workdir / "api.log") as server:
        alone, during, flood_answers = asyncio.run(
            phases(args, server.url, quiet.ezkey, flood.ezkey, batch))
    with engine.connect() as conn:
        flood_stats = stats.count_stats(conn, flood.id)
    engine.dispose()

    print(alone.line("quiet alone"))
    print(during.line("quiet + flood"))
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(flood_answers["statuses"].items()))
    seconds = flood_answers["duration_us"] / 1e6
    print(f"flood          {flood_answers['requests']} requests in {seconds:.1f} s "
          f"({flood_answers['requests'] / seconds:.0f}/s); answers {statuses}; "
          f"socket errors {flood_answers['socket_errors']}; "
          f"the account has {flood_stats} stats ({FLOOD_STATS} before)")
    ratio = during.percentile(99) / alone.percentile(99)
    errors = during.error_count + alone.error_count
    met = errors == 0 and ratio <= TARGET_RATIO
    print(f"\nquiet p99 during / alone: {ratio:.1f}x; quiet errors: {errors}; "
          f"target (0 errors, <= {TARGET_RATIO:g}x) {'met' if met else 'NOT met'}")
    return 1 if errors else 0


async def phases(args: argparse.Namespace, url: str, quiet_key: str, flood_key: str,
                 batch: Path) -> tuple[Quiet, Quiet, dict[str, Any]]:
    alone, during = Quiet(), Quiet()
    flood: dict[str, Any] = {"requests": 0, "duration_us": 0, "socket_errors": 0, "statuses": {}}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await post_quiet(client, quiet_key, Quiet())  # opens the connection, fills the key cache
        for _ in range(args.rounds):
            await quiet_phase(client, quiet_key, args.quiet_rate, args.seconds, alone)
            wrk = await asyncio.create_subprocess_exec(
                args.wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds:g}s",
                "--timeout", "30s", "-s", str(FLOOD_LUA), url, "--", flood_key, str(batch),
                str(args.fan_out), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            await quiet_phase(client, quiet_key, args.quiet_rate, args.seconds, during)
            out, err = await wrk.communicate()
            add_flood(flood, out.decode(), err.decode(), wrk.returncode)
    return alone, during, flood


def add_flood(total: dict[str, Any], out: str, err: str, code: int | None) -> None:
    """Add one wrk run's counts (its "FLOOD_JSON" line) to ``total``."""
    for line in out.splitlines():
        if line.startswith("FLOOD_JSON "):
            run = json.loads(line.removeprefix("FLOOD_JSON "))
            for key in ("requests", "duration_us", "socket_errors"):
                total[key] += run[key]
            for status, n in run["statuses"].items():
                total["statuses"][status] = total["statuses"].get(status, 0) + n
            return
    raise SystemExit(f"wrk printed no result (exit {code}):\n{out}\n{err}")


async def quiet_phase(client: httpx.AsyncClient, ezkey: str, rate: float, seconds: float,
                      quiet: Quiet) -> None:
    """Post on schedule, ``rate`` a second for ``seconds``, whatever earlier posts are doing."""
    start = time.monotonic()
    sent: list[asyncio.Task[None]] = []
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        sent.append(asyncio.create_task(post_quiet(client, ezkey, quiet)))
    await asyncio.gather(*sent)


async def post_quiet(client: httpx.AsyncClient, ezkey: str, quiet: Quiet) -> None:
    started = time.perf_counter()
    try:
        answer = await client.post("/ez", data={"ezkey": ezkey, "stat": "quiet requests",
                                                "count": "1"})
    except httpx.HTTPError as exc:
        quiet.errors[type(exc).__name__] = quiet.errors.get(type(exc).__name__, 0) + 1
        return
    if answer.is_success:
        quiet.latencies.append((time.perf_counter() - started) * 1000)
    else:
        key = f"{answer.status_code} {answer.text[:80]}"
        quiet.errors[key] = quiet.errors.get(key, 0) + 1


if __name__ == "__main__":
    sys.exit(main())
