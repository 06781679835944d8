"""Ingestion throughput, latency and memory, side by side with a bare ASGI app.

    .venv/bin/python bench/ingest.py                 # SQLite, 10 s per run
    .venv/bin/python bench/ingest.py --db mariadb    # a fresh database on 127.0.0.1:3306

Three servers, each one uvicorn worker (uvloop + httptools), each driven by
wrk with ``bench/post.lua``:

  bare  bench/bare_app.py answering a fixed 200 (sent the same body as /c)
  /c    classic counter posts, one point per request (form body, count=1)
  /ez   JSON batches of 1,000 points over 1,000 stats (``bench 0000``..``bench 0999``)

For each it prints requests/s, points/s, p50/p99 latency and the server's peak
memory (VmHWM), then checks that what the database stores equals what was
acknowledged with a 2xx. wrk abandons requests still in flight when its time
is up and the server may still commit them, so stored may exceed acknowledged
by at most connections x points per request. Exit status 1 if a check fails;
throughput targets are reported, never a failure (see bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select

from aerie import accounts, migrate, stats
from aerie.db import make_engine
from aerie.schema import ROLLUPS, stat_minutes
from aerie.schema import stats as stats_table
from aerie.settings import Settings

LUA = HERE / "post.lua"
EZ_STATS = 1000
MARIADB_SERVER = "mysql+pymysql://root@127.0.0.1:3306/"
TARGET_RATIO = 0.5  # /c requests/s against the bare app's (performance issue, section 4)
TARGET_CARBON_RATIO = 2.0  # /ez points/s against carbon-cache's accepted points/s


@dataclass
class Run:
    name: str
    label: str
    points_per_request: int
    warmup_points: int = 0
    wrk: dict[str, Any] = field(default_factory=dict)
    peak_kib: int = 0
    cpu_seconds: float = 0.0  # the server process's CPU time (all threads) during wrk
    stored: int | None = None  # None: nothing to check (the bare app)
    rollups_agree: bool = True

    @property
    def seconds(self) -> float:
        return self.wrk["duration_us"] / 1e6

    @property
    def rps(self) -> float:
        return self.wrk["ok"] / self.seconds

    @property
    def pps(self) -> float:
        return self.rps * self.points_per_request

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_seconds * 1e6 / max(1, self.wrk["requests"])

    @property
    def acknowledged(self) -> int:
        return self.wrk["ok"] * self.points_per_request + self.warmup_points


def main() -> int:
    args = parse_args()
    if shutil.which(args.wrk) is None:
        sys.exit(f"wrk not found ({args.wrk}); apt-get install wrk")
    if args.copies:
        from bench.copies import bench_copies

        return bench_copies(args)
    return in_scratch(args, "ingest", bench, keep=args.keep)


def in_scratch(args: argparse.Namespace, name: str,
               run: Callable[[argparse.Namespace, Path, str], int | None],
               keep: bool = False) -> int:
    """Run a bench in a fresh work folder and database, removing both afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix=f"aerie-bench-{name}-{os.getpid()}-"))
    database_url, drop = prepare_database(args, workdir)
    try:
        return run(args, workdir, database_url) or 0
    finally:
        drop()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "mariadb", "galera-spread", "galera-single"),
                        default="sqlite", help="galera-*: a cluster of the bench's own (--copies)")
    parser.add_argument("--mariadb-server", default=MARIADB_SERVER,
                        help="server URL; a fresh database aerie_bench_<pid> is made and dropped")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=10, help="wrk's per-request timeout, seconds")
    parser.add_argument("--commit-interval-ms", type=float, default=None,
                        help="AERIE_COMMIT_INTERVAL_MS for the API (default: its own setting)")
    parser.add_argument("--only", default="bare,c,ez", help="runs to do, of bare,c,ez")
    parser.add_argument("--api-app", default="api_service.main:app",
                        help="the API's ASGI app for uvicorn (to compare variants)")
    parser.add_argument("--wrk", default="wrk")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, SQLite)")
    parser.add_argument("--carbon", action="store_true",
                        help="after the runs, run carbon-cache (../shared/peers) and print /ez "
                        "against its accepted points/s")
    parser.add_argument("--database-cores", type=float, default=0.0,
                        help="with --copies --db mariadb: cap the database server at this many "
                        "cores (a cgroup; root) so it saturates before the machine does")
    parser.add_argument("--copies", default="", help="API copies behind nginx, such as 1,2,4: "
                        "measured by bench/copies.py on --db mariadb, galera-spread or galera-single")
    args = parser.parse_args()
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")
    try:
        args.copies = [int(n) for n in args.copies.split(",") if n.strip()]
    except ValueError:
        parser.error(f"--copies takes numbers such as 1,2,4, not {args.copies!r}")
    if args.copies and args.db == "sqlite" or args.db.startswith("galera") and not args.copies:
        parser.error("--copies runs on --db mariadb, galera-spread or galera-single; "
                     "the galera ones need --copies")
    if args.database_cores and (args.db != "mariadb" or not args.copies):
        parser.error("--database-cores caps the MariaDB server of --copies --db mariadb")
    args.only = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = set(args.only) - {"bare", "c", "ez"}
    if unknown:
        parser.error(f"--only knows bare, c and ez, not {sorted(unknown)}")
    return args


