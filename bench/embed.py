"""What a viral embed costs once cached: the web app and nginx against their own ceilings.

    .venv/bin/python bench/embed.py                  # SQLite in a temp dir
    .venv/bin/python bench/embed.py --db mariadb     # fresh aerie_bench_<pid> on 127.0.0.1:3306

One counter stat holds ``--days`` days of minute points and is shared by an embed
key. The stack runs as in production (``bench/web.py``'s ``web_stack``: the web app,
two graph and two analysis copies, each one uvicorn process, uvloop and httptools),
and nginx (Debian's) in front of it from ``deploy/nginx.conf.template``, one
worker. wrk (``-t2 -c32`` by default, ``bench/post.lua`` counting statuses) then
drives, in one sitting, for the cached embed PNG and the cached graph fragment:

- **bare ASGI**: ``bench/bare_app.py`` on one uvicorn worker, answering a body of
  exactly the embed's length (``BENCH_BARE_BYTES``): what one Python worker can do;
- **web app**: the embed URL straight to the web app (its own cache answers);
- **nginx static**: a file of the embed's bytes from nginx's ``/static/``;
- **nginx cache**: the embed URL through nginx (``proxy_cache``).

It prints requests/s, p50 and p99 of each and the two ratios the performance issue
sets targets for: web app / bare ASGI (>= 0.25) and nginx cache / nginx static
(>= 0.5). Figures only: it exits 1 only on a wrong answer (a non-2xx, a socket error).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import httpx

from aerie import accounts, migrate, rollups, shares, stats
from aerie.db import make_engine
from aerie.schema import COUNTER, DAY
from aerie.settings import Settings
from bench.ingest import MARIADB_SERVER, describe_db, in_scratch, machine, server_version
from bench.nginx_front import NGINX, nginx_front
from bench.web import Server, free_port, web_stack

LUA = HERE / "post.lua"


def main() -> int:
    args = parse_args()
    for tool in (args.wrk, str(NGINX)):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found; apt-get install wrk nginx")
    return in_scratch(args, "embed", bench)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "mariadb"), default="sqlite")
    parser.add_argument("--mariadb-server", default=MARIADB_SERVER)
    parser.add_argument("--days", type=int, default=2, help="days of minute points in the stat")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--wrk", default="wrk")
    return parser.parse_args()


def load(database_url: str, days: int) -> tuple[str, str]:
    """A counter with a point a minute for ``days`` days, shared; (its key, the db version)."""
    engine = make_engine(Settings(database_url=database_url))
    migrate.upgrade(engine)
    now = int(time.time())
    end = now - now % 60 - 120  # settled: the graph server caches its renders until new data
    with engine.begin() as conn:
        user = accounts.create_user(conn, "bench-embed@example.com", None, now)
        stat = stats.create_stat(conn, user.id, "requests", COUNTER, now)
        key = shares.share_stat(conn, user.id, stat.id, now).key
    cells: rollups.Cells = {}
    for t in range(end - days * DAY, end, 60):
        rollups.add_point(cells, stat.id, t, 50 + t % 37)
    with engine.begin() as conn:
        rollups.write_cells(conn, cells)
        stats.mark_data_received(conn, [(stat.id, end)])
    version = server_version(engine)
    engine.dispose()
    return key, version


def bench(args: argparse.Namespace, workdir: Path, database_url: str) -> int:
    key, version = load(database_url, args.days)
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} before the servers start")
    print(f"database: {describe_db(args.db, version)}; one counter, {args.days} days of minute points")
    print(f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency; "
          "every server one process (uvicorn: uvloop, httptools; nginx: one worker)\n")
    embeds = {"PNG": f"/embed/graph/{key}.png?w=400&h=150&tf=day",
              "fragment": f"/embed/graph/{key}?w=400&h=150&tf=day"}
    rows: list[tuple[str, str, dict[str, Any]]] = []
    with web_stack(database_url, workdir) as (web, _graph), nginx(web, workdir) as front:
        for name, path in embeds.items():
            body = warm(web, path)
            warm(front, path)
            static = workdir / "static" / f"embed-{name}.{'png' if name == 'PNG' else 'html'}"
            static.write_bytes(body)
            bare_env = {**os.environ, "BENCH_BARE_BYTES": str(len(body))}
            bare = Server("bench.bare_app:app", free_port(), "/", bare_env, workdir).start()
            try:
                rows.append((name, f"bare ASGI, {len(body):,} bytes", wrk(args, bare.url + "/")))
            finally:
                bare.stop()
            rows.append((name, "web app, cached embed", wrk(args, web + path)))
            rows.append((name, "nginx static file, same bytes",
                         wrk(args, f"{front}/static/{static.name}")))
            rows.append((name, "nginx proxy_cache, cached embed", wrk(args, front + path)))
    return report(rows, args)


def warm(base: str, path: str) -> bytes:
    """The embed's bytes, asked for twice so every cache on the way holds it."""
    for _ in range(2):
        answer = httpx.get(base + path, timeout=60)
        if answer.status_code != 200:
            raise SystemExit(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")
    return answer.content


@contextmanager
def nginx(web: str, workdir: Path) -> Iterator[str]:
    """nginx from the project's template in front of the web app; its URL."""
    (workdir / "static").mkdir(exist_ok=True)
    address = web.removeprefix("http://")
    with nginx_front((address,), (address,), workdir, workdir) as front:
        yield front


def wrk(args: argparse.Namespace, url: str) -> dict[str, Any]:
    command = [args.wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s",
               "--latency", "--timeout=10s", "-s", str(LUA), url, "--", "GET", "-", "-"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            result: dict[str, Any] = json.loads(line[len("BENCH_JSON "):])
            return result
    raise SystemExit(f"wrk printed no result (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")


def rps(result: dict[str, Any]) -> float:
    return float(result["ok"]) / (result["duration_us"] / 1e6)


def report(rows: list[tuple[str, str, dict[str, Any]]], args: argparse.Namespace) -> int:
    print("| embed | server | requests/s | p50 | p99 | non-2xx | socket errors |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    wrong = 0
    for name, label, result in rows:
        latency = result["latency_us"]
        errors = sum(result["errors"].values())
        wrong += result["non_2xx"] + errors
        print(f"| {name} | {label} | {rps(result):,.0f} | {latency['p50'] / 1000:.2f} ms | "
              f"{latency['p99'] / 1000:.2f} ms | {result['non_2xx']} | {errors} |")
    print()
    by = {(name, label.split(",")[0]): rps(result) for name, label, result in rows}
    for name in ("PNG", "fragment"):
        web, bare = by[(name, "web app")], by[(name, "bare ASGI")]
        cache, static = by[(name, "nginx proxy_cache")], by[(name, "nginx static file")]
        print(f"{name}: web app / bare ASGI {web / bare:.3g} (target >= 0.25); "
              f"nginx cache / nginx static {cache / static:.3g} (target >= 0.5)")
    print(f"\ncommand: .venv/bin/python bench/embed.py --db {args.db} --days {args.days} "
          f"--duration {args.duration} --connections {args.connections} --threads {args.threads}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
