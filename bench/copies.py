"""Many API copies behind nginx against one database tier: where does it saturate?

    .venv/bin/python bench/ingest.py --copies 1,2,4 --db mariadb
    .venv/bin/python bench/ingest.py --copies 1,2,4 --db galera-spread   # 3 nodes, copies spread
    .venv/bin/python bench/ingest.py --copies 1,2,4 --db galera-single   # 3 nodes, all on one

For each number of copies N: N API processes (one uvicorn worker each) behind
Debian's nginx rendered from deploy/nginx.conf.template, wrk posting through nginx,
first ``/c`` single posts, then ``/ez`` 1,000-point batches. Prints points/s, p99,
the conflicts the database reported (InnoDB deadlocks, and on Galera certification
failures and brute-force aborts: each one a transaction the writer ran again), the
database's CPU (all its processes, in cores, and per point stored: on a shared
machine the copies may be starved long before the database is busy, and CPU per
point says where one database core would saturate), and each figure's ratio to
N = 1 in the same run. Stored totals are checked against the acknowledged points as in
bench/ingest.py. On Galera the cluster is started by the bench
(tests/cluster/galera.py), "spread" gives copy i node i mod 3 first, "single" gives
every copy the same first node.

``--database-cores X`` (MariaDB tier) caps the database server at X cores for the run
through a cgroup (v1 ``cpu`` controller, root only; the server is moved back after):
on a machine where the copies and wrk starve before the database is busy, a capped
database saturates first, so where it stops scaling is seen, not extrapolated.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pymysql

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from aerie import accounts, migrate, stats  # noqa: E402
from aerie.db import make_engine  # noqa: E402
from aerie.settings import Settings  # noqa: E402
from bench.ingest import EZ_STATS, Run, Server, check, machine, ms, run_wrk, stored_total  # noqa: E402
from bench.nginx_front import NGINX, nginx_front  # noqa: E402

DATABASE = "aerie_bench_copies"
FORM = "application/x-www-form-urlencoded"


@dataclass
class Tier:
    """The database tier under test: its servers' addresses and how copies pick one."""

    kind: str  # mariadb, galera-spread, galera-single
    ports: list[int]

    def url(self, port: int) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{port}/{DATABASE}"

    def urls_for_copy(self, copy: int) -> str:
        """AERIE_DATABASE_URLS for API copy ``copy``: its own node first when spread."""
        first = copy % len(self.ports) if self.kind == "galera-spread" else 0
        order = self.ports[first:] + self.ports[:first]
        return ",".join(self.url(port) for port in order)

    def admin(self, port: int) -> pymysql.Connection:  # type: ignore[type-arg]
        return pymysql.connect(host="127.0.0.1", port=port, user="root", autocommit=True)

    def counter(self, names: tuple[str, ...]) -> int:
        total = 0
        for port in self.ports:
            with self.admin(port) as conn, conn.cursor() as cursor:
                for name in names:
                    cursor.execute("SHOW GLOBAL STATUS LIKE %s", (name,))
                    row = cursor.fetchone()
                    total += int(row[1]) if row else 0
        return total

    def conflicts(self) -> int:
        return self.counter(("Innodb_deadlocks", "wsrep_local_cert_failures",
                             "wsrep_local_bf_aborts"))

    def pid(self, port: int) -> int:
        with self.admin(port) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT @@pid_file")
            return int(Path(str(cursor.fetchone()[0])).read_text().split()[0])

    def cpu_seconds(self) -> float:
        total = 0.0
        for port in self.ports:
            fields = Path(f"/proc/{self.pid(port)}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total


@contextmanager
def database_tier(kind: str) -> Iterator[Tier]:
    """A fresh database on 127.0.0.1:3306, or a three-node Galera cluster of the bench's own."""
    if kind == "mariadb":
        tier = Tier(kind, [3306])
        with tier.admin(3306) as conn, conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
            cursor.execute(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        try:
            yield tier
        finally:
            with tier.admin(3306) as conn, conn.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        return
    from tests.cluster.galera import galera_cluster, galera_missing

    if missing := galera_missing():
        sys.exit(missing)
    started = time.monotonic()
    with galera_cluster() as cluster:
        print(f"Galera cluster of 3 nodes up in {time.monotonic() - started:.0f} s")
        tier = Tier(kind, [node.port for node in cluster.nodes])
        with tier.admin(tier.ports[0]) as conn, conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        yield tier


CGROUP_CPU = Path("/sys/fs/cgroup/cpu")


@contextmanager
def cpu_capped(pid: int, cores: float) -> Iterator[None]:
    """Hold process ``pid`` (all its threads) to ``cores`` of CPU while the block runs."""
    if not (CGROUP_CPU / "cpu.cfs_quota_us").exists() or os.geteuid() != 0:
        sys.exit("--database-cores needs root and the cgroup v1 cpu controller at "
                 f"{CGROUP_CPU}")
    group = CGROUP_CPU / f"aerie-bench-db-{os.getpid()}"
    group.mkdir()
    try:
        period = 100_000
        (group / "cpu.cfs_period_us").write_text(str(period))
        (group / "cpu.cfs_quota_us").write_text(str(int(cores * period)))
        (group / "cgroup.procs").write_text(str(pid))
        yield
    finally:
        (CGROUP_CPU / "cgroup.procs").write_text(str(pid))
        group.rmdir()


@dataclass
class Row:
    copies: int
    run: Run
    conflicts: int
    db_cpu: float  # cores
    api_cpu: float  # cores, all copies


def bench_copies(args: argparse.Namespace) -> int:
    if not NGINX.exists():
        sys.exit("nginx not found (/usr/sbin/nginx); apt-get install nginx")
    rows: list[Row] = []
    failures: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="aerie-bench-copies-"))
    try:
        with database_tier(args.db) as tier, ExitStack() as cap:
            if args.database_cores:
                cap.enter_context(cpu_capped(tier.pid(tier.ports[0]), args.database_cores))
            print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the start "
                  "(other work on the machine takes cores from the copies and the database)")
            capped = f", capped at {args.database_cores:g} cores" if args.database_cores else ""
            print(f"database tier: {args.db}{capped}; wrk -t{args.threads} -c{args.connections} "
                  f"-d{args.duration}s through nginx; copies {args.copies}\n")
            for copies in args.copies:
                found, failed = measure(args, tier, copies, workdir)
                rows += found
                failures += failed
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print_table(args.db + (f" ({args.database_cores:g} cores)" if args.database_cores else ""),
                rows)
    if failures:
        print("\nFAIL:\n  " + "\n  ".join(failures))
        return 1
    print("\nOK: every acknowledged point is stored, no non-2xx answers")
    return 0


