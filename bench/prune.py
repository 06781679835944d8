"""Ingestion latency while a large prune runs, against the same API without one.

    .venv/bin/python bench/prune.py --db mariadb     # a fresh database on 127.0.0.1:3306
    .venv/bin/python bench/prune.py                  # SQLite in a temp dir

Loads ``--stats`` stats with ``--days`` of expired minute rows each (straight into
``stat_minutes``, older than the 30-day retention), starts one API worker and drives
``/c`` with wrk three times in the same run:

  idle      no prune: the baseline
  batched   while ``aerie.retention.prune_expired`` deletes the rows in batches of
            ``--batch-rows`` (a transaction each), as ``aerie db prune`` and ``aerie up`` do
  one DELETE  (rows loaded again) while one statement deletes them all in one
            transaction, as the prune did before batching

Each wrk run starts with its prune and lasts ``--duration`` seconds; the prune's own
time is printed beside it (a prune shorter than the run dilutes the percentiles).
Figures only, never pass/fail on time; exit 1 only on a non-2xx answer or rows
left behind.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sqlalchemy import Engine, delete, func, insert, select

from aerie import accounts, migrate, stats
from aerie.db import make_engine
from aerie.retention import prune_expired
from aerie.rollups import PRUNE_BATCH_ROWS
from aerie.schema import DAY, stat_minutes
from aerie.settings import Settings
from bench.ingest import (
    MARIADB_SERVER,
    Server,
    describe_db,
    in_scratch,
    machine,
    ms,
    run_wrk,
    server_version,
)

FORM = "application/x-www-form-urlencoded"
LOAD_CHUNK = 20_000


def main() -> int:
    return in_scratch(parse_args(), "prune", bench)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "mariadb"), default="sqlite")
    parser.add_argument("--mariadb-server", default=MARIADB_SERVER)
    parser.add_argument("--stats", type=int, default=2, help="stats with expired minute data")
    parser.add_argument("--days", type=int, default=365, help="days of minute rows per stat")
    parser.add_argument("--batch-rows", type=int, default=PRUNE_BATCH_ROWS)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=10, help="wrk's per-request timeout, s")
    parser.add_argument("--wrk", default="wrk")
    return parser.parse_args()


def bench(args: argparse.Namespace, workdir: Path, database_url: str) -> int:
    settings = Settings(database_url=database_url, retention_minutes_days=30)
    engine = make_engine(settings)
    migrate.upgrade(engine)
    now = int(time.time())
    with engine.begin() as conn:
        user = accounts.create_user(conn, "bench-prune@example.com", None, now)
        posted = stats.create_stat(conn, user.id, "bench posted", "counter", now)
        old = [stats.create_stat(conn, user.id, f"bench old {i}", "counter", now).id
               for i in range(args.stats)]
    body = workdir / "c.body"
    body.write_bytes(f"ukey={user.ukey}&key={posted.classic_key}&count=1".encode())
    print(f"machine: {machine()}")
    print(f"database: {describe_db(args.db, server_version(engine))}")
    print(f"expired data: {args.stats} stats x {args.days} days of minute rows "
          f"= {args.stats * args.days * 1440:,} rows; batches of {args.batch_rows:,}")
    print(f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s on /c, "
          "one uvicorn worker (uvloop, httptools)\n")

    env = {"AERIE_DATABASE_URL": database_url, "AERIE_RATE_LIMIT_POINTS": "0",
           "AERIE_MONITOR_SECONDS": "0"}
    results: list[tuple[str, dict[str, Any], float | None, int]] = []
    failures: list[str] = []
    with Server("api_service.main:app", {**os.environ, **env}, workdir / "api.log") as api:
        api.post("/c", body.read_bytes(), FORM)  # fills the key cache
        url = api.url + "/c"
        results.append(("idle (no prune)", run_wrk(args, url, FORM, body), None, 0))
        runs: list[tuple[str, Callable[[], int]]] = [
            ("batched prune", lambda: _batched(engine, settings, args.batch_rows)),
            ("one DELETE", lambda: _one_delete(engine, now)),
        ]
        for label, prune in runs:
            load_expired(engine, old, now, args.days)
            outcome = _while(prune, lambda: run_wrk(args, url, FORM, body))
            wrk, seconds, rows = outcome
            results.append((label, wrk, seconds, rows))
            if _left(engine, old, now):
                failures.append(f"{label}: expired rows left behind")
    engine.dispose()
    print_table(results)
    failures += [f"{label}: {w['non_2xx']} non-2xx answers" for label, w, _, _ in results
                 if w["non_2xx"]]
    if failures:
        print("\nFAIL:\n  " + "\n  ".join(failures))
        return 1
    return 0


def load_expired(engine: Engine, stat_ids: list[int], now: int, days: int) -> None:
    """``days`` of minute rows per stat, all older than the 30-day retention."""
    started = time.monotonic()
    last = (now - 31 * DAY) // 60 * 60
    for sid in stat_ids:
        buckets = range(last - days * DAY, last, 60)
        for i in range(0, len(buckets), LOAD_CHUNK):
            rows = [{"stat_id": sid, "bucket": b, "n": 1, "sum": 1.0, "min": 1.0, "max": 1.0}
                    for b in buckets[i:i + LOAD_CHUNK]]
            with engine.begin() as conn:
                conn.execute(insert(stat_minutes), rows)
    print(f"loaded {len(stat_ids) * days * 1440:,} expired rows in "
          f"{time.monotonic() - started:.1f} s", flush=True)


def _batched(engine: Engine, settings: Settings, batch_rows: int) -> int:
    return prune_expired(engine, settings, int(time.time()), batch_rows)["stat_minutes"]


def _one_delete(engine: Engine, now: int) -> int:
    """The prune before batching: one statement, one transaction."""
    with engine.begin() as conn:
        done = conn.execute(delete(stat_minutes).where(stat_minutes.c.bucket < now - 30 * DAY))
        return done.rowcount


def _while(prune: Callable[[], int], load: Callable[[], dict[str, Any]]
           ) -> tuple[dict[str, Any], float, int]:
    """Run ``load`` (wrk) while ``prune`` runs in a thread; the prune's seconds and rows."""
    outcome: dict[str, float | int] = {}

    def run() -> None:
        started = time.monotonic()
        outcome["rows"] = prune()
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=run)
    thread.start()
    wrk = load()
    thread.join()
    return wrk, float(outcome["seconds"]), int(outcome["rows"])


