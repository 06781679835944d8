"""Aerie's Graphite listener against carbon-cache, same sender, same workload, same sitting.

``../shared/peers/graphite_sender.py`` sends rounds of one point for each of 1,000 metrics
(each round a minute later) over one TCP connection for ``--duration`` seconds, then
half-closes and waits for the server to close its side. Aerie closes a connection only
after every point it read is committed, so for Aerie the time to that EOF is the time to
*durably commit* every point; for carbon it is the time to *accept* them (whisper files
are written later, which the peers' script also times). The stored rollups are read back
and checked (count and sum per metric). Then the peers' own script runs carbon-cache
(``bench_graphite.sh --runs 1``) and the two are printed side by side.

The listener runs with ``AERIE_RATE_LIMIT_POINTS=0``: one account here posts far past
the default per-account limit of 20,000 points/s (as bench/ingest.py does).

    .venv/bin/python bench/graphite.py                    # ~2 minutes
    .venv/bin/python bench/graphite.py --rounds 3         # alternating turns, medians compared
    .venv/bin/python bench/graphite.py --db mariadb --skip-peer
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.listener_run import PEERS, listener

sys.path.insert(0, str(PEERS))
import benchlib as bl

MARIADB = "mysql+pymysql://root@127.0.0.1:3306"


def read_back(url: str, metrics: int, rounds: int) -> tuple[int, int]:
    """(points stored, metrics whose count or sum is wrong) under bench.m*."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT s.name, SUM(m.n), SUM(m.sum) FROM stat_minutes m "
                "JOIN stats s ON s.id = m.stat_id WHERE s.name LIKE 'bench.m%' GROUP BY s.name"
            )).all()
    finally:
        engine.dispose()
    want_sum = rounds * (rounds - 1) // 2
    bad = metrics - sum(1 for _name, n, total in rows if n == rounds and int(total) == want_sum)
    return sum(int(n) for _name, n, _total in rows), bad


def database(kind: str, tmp: str) -> tuple[str, str | None]:
    """The URL to bench on, and the MariaDB database to drop after (None for SQLite)."""
    if kind == "sqlite":
        return f"sqlite:///{tmp}/aerie.db", None
    name = f"aerie_bench_{os.getpid()}"
    engine = create_engine(MARIADB)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return f"{MARIADB}/{name}", name


def drop(name: str | None) -> None:
    if name is None:
        return
    engine = create_engine(MARIADB)
    with engine.begin() as conn:
        conn.execute(text(f"DROP DATABASE {name}"))
    engine.dispose()


def run_aerie(a: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="aerie-graphite-bench-") as tmp:
        url, dropped = database(a.db, tmp)
        try:
            return measure(a, url, tmp)
        finally:
            drop(dropped)


def measure(a: argparse.Namespace, url: str, tmp: str) -> dict[str, object]:
    env = {**os.environ, "AERIE_DATABASE_URL": url, "AERIE_MONITOR_SECONDS": "0",
           "AERIE_RATE_LIMIT_POINTS": "0"}
    with listener("graphite", a.port, env, Path(tmp)) as server:
        bl.wait_tcp(a.port, timeout=30, proc=server)
        base_ts = int(time.time()) // 60 * 60 - 60 * (a.max_rounds + 60)
        c0 = bl.proc_cpu_s(server.pid)
        rc, out, sender_cpu, _ = bl.run_child(
            [sys.executable, str(PEERS / "graphite_sender.py"), "--port", str(a.port),
             "--metrics", str(a.metrics), "--duration", str(a.duration),
             "--max-rounds", str(a.max_rounds), "--base-ts", str(base_ts)],
            timeout=a.duration + 400)
        if rc != 0:
            raise SystemExit(f"sender failed: {out}")
        sent = json.loads(out.strip().splitlines()[-1])
        cpu = bl.proc_cpu_s(server.pid) - c0
        rss = round((bl.proc_hwm_kib(server.pid) or 0) / 1024, 1)
    stored, bad = read_back(url, a.metrics, sent["rounds"])
    seconds = sent["t_eof"] - sent["t0"]
    return {"db": a.db, "points_sent": sent["points"], "eof_seen": sent["eof_seen"],
            "committed_s": round(seconds, 2),
            "committed_pts_per_s": round(sent["points"] / seconds, 1),
            "readback_points": stored, "readback_bad_metrics": bad,
            "readback_ok": stored == sent["points"] and bad == 0,
            "aerie_cpu_s": round(cpu, 2), "sender_cpu_s": round(sender_cpu, 2),
            "peak_rss_mib": rss}


def carbon_run(metrics: int = 1000, duration: float = 25.0) -> dict[str, object]:
    """One run of the peers' carbon-cache bench (../shared/peers, installed under
    PEERS_HOME by its setup script): accepted and persisted points/s, and more."""
    home = os.environ.get("PEERS_HOME", "/tmp/peers")
    out = Path(home) / "results" / "graphite-aerie-bench.json"
    subprocess.run([str(PEERS / "bench_graphite.sh"), "--runs", "1", "--metrics",
                    str(metrics), "--duration", str(duration), "--out", str(out)],
                   check=True, env={**os.environ, "PEERS_HOME": home})
    return dict(json.loads(out.read_text())["runs"][0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=("sqlite", "mariadb"), default="sqlite")
    ap.add_argument("--metrics", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=25.0)
    ap.add_argument("--max-rounds", type=int, default=40000)
    ap.add_argument("--rounds", type=int, default=1,
                    help="turns of Aerie then carbon; the medians are compared")
    ap.add_argument("--port", type=int, default=int(os.environ.get("AERIE_BENCH_GRAPHITE_PORT",
                                                                    "22103")))
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--peer-json", type=Path,
                    help="carbon's result from a bench_graphite.sh run of this sitting")
    a = ap.parse_args()
    ours: list[float] = []
    carbon: list[float] = []
    for turn in range(1, a.rounds + 1):
        run = run_aerie(a)
        print(f"aerie, turn {turn}: " + json.dumps(run), flush=True)
        if not run["readback_ok"]:
            raise SystemExit("aerie stored something other than what was sent")
        ours.append(float(str(run["committed_pts_per_s"])))
        if a.peer_json:
            theirs: dict[str, object] = json.loads(a.peer_json.read_text())["runs"][0]
        else:
            theirs = {} if a.skip_peer else carbon_run(a.metrics, a.duration)
        if theirs:
            carbon.append(float(str(theirs.get("accepted_pts_per_s", 0) or 0)))
            print(f"carbon, turn {turn}: accepted {theirs.get('accepted_pts_per_s')} points/s, "
                  f"persisted {theirs.get('persisted_pts_per_s')} points/s", flush=True)
    print(f"\naerie ({a.db}) committed {statistics.median(ours):.0f} points/s "
          f"(median of {len(ours)}: {', '.join(f'{x:.0f}' for x in ours)}; read back ok)")
    if carbon:
        print(f"carbon accepted {statistics.median(carbon):.0f} points/s "
              f"(median of {len(carbon)}: {', '.join(f'{x:.0f}' for x in carbon)})")
        print(f"ratio aerie committed / carbon accepted: "
              f"{statistics.median(ours) / statistics.median(carbon):.2f}x")


if __name__ == "__main__":
    main()
