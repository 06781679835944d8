"""What a page embedding a shared graph costs: cached embeds under concurrency, cold renders.

    .venv/bin/python bench/embed.py                   # SQLite in a temp dir
    .venv/bin/python bench/embed.py --db mariadb      # fresh aerie_bench_<pid> on 127.0.0.1:3306

One counter stat holds two weeks of minute points and is shared by an embed key.
The stack runs as in production (``bench/web.py``'s ``Server``: the web app, two
graph and two analysis copies, each its own uvicorn process). Then, with no
session (embeds need none):

- the cached embed PNG and the graph fragment, each ``--requests`` GETs from
  ``--concurrency`` clients at once (httpx, one connection pool): requests/s is
  requests over wall time, p50 is per request;
- the cached PNG again, one request at a time (latency without queueing);
- cold renders: sequential PNG GETs, each with a new width (``w=400``, ``401``...),
  so every one is a new render-cache key.

Figures only: it never fails on time, only on a wrong answer (non-200, not a PNG).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import httpx

from aerie import accounts, migrate, rollups, shares, stats
from aerie.db import make_engine
from aerie.schema import COUNTER, DAY
from aerie.settings import Settings
from bench.ingest import (
    MARIADB_SERVER,
    describe_db,
    in_scratch,
    machine,
    server_version,
)
from bench.web import PNG, WARMUP, Figures, web_stack

DAYS = 14


def main() -> int:
    return in_scratch(parse_args(), "embed", bench)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "mariadb"), default="sqlite")
    parser.add_argument("--mariadb-server", default=MARIADB_SERVER)
    parser.add_argument("--requests", type=int, default=2000, help="cached requests per series")
    parser.add_argument("--concurrency", type=int, default=16, help="cached requests in flight")
    parser.add_argument("--cold", type=int, default=40, help="cold renders (sequential)")
    return parser.parse_args()


def load(database_url: str) -> tuple[str, str]:
    """A counter with a point a minute for ``DAYS`` days, shared; (its key, the db version)."""
    engine = make_engine(Settings(database_url=database_url))
    migrate.upgrade(engine)
    now = int(time.time())
    end = now - now % 60 - 120  # settled: the graph server caches its renders until new data
    with engine.begin() as conn:
        user = accounts.create_user(conn, "bench-embed@example.com", None, now)
        stat = stats.create_stat(conn, user.id, "requests", COUNTER, now)
        key = shares.share_stat(conn, user.id, stat.id, now).key
    cells: rollups.Cells = {}
    for t in range(end - DAYS * DAY, end, 60):
        rollups.add_point(cells, stat.id, t, 50 + t % 37)
    with engine.begin() as conn:
        rollups.write_cells(conn, cells)
        stats.mark_data_received(conn, [(stat.id, end)])
    version = server_version(engine)
    engine.dispose()
    return key, version


def bench(args: argparse.Namespace, workdir: Path, database_url: str) -> None:
    key, version = load(database_url)
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} before the servers start")
    print(f"database: {describe_db(args.db, version)}; one counter, {DAYS} days of minute points\n")
    with web_stack(database_url, workdir) as (web, _graph):
        results = asyncio.run(measure_all(web, key, args))
    report(results, args)


async def measure_all(web: str, key: str, args: argparse.Namespace) -> dict[str, tuple[Figures, float]]:
    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=web, timeout=60, limits=limits) as client:
        png = f"/embed/graph/{key}.png?w=760&h=235&tf=week_compare"
        fragment = f"/embed/graph/{key}?w=760&h=235&tf=week_compare"
        return {
            "sequential": await sequential(client, png, args.cold),
            "png": await concurrent(client, "cached embed PNG", png, args, image=True),
            "fragment": await concurrent(client, "cached graph fragment", fragment, args),
            "cold": await cold(client, key, args.cold),
        }


async def fetch(client: httpx.AsyncClient, path: str, image: bool) -> float:
    began = time.perf_counter()
    answer = await client.get(path)
    if answer.status_code != 200 or (image and not answer.content.startswith(PNG)):
        raise SystemExit(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")
    return time.perf_counter() - began


async def concurrent(
    client: httpx.AsyncClient, label: str, path: str, args: argparse.Namespace, image: bool = False
) -> tuple[Figures, float]:
    """``args.requests`` GETs, ``args.concurrency`` at a time; (figures, requests/s by wall time)."""
    for _ in range(WARMUP * 2):  # both graph copies hold the render
        await fetch(client, path, image)
    gate = asyncio.Semaphore(args.concurrency)

    async def one() -> float:
        async with gate:
            return await fetch(client, path, image)

    began = time.perf_counter()
    seconds = await asyncio.gather(*(one() for _ in range(args.requests)))
    wall = time.perf_counter() - began
    return Figures(f"{label}, {args.concurrency} in flight", list(seconds)), args.requests / wall


async def sequential(client: httpx.AsyncClient, path: str, n: int) -> tuple[Figures, float]:
    """The cached PNG one request at a time: latency without queueing, as bench/web.py measures."""
    seconds = [await fetch(client, path, True) for _ in range(-WARMUP, n)][WARMUP:]
    figures = Figures("cached embed PNG (sequential)", seconds)
    return figures, figures.rps


async def cold(client: httpx.AsyncClient, key: str, n: int) -> tuple[Figures, float]:
    seconds = [await fetch(client, f"/embed/graph/{key}.png?w={400 + i}&h=235", True)
               for i in range(-WARMUP, n)][WARMUP:]
    figures = Figures("cold embed PNG render, a new w each (sequential)", seconds)
    return figures, figures.rps


def report(results: dict[str, tuple[Figures, float]], args: argparse.Namespace) -> None:
    print("web app + 2 graph + 2 analysis servers, each one uvicorn process (uvloop, httptools)\n")
    print("| request | p50 | p99 | requests/s |")
    print("| --- | ---: | ---: | ---: |")
    for figures, rps in results.values():
        print(f"| {figures.label} | {figures.p50_ms:.1f} ms | {figures.p99_ms:.1f} ms | {rps:,.0f} |")
    png_rps, fragment_rps = results["png"][1], results["fragment"][1]
    one, (cold_figures, cold_rps) = results["sequential"][0], results["cold"]
    print(f"\ncold render vs cached PNG, p50 one at a time: {cold_figures.p50_ms:.1f} ms vs "
          f"{one.p50_ms:.1f} ms ({cold_figures.p50_ms / one.p50_ms:.1f}x)")
    print(f"cached PNG with {args.concurrency} in flight vs cold renders one at a time: "
          f"{png_rps:,.0f} vs {cold_rps:,.0f} requests/s ({png_rps / cold_rps:.0f}x); "
          f"fragment vs PNG requests/s {fragment_rps / png_rps:.2f}x")
    print(f"\ncommand: .venv/bin/python bench/embed.py --db {args.db} --requests {args.requests} "
          f"--concurrency {args.concurrency} --cold {args.cold}")


if __name__ == "__main__":
    sys.exit(main())