def _left(engine: Engine, stat_ids: list[int], now: int) -> int:
    with engine.connect() as conn:
        return int(conn.execute(
            select(func.count()).select_from(stat_minutes).where(
                stat_minutes.c.stat_id.in_(stat_ids), stat_minutes.c.bucket < now - 30 * DAY)
        ).scalar_one())


def print_table(results: list[tuple[str, dict[str, Any], float | None, int]]) -> None:
    base = results[0][1]["latency_us"]["p99"]
    print("\n| /c while | requests/s | p50 | p99 | max | p99 / idle p99 | prune |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for label, wrk, seconds, rows in results:
        lat = wrk["latency_us"]
        rps = wrk["ok"] / (wrk["duration_us"] / 1e6)
        prune = "—" if seconds is None else f"{rows:,} rows in {seconds:.1f} s"
        print(f"| {label} | {rps:,.0f} | {ms(lat['p50'])} | {ms(lat['p99'])} | {ms(lat['max'])} "
              f"| {lat['p99'] / base:.2f} | {prune} |")
    print("\nBENCH_JSON " + json.dumps([
        {"run": label, "wrk": wrk, "prune_seconds": seconds, "prune_rows": rows}
        for label, wrk, seconds, rows in results]))


if __name__ == "__main__":
    sys.exit(main())