def prepare_database(args: argparse.Namespace, workdir: Path) -> tuple[str, Any]:
    """The database URL to bench on, and a function that removes it."""
    if args.db == "sqlite":
        return f"sqlite:///{workdir / 'aerie.db'}", lambda: None
    import pymysql
    from sqlalchemy.engine import make_url

    server = make_url(args.mariadb_server)
    name = f"aerie_bench_{os.getpid()}"

    def admin() -> Any:
        return pymysql.connect(host=server.host or "127.0.0.1", port=server.port or 3306,
                               user=server.username or "root", password=server.password or "",
                               autocommit=True)

    with admin() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")

    def drop() -> None:
        with admin() as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")

    return server.set(database=name).render_as_string(hide_password=False), drop


def bench(args: argparse.Namespace, workdir: Path, database_url: str) -> int:
    settings = Settings(database_url=database_url)
    engine = make_engine(settings)
    migrate.upgrade(engine)
    now = int(time.time())
    with engine.begin() as conn:
        c_user = accounts.create_user(conn, "bench-classic@example.com", None, now)
        c_stat = stats.create_stat(conn, c_user.id, "bench classic", "counter", now)
        ez_user = accounts.create_user(conn, "bench-ez@example.com", None, now)
    db_version = server_version(engine)
    engine.dispose()

    c_body = f"ukey={c_user.ukey}&key={c_stat.classic_key}&count=1".encode()
    ez_body = json.dumps({
        "ezkey": ez_user.ezkey,
        "data": [{"stat": f"bench {i:04d}", "count": 1} for i in range(EZ_STATS)],
    }).encode()
    form = "application/x-www-form-urlencoded"
    (workdir / "c.body").write_bytes(c_body)
    (workdir / "ez.body").write_bytes(ez_body)

    # one account posts far past the default per-account rate (20,000 points/s): measure
    # the API's throughput, not the limit (bench/fairness.py measures the limit)
    env = dict(os.environ, AERIE_DATABASE_URL=database_url, AERIE_RATE_LIMIT_POINTS="0")
    if args.commit_interval_ms is not None:
        env["AERIE_COMMIT_INTERVAL_MS"] = str(args.commit_interval_ms)
    interval = env.get("AERIE_COMMIT_INTERVAL_MS", str(Settings().commit_interval_ms))

    print(f"machine: {machine()}")
    print(f"database: {describe_db(args.db, db_version)}; commit interval {interval} ms; "
          "AERIE_RATE_LIMIT_POINTS=0 (one account posts past the default limit)")
    print(f"wrk: -t{args.threads} -c{args.connections} -d{args.duration}s --latency; "
          "each server one uvicorn worker (uvloop, httptools)\n")

    runs: list[Run] = []
    plan = [
        ("bare", "bare ASGI 200", "bench.bare_app:app", "/c", form, "c.body", 1, None),
        ("c", "/c single post", args.api_app, "/c", form, "c.body", 1, None),
        ("ez", "/ez 1,000-point batch", args.api_app, "/ez", "application/json",
         "ez.body", EZ_STATS, ez_body),
    ]
    for name, label, app, path, ctype, body_file, ppr, warm_body in plan:
        if name not in args.only:
            continue
        run = Run(name, label, ppr)
        with Server(app, env, workdir / f"{name}.log") as server:
            if name == "ez":
                # creates the 1,000 stats outside the measurement; counted as acknowledged
                assert warm_body is not None
                server.post(path, warm_body, ctype)
                run.warmup_points = EZ_STATS
            elif name == "c":
                server.post(path, c_body, ctype)  # fills the key cache
                run.warmup_points = 1
            cpu_before = server.cpu_seconds()
            run.wrk = run_wrk(args, server.url + path, ctype, workdir / body_file)
            run.cpu_seconds = server.cpu_seconds() - cpu_before
            run.peak_kib = server.peak_kib()
        if name == "c":
            run.stored, run.rollups_agree = stored_total(settings, stat_id=c_stat.id)
        elif name == "ez":
            run.stored, run.rollups_agree = stored_total(settings, user_id=ez_user.id)
        print_run(run)
        runs.append(run)

    failures = check(runs, args.connections)
    print_summary(runs, args, db_version, interval)
    if failures:
        print("\nFAIL:\n  " + "\n  ".join(failures))
        return 1
    print("\nOK: every acknowledged point is stored, no non-2xx answers")
    return 0


