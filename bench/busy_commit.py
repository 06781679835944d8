"""A big group commit alone and beside a thread running Python.

    .venv/bin/python bench/busy_commit.py                  # SQLite in a temp dir
    .venv/bin/python bench/busy_commit.py --db mariadb     # fresh aerie_bench_<pid> on 127.0.0.1:3306

Commit lanes on threads of the API's process (``AERIE_COMMIT_PROCESS=false``) commit
while its event loop runs Python. Whenever the commit's driver lets the interpreter
lock go (around a statement's step or a round trip), taking it back beside a busy
thread can cost a switch interval (5 ms); the commit process runs beside no event
loop. This times ``Committer.commit`` of one 1,000-cell request (1,000 stats, a
point each: 3,000 rows with the hour and day rollups), first alone, then while
another thread spins in Python, and prints both with their ratio. Figures only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aerie import accounts, migrate, stats
from aerie.commit_batches import new_batch_id
from aerie.db import make_engine
from aerie.rollups import Cells, add_points
from aerie.settings import Settings
from api_service.committer import CommitJob, Committer
from api_service.keycache import looked_up
from bench.ingest import MARIADB_SERVER, prepare_database

CELLS = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "mariadb"), default="sqlite")
    parser.add_argument("--mariadb-server", default=MARIADB_SERVER)
    parser.add_argument("--commits", type=int, default=20, help="timed commits a phase")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aerie-bench-busy-") as workdir:
        url, drop = prepare_database(args, Path(workdir))
        try:
            run(url, args.commits)
        finally:
            drop()


def run(url: str, commits: int) -> None:
    engine = make_engine(Settings(database_url=url))
    migrate.upgrade(engine)
    now = int(time.time())
    with engine.begin() as conn:
        user = accounts.create_user(conn, "bench-busy@example.com", None, now)
        made = [stats.create_stat(conn, user.id, f"busy {i:04d}", "counter", now)
                for i in range(CELLS)]
    ids = [stat.id for stat in made]
    committer = Committer(engine, lanes=1)

    def batch() -> CommitJob:
        t = time.time()
        rows = [(sid, t, 1.0) for sid in ids]
        cells: Cells = {}
        add_points(cells, rows)
        return CommitJob(new_batch_id(), cells, dict.fromkeys(ids, int(t)),
                         looked_up(made), [rows])

    def timed() -> tuple[float, float]:
        """Median wall and CPU milliseconds of a commit."""
        walls, cpus = [], []
        for _ in range(commits):
            one = batch()
            wall, cpu = time.perf_counter(), time.thread_time()
            committer.commit(0, one)
            walls.append((time.perf_counter() - wall) * 1000)
            cpus.append((time.thread_time() - cpu) * 1000)
        return sorted(walls)[len(walls) // 2], sorted(cpus)[len(cpus) // 2]

    for _ in range(3):
        committer.commit(0, batch())  # warm-up
    alone = timed()
    spinning = True

    def spin() -> None:
        x = 0
        while spinning:
            for i in range(1000):
                x += i

    busy = threading.Thread(target=spin)
    busy.start()
    try:
        beside = timed()
    finally:
        spinning = False
        busy.join()
    committer.close(0)
    engine.dispose()
    print(f"database: {engine.dialect.name}; one commit of {CELLS:,} cells "
          f"({3 * CELLS:,} rollup rows), median of {commits}")
    print(f"alone:                      wall {alone[0]:8.1f} ms   CPU {alone[1]:6.1f} ms")
    print(f"beside a thread in Python:  wall {beside[0]:8.1f} ms   CPU {beside[1]:6.1f} ms")
    print(f"wall beside / alone: {beside[0] / alone[0]:.1f}x")


if __name__ == "__main__":
    main()
