"""Aerie's StatsD listener against Etsy's StatsD, same sender, same steps, same sitting.

For every offered rate a fresh ``aerie statsd`` (SQLite in a temp dir, 10 s flushes, as
StatsD's default) takes ``../shared/peers/statsd_sender.py``'s counters ("bench.cNNNN:1|c",
1,000 names, one per datagram) for ``--step-seconds``; once its socket queue is empty it
gets SIGTERM, whose clean stop flushes, and the committed counter totals are read back
from the database and compared with what was sent. Then the peers' own script runs
StatsD through the same rates (``bench_statsd.sh --runs 1``), and the two are printed side
by side: the highest offered rate with zero loss, and the unthrottled step.

    .venv/bin/python bench/statsd.py                      # ~2 x 2.5 minutes
    .venv/bin/python bench/statsd.py --skip-peer --rates 50000,100000,0
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.listener_run import PEERS, listener

sys.path.insert(0, str(PEERS))
import benchlib as bl
from bench_statsd import udp_sock_info


def counted(db: Path, prefix: str) -> float:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT COALESCE(SUM(m.sum), 0) FROM stat_minutes m JOIN stats s ON s.id = m.stat_id "
            "WHERE s.name LIKE ?", (prefix + "%",)).fetchone()
    return float(row[0])


def one_step(a: argparse.Namespace, rate: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="aerie-statsd-bench-") as tmp:
        db = Path(tmp) / "aerie.db"
        env = {**os.environ, "AERIE_DATABASE_URL": f"sqlite:///{db}", "AERIE_MONITOR_SECONDS": "0",
               "AERIE_STATSD_FLUSH_SECONDS": str(a.flush_seconds)}
        with listener("statsd", a.port, env, Path(tmp)) as server:
            deadline = time.monotonic() + 30
            while udp_sock_info(a.port)[0] is None:
                if time.monotonic() > deadline or server.poll() is not None:
                    log = (Path(tmp) / "statsd.log").read_text()
                    raise SystemExit(f"aerie statsd did not start: {log}")
                time.sleep(0.05)
            c0 = bl.proc_cpu_s(server.pid)
            rc, out, sender_cpu, _ = bl.run_child(
                [sys.executable, str(PEERS / "statsd_sender.py"), "--port", str(a.port),
                 "--keys", str(a.keys), "--rate", str(rate), "--duration", str(a.step_seconds),
                 "--max-packets", str(a.max_packets)], timeout=a.step_seconds + 60)
            if rc != 0:
                raise SystemExit(f"sender failed: {out}")
            sent = json.loads(out.strip().splitlines()[-1])
            t_end = time.monotonic() + 10
            while time.monotonic() < t_end and udp_sock_info(a.port)[0] != 0:
                time.sleep(0.05)
            time.sleep(0.2)
            drops = udp_sock_info(a.port)[1]
            cpu = bl.proc_cpu_s(server.pid) - c0
            rss = round((bl.proc_hwm_kib(server.pid) or 0) / 1024, 1)
        got = counted(db, "bench.c")
    ok_sent = sent["sent"] - sent["send_errors"]
    return {"target_pps": rate, "offered_pps": round(sent["offered_pps"], 1), "sent": ok_sent,
            "counted": int(got), "lost": ok_sent - int(got), "kernel_drops": drops,
            "aerie_cpu_s": round(cpu, 2), "sender_cpu_s": round(sender_cpu, 2),
            "peak_rss_mib": rss, "lossless": ok_sent == int(got)}


def peer(a: argparse.Namespace) -> dict[str, dict[str, object]]:
    """StatsD through the same rates with the peers' script; its steps by target rate."""
    home = os.environ.get("PEERS_HOME", "/tmp/peers")
    out = Path(home) / "results" / "statsd-aerie-bench.json"
    subprocess.run([str(PEERS / "bench_statsd.sh"), "--runs", "1", "--rates", a.rates,
                    "--step-seconds", str(a.step_seconds), "--keys", str(a.keys),
                    "--out", str(out)], check=True, env={**os.environ, "PEERS_HOME": home})
    steps = json.loads(out.read_text())["steps"]
    return {str(int(s["target_pps"])): s for s in steps}


def max_lossless(steps: list[dict[str, object]]) -> float | None:
    rates = [float(str(s["offered_pps"])) for s in steps if s["lossless"]]
    return max(rates) if rates else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rates", default="10000,20000,30000,40000,60000,100000,150000,0",
                    help="offered packets/s per step (the peers' default); 0 = unthrottled")
    ap.add_argument("--step-seconds", type=float, default=15.0)
    ap.add_argument("--keys", type=int, default=1000)
    ap.add_argument("--max-packets", type=int, default=5_000_000)
    ap.add_argument("--flush-seconds", type=float, default=10.0)
    ap.add_argument("--port", type=int, default=int(os.environ.get("AERIE_BENCH_STATSD_PORT",
                                                                    "28325")))
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--peer-json", type=Path,
                    help="StatsD's steps from a bench_statsd.sh run of this sitting, instead of "
                    "running it again")
    a = ap.parse_args()
    ours = []
    for rate in (float(r) for r in a.rates.split(",")):
        step = one_step(a, rate)
        ours.append(step)
        target = "max" if rate == 0 else int(rate)
        print(f"aerie  target {target}: {json.dumps(step)}", flush=True)
    if a.peer_json:
        theirs = {str(int(s["target_pps"])): s for s in json.loads(a.peer_json.read_text())["steps"]}
    else:
        theirs = {} if a.skip_peer else peer(a)
    print(f"\n{'target pps':>10} | {'aerie offered':>13} {'lost':>8} | "
          f"{'statsd offered':>14} {'lost':>8}")
    for step in ours:
        key = str(int(float(str(step["target_pps"]))))
        other = theirs.get(key, {})
        print(f"{('max' if key == '0' else key):>10} | {step['offered_pps']:>13} "
              f"{step['lost']:>8} | {other.get('offered_pps', '-'):>14} {other.get('lost', '-'):>8}")
    mine, peer_best = max_lossless(ours), max_lossless(list(theirs.values()))
    ratio = f"{mine / peer_best:.2f}x" if mine and peer_best else "n/a"
    print(f"\nmax lossless offered packets/s: aerie {mine}, statsd {peer_best}, ratio {ratio}")


if __name__ == "__main__":
    main()