class Server:
    """One uvicorn worker serving ``app``, stopped gracefully (SIGTERM) on exit."""

    def __init__(self, app: str, env: dict[str, str], log: Path) -> None:
        self.app, self.env, self.log = app, env, log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        self.logfile = self.log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", self.app, "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", "1", "--loop", "uvloop", "--http",
             "httptools", "--log-level", "warning", "--no-access-log"],
            cwd=ROOT, env=self.env, stdout=self.logfile, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.app} exited at start:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.app} did not answer within 30 s")
            time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            print(f"warning: {self.app} did not stop within 60 s; killed", file=sys.stderr)
            self.process.kill()
            self.process.wait()
        self.logfile.close()

    def post(self, path: str, body: bytes, content_type: str) -> None:
        request = urllib.request.Request(self.url + path, data=body, method="POST",
                                         headers={"Content-Type": content_type})
        with urllib.request.urlopen(request, timeout=60) as answer:
            if not 200 <= answer.status < 300:
                raise SystemExit(f"warm-up POST {path} answered {answer.status}")

    def serving_pids(self) -> list[int]:
        """uvicorn and its children (the API's commit process)."""
        assert self.process is not None
        return [self.process.pid, *child_pids(self.process.pid)]

    def peak_kib(self) -> int:
        """VmHWM (peak resident memory), summed over the serving processes."""
        return sum(vm_hwm_kib(pid) for pid in self.serving_pids())

    def cpu_seconds(self) -> float:
        """User + system CPU time of the serving processes, all their threads."""
        total = 0
        for pid in self.serving_pids():
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found.extend(int(p) for p in task.read_text().split())
    return found


def vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_wrk(args: argparse.Namespace, url: str, content_type: str, body_file: Path) -> dict[str, Any]:
    command = [args.wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s",
               "--latency", f"--timeout={args.timeout}s", "-s", str(LUA), url,
               "--", "POST", content_type, str(body_file)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON "):])
    raise SystemExit(f"wrk printed no result (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")


def stored_total(settings: Settings, *, stat_id: int | None = None,
                 user_id: int | None = None) -> tuple[int, bool]:
    """Sum of counts stored for the stat(s), from minutes; and whether hours and days agree."""
    engine = make_engine(settings)
    totals = []
    try:
        with engine.connect() as conn:
            for _resolution, table in ROLLUPS:
                query = select(func.coalesce(func.sum(table.c.sum), 0))
                if stat_id is not None:
                    query = query.where(table.c.stat_id == stat_id)
                else:
                    ids = select(stats_table.c.id).where(stats_table.c.user_id == user_id)
                    query = query.where(table.c.stat_id.in_(ids))
                totals.append(round(float(conn.execute(query).scalar_one())))
    finally:
        engine.dispose()
    assert ROLLUPS[0][1] is stat_minutes
    return totals[0], len(set(totals)) == 1


def server_version(engine: Any) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return "SQLite " + conn.exec_driver_sql("select sqlite_version()").scalar_one()
        return "MariaDB " + conn.exec_driver_sql("select version()").scalar_one().split("-")[0]


def describe_db(db: str, version: str) -> str:
    if db == "sqlite":
        return f"{version} (WAL, synchronous=FULL, local disk)"
    return f"{version} on 127.0.0.1:3306 (READ COMMITTED)"


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"nproc {os.cpu_count()}, {cpu or platform.machine()}, Python {platform.python_version()}"


def print_run(run: Run) -> None:
    w, lat = run.wrk, run.wrk["latency_us"]
    errors = {k: v for k, v in w["errors"].items() if v}
    print(f"{run.label}:")
    print(f"  requests/s {run.rps:,.0f}   points/s {run.pps:,.0f}   "
          f"({w['ok']:,} 2xx, {w['non_2xx']:,} non-2xx in {run.seconds:.2f} s)")
    print(f"  latency p50 {ms(lat['p50'])}  p90 {ms(lat['p90'])}  p99 {ms(lat['p99'])}  "
          f"max {ms(lat['max'])}")
    print(f"  peak memory (VmHWM) {run.peak_kib / 1024:,.1f} MiB   server CPU "
          f"{run.cpu_seconds / run.seconds:.2f} cores, {run.cpu_us_per_request:,.0f} µs per request")
    if errors:
        print(f"  socket errors: {errors}")
    if run.stored is not None:
        print(f"  acknowledged {run.acknowledged:,} points (incl. {run.warmup_points:,} warm-up), "
              f"stored {run.stored:,}, difference {run.stored - run.acknowledged:+,}"
              + ("" if run.rollups_agree else "  [hour/day rollups DISAGREE with minutes]"))
    print()


def check(runs: list[Run], connections: int) -> list[str]:
    failures = []
    for run in runs:
        if run.wrk["non_2xx"]:
            failures.append(f"{run.label}: {run.wrk['non_2xx']} non-2xx answers")
        if run.stored is None:
            continue
        slack = connections * run.points_per_request
        if run.stored < run.acknowledged:
            failures.append(f"{run.label}: stored {run.stored:,} < acknowledged {run.acknowledged:,}"
                            " (acknowledged points were lost)")
        elif run.stored > run.acknowledged + slack:
            failures.append(f"{run.label}: stored {run.stored:,} > acknowledged "
                            f"{run.acknowledged:,} + {slack:,} in flight")
        if not run.rollups_agree:
            failures.append(f"{run.label}: hour or day rollup totals differ from the minutes'")
    return failures


def print_summary(runs: list[Run], args: argparse.Namespace, version: str, interval: str) -> None:
    by_name = {run.name: run for run in runs}
    print("targets:")
    if "bare" in by_name and "c" in by_name:
        ratio = by_name["c"].rps / by_name["bare"].rps
        print(f"  /c requests/s / bare requests/s = {ratio:.2f}  (target >= {TARGET_RATIO}"
              f"{'' if ratio >= TARGET_RATIO else ', MISSED'})")
    if "ez" in by_name:
        pps = by_name["ez"].pps
        if args.carbon:
            from bench.graphite import carbon_run

            print("  running carbon-cache (../shared/peers, 1,000 metrics, 25 s)...", flush=True)
            carbon = float(str(carbon_run()["accepted_pts_per_s"]))
            ratio = pps / carbon
            print(f"  /ez points/s / carbon-cache accepted points/s = {pps:,.0f} / {carbon:,.0f}"
                  f" = {ratio:.2f}  (target >= {TARGET_CARBON_RATIO:g}"
                  f"{'' if ratio >= TARGET_CARBON_RATIO else ', MISSED'})")
        else:
            print(f"  /ez points/s = {pps:,.0f}  (--carbon: against carbon-cache, same sitting)")
    print()
    print(f"Machine: {machine()}. Database: {describe_db(args.db, version)}, "
          f"commit interval {interval} ms. wrk -t{args.threads} -c{args.connections} "
          f"-d{args.duration}s; each server one uvicorn worker (uvloop, httptools).")
    print()
    print("| run | requests/s | points/s | p50 | p99 | server CPU per request | peak RSS "
          "| stored − acknowledged |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for run in runs:
        lat = run.wrk["latency_us"]
        diff = "—" if run.stored is None else f"{run.stored - run.acknowledged:+,}"
        points = "—" if run.stored is None else f"{run.pps:,.0f}"
        print(f"| {run.label} | {run.rps:,.0f} | {points} | {ms(lat['p50'])} | {ms(lat['p99'])} "
              f"| {run.cpu_us_per_request:,.0f} µs | {run.peak_kib / 1024:,.0f} MiB | {diff} |")


def ms(us: float) -> str:
    return f"{us / 1000:.2f} ms" if us < 100_000 else f"{us / 1000:,.0f} ms"


if __name__ == "__main__":
    sys.exit(main())