def measure(args: argparse.Namespace, tier: Tier, copies: int,
            workdir: Path) -> tuple[list[Row], list[str]]:
    """One fresh schema-full database per N: both runs against N copies."""
    url = tier.url(tier.ports[0])
    settings = Settings(database_url=url)
    engine = make_engine(settings)
    migrate.upgrade(engine)
    now = int(time.time())
    with engine.begin() as conn:
        c_user = accounts.create_user(conn, f"c{copies}-{now}@example.com", None, now)
        c_stat = stats.create_stat(conn, c_user.id, "bench classic", "counter", now)
        ez_user = accounts.create_user(conn, f"ez{copies}-{now}@example.com", None, now)
    engine.dispose()
    (workdir / "c.body").write_bytes(f"ukey={c_user.ukey}&key={c_stat.classic_key}&count=1".encode())
    ez_body = json.dumps({"ezkey": ez_user.ezkey, "data": [
        {"stat": f"bench {i:04d}", "count": 1} for i in range(EZ_STATS)]}).encode()
    (workdir / "ez.body").write_bytes(ez_body)
    rows: list[Row] = []
    with ExitStack() as stack:
        servers = [
            stack.enter_context(Server("api_service.main:app", dict(
                os.environ, AERIE_DATABASE_URLS=tier.urls_for_copy(i), AERIE_RATE_LIMIT_POINTS="0",
                AERIE_MONITOR_SECONDS="0"), workdir / f"api-{copies}-{i}.log"))
            for i in range(copies)
        ]
        front = stack.enter_context(nginx_front(
            tuple(f"127.0.0.1:{s.port}" for s in servers), ("127.0.0.1:9",), workdir, ROOT))
        servers[0].post("/ez", ez_body, "application/json")  # creates the 1,000 stats
        for server in servers:
            server.post("/c", (workdir / "c.body").read_bytes(), FORM)  # fills key caches
        for name, label, path, ctype, body, points in (
            ("c", "/c single post", "/c", FORM, "c.body", 1),
            ("ez", "/ez 1,000-point batch", "/ez", "application/json", "ez.body", EZ_STATS),
        ):
            run = Run(name, label, points, warmup_points=copies if name == "c" else EZ_STATS)
            conflicts, db_cpu = tier.conflicts(), tier.cpu_seconds()
            api_cpu = sum(s.cpu_seconds() for s in servers)
            run.wrk = run_wrk(args, front + path, ctype, workdir / body)
            seconds = run.seconds
            row = Row(copies, run, tier.conflicts() - conflicts,
                      (tier.cpu_seconds() - db_cpu) / seconds,
                      (sum(s.cpu_seconds() for s in servers) - api_cpu) / seconds)
            rows.append(row)
            print(f"N={copies} {label}: {run.pps:,.0f} points/s, p99 {ms(run.wrk['latency_us']['p99'])},"
                  f" {row.conflicts} conflicts retried, database CPU {row.db_cpu:.2f} cores, "
                  f"API CPU {row.api_cpu:.2f} cores, {run.wrk['non_2xx']} non-2xx")
    # copies stopped (SIGTERM commits what they hold): now stored must match
    for row in rows:
        if row.run.name == "c":
            row.run.stored, row.run.rollups_agree = stored_total(settings, stat_id=c_stat.id)
        else:
            row.run.stored, row.run.rollups_agree = stored_total(settings, user_id=ez_user.id)
    failures = [f"N={copies} {f}" for f in check([r.run for r in rows], args.connections)]
    with tier.admin(tier.ports[0]) as conn, conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE {DATABASE}")
        cursor.execute(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    return rows, failures


def print_table(kind: str, rows: list[Row]) -> None:
    print(f"\nMachine: {machine()}. Database tier: {kind}.\n")
    print("| tier | run | API copies | points/s | vs 1 copy | p99 | conflicts retried "
          "| database CPU | database CPU per point | API CPU |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    base = {row.run.name: row.run.pps for row in rows if row.copies == rows[0].copies}
    for row in rows:
        run = row.run
        ratio = f"{run.pps / base[run.name]:.2f}x" if base.get(run.name) else "—"
        print(f"| {kind} | {run.label} | {row.copies} | {run.pps:,.0f} | "
              f"{ratio} | {ms(run.wrk['latency_us']['p99'])} | "
              f"{row.conflicts:,} | {row.db_cpu:.2f} cores | {per_point(row)} | "
              f"{row.api_cpu:.2f} cores |")


def per_point(row: Row) -> str:
    """The database's CPU time per point stored: what says how many points/s one database
    core could take, whatever else slowed this run down."""
    return f"{row.db_cpu / row.run.pps * 1e6:.1f} µs" if row.run.pps else "—"
