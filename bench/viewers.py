"""Many viewers of one shared dashboard: pages/s, latency, and the work they cause.

    .venv/bin/python bench/viewers.py                   # SQLite in a temp dir
    .venv/bin/python bench/viewers.py --db mariadb      # fresh aerie_bench_<pid> on 127.0.0.1:3306
    .venv/bin/python bench/viewers.py --public-cache-bytes 0   # the web tier's cache off

An account holds six counter stats with a week of minute points and a dashboard
of six cards (three graphs, two numbers, one table) shared by its key. The stack
runs as in production (``bench/web.py``: the web app, two graph and two analysis
copies, each its own uvicorn process), every process through
``bench/counted_app.py``, which counts the SQL statements it runs and the charts
the graph servers draw.

Two phases of ``--duration`` seconds, first ``--few`` viewers then ``--viewers``.
A viewer is a browser on ``/d/KEY``: it loads the page, then its three card images
at once (keeping their ETags and sending ``If-None-Match`` on reloads, as a browser
does), waits ``--refresh`` seconds (a random 80-120 % of it) and loads it again,
until the phase ends. Meanwhile a writer adds a point to every stat every
``--data-every`` seconds, as the API does (rollups, then ``data_received_at``), so
both phases see the same data changes. Page latency is the page plus its images.

Printed per phase: pages/s, p50/p99 of a page load, the renders and queries the
servers made (read before and after from every process), and the CPU time the
bench's own process (the viewers, httpx, and the writer) spent: when it nears
the phase's length, the client is the limit, not the servers. The target: renders
and queries follow data changes, not viewers, so ten times the viewers should cost
about the same. Figures only: exits 1 only on a wrong answer (not a 200 or 304, or
none: a socket error or a 60 s timeout).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import httpx
from sqlalchemy import Engine

from aerie import accounts, dashboards, migrate, rollups, shares, stats
from aerie.db import make_engine
from aerie.schema import COUNTER, DAY
from aerie.settings import Settings
from bench.ingest import MARIADB_SERVER, describe_db, in_scratch, machine, server_version
from bench.web import Server, running, stack_servers

CARDS = [("graph", "1d", 1), ("graph", "1w", 2), ("graph", "12h", 3),
         ("number", "1d", 2), ("number", "1w", 1), ("table", "1h", 1)]
IMAGE = re.compile(r'src="([^"]+/graph\.png)"')


def main() -> int:
    args = parse_args()
    os.environ["AERIE_PUBLIC_CACHE_BYTES"] = str(args.public_cache_bytes)
    os.environ["AERIE_MONITOR_SECONDS"] = "0"  # no API runs here to post figures to
    return in_scratch(args, "viewers", bench)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "mariadb"), default="sqlite")
    parser.add_argument("--mariadb-server", default=MARIADB_SERVER)
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument("--few", type=int, default=10, help="viewers in the first phase")
    parser.add_argument("--duration", type=float, default=60, help="seconds per phase")
    parser.add_argument("--refresh", type=float, default=5, help="seconds between reloads")
    parser.add_argument("--data-every", type=float, default=10,
                        help="seconds between new points (0: no new data)")
    parser.add_argument("--public-cache-bytes", type=int, default=64 * 1024 * 1024,
                        help="AERIE_PUBLIC_CACHE_BYTES of the web app (0: its cache off)")
    return parser.parse_args()


def load(engine: Engine) -> tuple[str, list[stats.Stat]]:
    """Six stats with a week of minute points on a shared dashboard of six cards."""
    now = int(time.time())
    end = now - now % 60 - 120
    with engine.begin() as conn:
        user = accounts.create_user(conn, "bench-viewers@example.com", None, now)
        made = [stats.create_stat(conn, user.id, f"stat {i}", COUNTER, now) for i in range(6)]
        board = dashboards.create_dashboard(conn, user.id, "Public numbers", now)
        for n, (kind, timeframe, count) in enumerate(CARDS):
            chosen = made[n % 6:n % 6 + count] or made[:count]
            dashboards.add_card(conn, board, kind, timeframe, "", chosen)
        key = shares.share_dashboard(conn, user.id, board.id, now).key
    for stat in made:
        cells: rollups.Cells = {}
        for t in range(end - 7 * DAY, end, 60):
            rollups.add_point(cells, stat.id, t, 50 + (t // 60 + stat.id) % 37)
        with engine.begin() as conn:
            rollups.write_cells(conn, cells)
            stats.mark_data_received(conn, [(stat.id, end)])
    return key, made


@dataclass
class Phase:
    viewers: int
    seconds: list[float] = field(default_factory=list)
    answers: dict[int, int] = field(default_factory=dict)
    renders: int = 0
    queries: int = 0
    data_changes: int = 0
    client_cpu: float = 0.0  # seconds of CPU the bench's own process spent in the phase
    wall: float = 0.0  # seconds from the first viewer's start to the last one's end

    def per_minute(self, count: int) -> float:
        return count * 60 / self.wall

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


async def viewer(client: httpx.AsyncClient, key: str, phase: Phase, until: float,
                 refresh: float) -> None:
    held: dict[str, tuple[str, bytes]] = {}  # the browser's cache: path -> (etag, body)

    async def get(path: str) -> bytes:
        condition = {"if-none-match": held[path][0]} if path in held else {}
        try:
            answer = await client.get(path, headers={"accept": "text/html", **condition})
        except httpx.TransportError:  # counted as status 0: no answer
            phase.answers[0] = phase.answers.get(0, 0) + 1
            return b""
        phase.answers[answer.status_code] = phase.answers.get(answer.status_code, 0) + 1
        if answer.status_code == 304:
            return held[path][1]
        if answer.status_code == 200 and "etag" in answer.headers:
            held[path] = (answer.headers["etag"], answer.content)
        return answer.content

    await asyncio.sleep(random.uniform(0, min(refresh, until - time.monotonic())))  # arriving
    while time.monotonic() < until:
        began = time.perf_counter()
        page = await get(f"/d/{key}")
        images = IMAGE.findall(page.decode())
        await asyncio.gather(*(get(src.replace("&amp;", "&")) for src in images))
        phase.seconds.append(time.perf_counter() - began)
        await asyncio.sleep(min(refresh * random.uniform(0.8, 1.2), until - time.monotonic()))


def writer(engine: Engine, made: list[stats.Stat], every: float, stop: threading.Event,
           phase: Phase) -> None:
    """A point for every stat every ``every`` seconds, as the API writes them."""
    while every and not stop.wait(every):
        now = int(time.time())
        cells: rollups.Cells = {}
        for stat in made:
            rollups.add_point(cells, stat.id, now, 1)
        with engine.begin() as conn:
            rollups.write_cells(conn, cells)
            stats.mark_data_received(conn, [(stat.id, now) for stat in made])
        phase.data_changes += 1


def counts(servers: list[Server]) -> tuple[int, int]:
    """Renders and queries so far, summed over every process."""
    renders = queries = 0
    for server in servers:
        found = httpx.get(server.url + "/bench/counts", timeout=10).json()
        renders += found["renders"]
        queries += found["queries"]
    return renders, queries


def run_phase(web: str, servers: list[Server], engine: Engine, key: str,
              made: list[stats.Stat], viewers: int, args: argparse.Namespace) -> Phase:
    phase = Phase(viewers)
    renders, queries = counts(servers)
    stop = threading.Event()
    writing = threading.Thread(target=writer, args=(engine, made, args.data_every, stop, phase))
    writing.start()

    async def all_viewers() -> None:
        until = time.monotonic() + args.duration
        limits = httpx.Limits(max_connections=viewers, max_keepalive_connections=viewers)
        async with httpx.AsyncClient(base_url=web, timeout=60, limits=limits) as client:
            await asyncio.gather(*(viewer(client, key, phase, until, args.refresh)
                                   for _ in range(viewers)))

    cpu, began = time.process_time(), time.monotonic()
    try:
        asyncio.run(all_viewers())
        phase.client_cpu, phase.wall = time.process_time() - cpu, time.monotonic() - began
    finally:
        stop.set()
        writing.join()
    after_renders, after_queries = counts(servers)
    phase.renders, phase.queries = after_renders - renders, after_queries - queries
    return phase


def bench(args: argparse.Namespace, workdir: Path, database_url: str) -> int:
    engine = make_engine(Settings(database_url=database_url))
    migrate.upgrade(engine)
    key, made = load(engine)
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} before the servers start")
    print(f"database: {describe_db(args.db, server_version(engine))}; six counters, a week of "
          "minute points each; a shared dashboard of six cards (3 graphs, 2 numbers, 1 table)")
    print(f"web app: AERIE_PUBLIC_CACHE_BYTES={args.public_cache_bytes}; viewers reload every "
          f"{args.refresh:g} s (80-120 %); a point for every stat every {args.data_every:g} s\n")
    phases = []
    with running(stack_servers(database_url, workdir, counted=True)) as servers:
        web = servers[-1].url
        for viewers in (args.few, args.viewers):
            phases.append(run_phase(web, servers, engine, key, made, viewers, args))
    engine.dispose()
    print("| viewers | seconds | page loads | pages/s | p50 | p99 | answers | data changes "
          "| renders (a minute) | queries (a minute) | client CPU |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    for p in phases:
        answers = ", ".join(f"{n:,} x {status or 'no answer'}"
                            for status, n in sorted(p.answers.items()))
        print(f"| {p.viewers} | {p.wall:.1f} | {len(p.seconds):,} | {len(p.seconds) / p.wall:,.1f} | "
              f"{p.percentile_ms(0.5):.1f} ms | {p.percentile_ms(0.99):.1f} ms | {answers} | "
              f"{p.data_changes} | {p.renders:,} ({p.per_minute(p.renders):.1f}) | "
              f"{p.queries:,} ({p.per_minute(p.queries):.0f}) | {p.client_cpu:.1f} s |")
    few, many = phases
    ratio = many.viewers / few.viewers
    print(f"\n{ratio:.0f}x the viewers, a minute: "
          f"{many.per_minute(many.renders) / max(1e-9, few.per_minute(few.renders)):.2f}x the renders, "
          f"{many.per_minute(many.queries) / max(1e-9, few.per_minute(few.queries)):.2f}x the queries, "
          f"{many.per_minute(len(many.seconds)) / max(1e-9, few.per_minute(len(few.seconds))):.2f}x "
          "the page loads")
    print(f"\ncommand: .venv/bin/python bench/viewers.py --db {args.db} --viewers {args.viewers} "
          f"--few {args.few} --duration {args.duration:g} --refresh {args.refresh:g} "
          f"--data-every {args.data_every:g} --public-cache-bytes {args.public_cache_bytes}")
    wrong = {s for p in phases for s in p.answers if s not in (200, 304)}
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
