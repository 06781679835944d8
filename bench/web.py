"""What a person waits for: stat pages, their JSON twins and graphs, over a year of minute data.

    .venv/bin/python bench/web.py                        # SQLite in a temp dir, 200 requests each
    .venv/bin/python bench/web.py --db mariadb           # fresh aerie_bench_<pid> on 127.0.0.1:3306

One stat holds a full year of minute points (525,600), loaded through the same
write-time aggregation as the API (``rollups.add_point``/``write_cells``, a week
per transaction); loading time is reported because it is what ``aerie demo``
and imports pay. Production would prune minutes after 30 days; keeping them all
is the worst case for the rollup tables' size.

Then the stack runs as in production, each service its own uvicorn process
(uvloop, httptools): the web app, two graph and two analysis server copies. A
client logs in through /login like a browser, then sends sequential requests
(one at a time: latency, not throughput under load) after a warm-up, timing
each with ``time.perf_counter``:

- the stat page as HTML and as its JSON twin, at 1w and 1y: the twin skips
  templating, so the gap is the presenter's cost;
- a cached graph: the page's own render, served from the graph server's cache;
- cold graphs through the web route, a distinct timeframe per request (``29h``,
  ``30h``... each a new cache key), and the same renders straight from one graph
  server's JSON-RPC ``render`` (the page's image size and timeframe, each with a
  title of its own, made of this run's random nonce and the request's number: a
  key no earlier request can have made, so every one is cold by construction):
  the difference is the web hop, and cached vs cold is what the render cache saves.

Figures only: it never fails on time, only on a wrong answer (non-200, not a PNG).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Self

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import httpx
from sqlalchemy import Engine

from aerie import accounts, migrate, rollups, stats
from aerie.db import make_engine
from aerie.passwords import Passwords
from aerie.schema import COUNTER, DAY
from aerie.settings import Settings
from bench.ingest import (
    MARIADB_SERVER,
    describe_db,
    free_port,
    in_scratch,
    machine,
    server_version,
)
from interactor.stat_pages import GRAPH_SIZE
from rpc.client import RpcClient

YEAR_DAYS = 365
CHUNK_DAYS = 7  # a week of minute cells per transaction: ~10k rows, bounded memory
EMAIL = "bench-web@example.com"
PASSWORD = "bench password"
PNG = b"\x89PNG\r\n\x1a\n"
WARMUP = 5
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Figures:
    """Seconds per request of one measured series."""

    label: str
    seconds: list[float]

    def percentile(self, q: float) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]

    @property
    def p50_ms(self) -> float:
        return self.percentile(0.50) * 1000

    @property
    def p99_ms(self) -> float:
        return self.percentile(0.99) * 1000

    @property
    def rps(self) -> float:
        return len(self.seconds) / sum(self.seconds)


def main() -> int:
    return in_scratch(parse_args(), "web", bench)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "mariadb"), default="sqlite")
    parser.add_argument("--mariadb-server", default=MARIADB_SERVER,
                        help="server URL; a fresh database aerie_bench_<pid> is made and dropped")
    parser.add_argument("--requests", type=int, default=200, help="measured requests per series")
    args = parser.parse_args()
    if args.requests < 10:
        parser.error("--requests must be at least 10 (p99 needs some)")
    return args


def bench(args: argparse.Namespace, workdir: Path, database_url: str) -> None:
    engine = make_engine(Settings(database_url=database_url))
    migrate.upgrade(engine)
    user, stat, load_seconds, points = load_year(engine, int(time.time()))
    version = server_version(engine)
    engine.dispose()
    # Other work on the machine moves these figures; the load average says how much there was.
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} before the servers start")
    print(f"database: {describe_db(args.db, version)}")
    print(f"loaded {points:,} minute points (one counter stat, {YEAR_DAYS} days) in "
          f"{load_seconds:.1f} s ({points / load_seconds:,.0f} points/s)\n")

    with web_stack(database_url, workdir) as (web, graph_url):
        with httpx.Client(base_url=web, timeout=60, headers={"accept": "text/html"}) as client:
            log_in(client)
            results = measure_all(client, stat.public_id, args.requests)
        results["rpc cold"] = asyncio.run(cold_rpc(graph_url, user.id, stat.public_id,
                                                   args.requests))
    report(results, args)


@contextmanager
def web_stack(database_url: str, workdir: Path) -> Iterator[tuple[str, str]]:
    """The web app and two copies each of the graph and analysis servers, as separate
    processes; yields the web app's URL and the first graph copy's."""
    with running(stack_servers(database_url, workdir)) as servers:
        yield servers[-1].url, servers[0].url


def stack_servers(database_url: str, workdir: Path, counted: bool = False) -> list[Server]:
    """Two graph copies, two analysis copies and the web app (last), not started yet.
    ``counted``: each served through bench/counted_app.py, which counts queries and renders."""
    ports = {"graph": [free_port(), free_port()], "analysis": [free_port(), free_port()]}
    env = dict(
        os.environ, AERIE_DATABASE_URL=database_url, AERIE_SECRET_KEY="bench-only-key",
        AERIE_RPC_SECRET=BENCH_RPC_SECRET.decode(),
        AERIE_GRAPH_URLS=",".join(f"http://127.0.0.1:{p}" for p in ports["graph"]),
        AERIE_ANALYSIS_URLS=",".join(f"http://127.0.0.1:{p}" for p in ports["analysis"]),
    )

    def server(app: str, port: int) -> Server:
        if not counted:
            return Server(app, port, "/healthz", env, workdir)
        return Server("bench.counted_app:app", port, "/healthz",
                      {**env, "BENCH_COUNTED_APP": app}, workdir)

    return [*(server(f"app_servers.main_{service}:app", port)
              for service, copies in ports.items() for port in copies),
            server("web_service.main:app", free_port())]


@contextmanager
def running(servers: list[Server]) -> Iterator[list[Server]]:
    """Start the servers in order; stop them in reverse, whatever happens."""
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in reversed(servers):
            server.stop()


def measure_all(client: httpx.Client, sid: str, n: int) -> dict[str, Figures]:
    """Every series measured through the web app, by short name."""

    def get(path: str, png: bool = False) -> Callable[[int], None]:
        return lambda _i: fetch(client, path, png)

    def cold(i: int) -> None:
        fetch(client, f"/stats/{sid}/graph.png?tf={cold_hours(i)}h", png=True)

    cold_label = f"graph PNG, cold: distinct tf {cold_hours(0)}h, {cold_hours(1)}h..."
    return {
        "html 1w": measure("stat page HTML tf=1w", get(f"/stats/{sid}?tf=1w"), n),
        "json 1w": measure("stat page JSON tf=1w", get(f"/stats/{sid}.json?tf=1w"), n),
        "html 1y": measure("stat page HTML tf=1y", get(f"/stats/{sid}?tf=1y"), n),
        "json 1y": measure("stat page JSON tf=1y", get(f"/stats/{sid}.json?tf=1y"), n),
        "cached": measure("graph PNG tf=1w, cached",
                          get(f"/stats/{sid}/graph.png?tf=1w", png=True), n),
        "cold": measure(cold_label, cold, n),
    }


def load_year(engine: Engine, now: int) -> tuple[accounts.User, stats.Stat, float, int]:
    """A user with one counter stat holding a point every minute of the past year.

    The last point and ``data_received_at`` are two minutes old, so the graph server
    treats renders as settled and caches them until the data changes.
    """
    end = now - now % 60 - 120
    start = end - YEAR_DAYS * DAY
    with engine.begin() as conn:
        user = accounts.create_user(conn, EMAIL, Passwords(3, 65536).hash(PASSWORD), now)
        stat = stats.create_stat(conn, user.id, "requests", COUNTER, now)
    began = time.perf_counter()
    for chunk in range(start, end, CHUNK_DAYS * DAY):
        cells: rollups.Cells = {}
        for t in range(chunk, min(end, chunk + CHUNK_DAYS * DAY), 60):
            daily = math.sin(2 * math.pi * (t % DAY) / DAY)  # a daily swing of 20 to 80
            rollups.add_point(cells, stat.id, t, round(50 + 30 * daily))
        with engine.begin() as conn:
            rollups.write_cells(conn, cells)
    with engine.begin() as conn:
        stats.mark_data_received(conn, [(stat.id, end)])
    return user, stat, time.perf_counter() - began, (end - start) // 60


class Server:
    """One uvicorn process serving ``app``; ``stop`` sends SIGTERM and waits."""

    def __init__(self, app: str, port: int, health: str, env: dict[str, str], workdir: Path) -> None:
        self.app, self.port, self.health, self.env = app, port, health, env
        self.url = f"http://127.0.0.1:{port}"
        self.log = workdir / f"{app.split(':')[0]}-{port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", self.app, "--host", "127.0.0.1", "--port",
                 str(self.port), "--loop", "uvloop", "--http", "httptools", "--log-level",
                 "warning", "--no-access-log"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.app} exited at start:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + self.health, timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"{self.app} did not answer within 30 s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def log_in(client: httpx.Client) -> None:
    """As a browser does: the form (its token cookie and hidden field), then the post."""
    form = client.get("/login")
    match = CSRF.search(form.text)
    if form.status_code != 200 or match is None:
        raise SystemExit(f"GET /login answered {form.status_code} without a csrf field")
    answer = client.post("/login", data={"csrf": match.group(1), "email": EMAIL,
                                         "password": PASSWORD})
    if answer.status_code != 303:
        raise SystemExit(f"log-in failed: {answer.status_code} {answer.text[:300]}")


def fetch(client: httpx.Client, path: str, png: bool = False) -> None:
    """GET ``path``, read the whole body; a wrong answer stops the bench (figures would lie)."""
    answer = client.get(path)
    if answer.status_code != 200 or (png and not answer.content.startswith(PNG)):
        raise SystemExit(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")


def measure(label: str, request: Callable[[int], None], n: int) -> Figures:
    """``n`` sequential requests after ``WARMUP`` unmeasured ones (which fill caches and pools).

    ``request`` gets the request's number, from ``-WARMUP``, so a caller can vary it.
    """
    for i in range(-WARMUP, 0):
        request(i)
    seconds = []
    for i in range(n):
        began = time.perf_counter()
        request(i)
        seconds.append(time.perf_counter() - began)
    return Figures(label, seconds)


# Given to the servers it starts, so its own RPC client can sign as the web app does.
BENCH_RPC_SECRET = b"bench-only-rpc-secret"


def cold_hours(i: int) -> int:
    """The ``i``-th cold timeframe, in hours (``i`` from ``-WARMUP``): each a new cache key."""
    return 24 + WARMUP + i


async def cold_rpc(url: str, user_id: int, stat_id: str, n: int) -> Figures:
    """Renders straight from one graph server copy, as the web route asks for them (the
    stat page's week), each titled with this run's nonce and its number: never cached."""
    seconds = []
    nonce = secrets.token_hex(4)
    async with RpcClient("graph", [url], secret=BENCH_RPC_SECRET, timeout=60) as graph:
        for i in range(-WARMUP, n):
            began = time.perf_counter()
            answer = await graph.call(
                "render", user_id=user_id, stat_ids=[stat_id], previous=True,
                timeframe="1w", title=f"cold {nonce} {i}", **GRAPH_SIZE,
            )
            if answer["cached"]:
                raise SystemExit("a render meant to be cold came from the cache")
            if i >= 0:
                seconds.append(time.perf_counter() - began)
    return Figures("cold render via RPC (graph server only), tf=1w, a new title each", seconds)


def report(results: dict[str, Figures], args: argparse.Namespace) -> None:
    print(f"{args.requests} sequential requests per row after {WARMUP} warm-up; one client, "
          "web app + 2 graph + 2 analysis servers, each one uvicorn process (uvloop, httptools)\n")
    print("| request | p50 | p99 | requests/s |")
    print("| --- | ---: | ---: | ---: |")
    for f in results.values():
        print(f"| {f.label} | {f.p50_ms:.1f} ms | {f.p99_ms:.1f} ms | {f.rps:,.1f} |")
    cached, cold, rpc_cold = results["cached"], results["cold"], results["rpc cold"]
    print()
    print(f"cached graph vs cold graph through the web (p50): {cold.p50_ms / cached.p50_ms:.1f}x faster")
    print(f"cold render p50: through the web route {cold.p50_ms:.1f} ms, the graph server's "
          f"RPC render alone {rpc_cold.p50_ms:.1f} ms")
    for tf in ("1w", "1y"):
        html, json_ = results[f"html {tf}"], results[f"json {tf}"]
        print(f"stat page tf={tf}: JSON twin p50 {json_.p50_ms:.1f} ms vs HTML "
              f"{html.p50_ms:.1f} ms ({html.p50_ms / json_.p50_ms:.2f}x)")
    print(f"\ncommand: .venv/bin/python bench/web.py --db {args.db} --requests {args.requests}")


if __name__ == "__main__":
    sys.exit(main())
