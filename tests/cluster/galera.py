"""A three-node Galera cluster on 127.0.0.1 for tests and benchmarks.

Each node is a real ``mariadbd`` with its own datadir and ports, run as the ``mysql``
user (rsync SST fails as root). The first node is bootstrapped from a fresh datadir;
the others join by rsync SST. A node killed with -9 rejoins by IST: its position is
recovered with ``--wsrep-recover`` and given back with ``--wsrep-start-position``.
Short EVS timeouts make the survivors evict a dead node in about 2 s instead of 6.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pymysql

from tests.servers import free_port

MARIADBD = "/usr/sbin/mariadbd"
PROVIDER = "/usr/lib/galera/libgalera_smm.so"
# (the keep-alive must be under a third of the suspect timeout, or the node refuses to start)
EVS = ("evs.suspect_timeout=PT1S;evs.inactive_timeout=PT2S;evs.keepalive_period=PT0.25S;"
       "evs.install_timeout=PT2S;evs.join_retrans_period=PT0.25S;evs.max_install_timeouts=5")


def galera_missing() -> str | None:
    """Why a cluster cannot be started here, or None."""
    for path in (MARIADBD, PROVIDER, "/usr/bin/rsync", "/usr/bin/wsrep_sst_rsync"):
        if not os.path.exists(path):
            return f"{path} is missing (apt-get install galera-4 rsync mariadb-server)"
    if os.geteuid() != 0:
        return "starting nodes as the mysql user needs root"
    return None


@dataclass
class Node:
    name: str
    datadir: Path
    port: int
    galera_port: int
    ist_port: int
    sst_port: int
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.datadir.parent / f"{self.name}.err"

    def url(self, database: str) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{database}"

    def connect(self, timeout: int = 2) -> pymysql.Connection:  # type: ignore[type-arg]
        return pymysql.connect(host="127.0.0.1", port=self.port, user="root",
                               connect_timeout=timeout, read_timeout=10, autocommit=True)

    def status(self, name: str) -> str | None:
        """A ``SHOW STATUS`` value, or None if the node does not answer."""
        try:
            with self.connect() as conn, conn.cursor() as cursor:
                cursor.execute("SHOW STATUS LIKE %s", (name,))
                row = cursor.fetchone()
        except pymysql.Error:
            return None
        return None if row is None else str(row[1])


class GaleraCluster:
    """Three nodes; ``start()`` brings them up, ``kill(i)`` and ``rejoin(i)`` exercise one."""

    def __init__(self, size: int = 3) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="aerie-galera-"))
        shutil.chown(self.root, "mysql", "mysql")
        self.nodes = [
            Node(f"node{i}", self.root / f"node{i}", free_port(), free_port(), free_port(),
                 free_port())
            for i in range(size)
        ]
        for node in self.nodes:
            node.datadir.mkdir()
            shutil.chown(node.datadir, "mysql", "mysql")

    def _args(self, node: Node) -> list[str]:
        members = ",".join(f"127.0.0.1:{n.galera_port}" for n in self.nodes)
        provider_options = (f"gmcast.listen_addr=tcp://127.0.0.1:{node.galera_port};"
                            f"ist.recv_addr=127.0.0.1:{node.ist_port};{EVS};gcache.size=64M")
        return [
            MARIADBD, "--no-defaults", "--user=mysql", f"--datadir={node.datadir}",
            f"--socket={node.datadir}/mysqld.sock", f"--pid-file={node.datadir}/mysqld.pid",
            f"--port={node.port}", "--bind-address=127.0.0.1", f"--log-error={node.log}",
            "--skip-name-resolve", "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M",
            "--performance-schema=OFF", "--max-connections=200", "--skip-log-bin",
            "--binlog-format=ROW", "--innodb-autoinc-lock-mode=2", "--innodb-flush-log-at-trx-commit=2",
            "--wsrep-on=ON", f"--wsrep-provider={PROVIDER}", f"--wsrep-cluster-address=gcomm://{members}",
            f"--wsrep-node-address=127.0.0.1:{node.galera_port}", f"--wsrep-node-name={node.name}",
            f"--wsrep-provider-options={provider_options}", "--wsrep-sst-method=rsync",
            f"--wsrep-sst-receive-address=127.0.0.1:{node.sst_port}", "--wsrep-cluster-name=aerie-test",
        ]

    def _launch(self, node: Node, *extra: str) -> None:
        # ahead of the test's own processes (and anything else on a shared machine): with
        # one-second suspect timeouts, a node starved of CPU for a second is taken for dead,
        # and two survivors that suspect each other both leave the primary component
        node.process = subprocess.Popen(["nice", "-n", "-10", *self._args(node), *extra],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self, timeout: float = 90) -> None:
        """Bootstrap the first node, then join the others one at a time (a donor serves one
        SST at a time)."""
        first = self.nodes[0]
        subprocess.run(
            ["mariadb-install-db", "--no-defaults", "--user=mysql", f"--datadir={first.datadir}",
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self._launch(first, "--wsrep-new-cluster")
        self.wait_synced(first, timeout)
        for node in self.nodes[1:]:
            self._launch(node)
            self.wait_synced(node, timeout)

    def wait_synced(self, node: Node, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if node.process is not None and node.process.poll() is not None:
                raise RuntimeError(f"{node.name} exited: {self.tail(node)}")
            if node.status("wsrep_local_state_comment") == "Synced":
                return
            time.sleep(0.2)
        raise TimeoutError(f"{node.name} not synced within {timeout:g} s: {self.tail(node)}")

    def tail(self, node: Node, lines: int = 15) -> str:
        try:
            return "\n".join(node.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def kill(self, index: int) -> None:
        node = self.nodes[index]
        assert node.process is not None
        node.process.send_signal(signal.SIGKILL)
        node.process.wait()

    def rejoin(self, index: int, timeout: float = 60) -> str:
        """Restart a killed node at its recovered position; returns how it caught up
        ("IST" or "SST", from its log)."""
        node = self.nodes[index]
        logged = node.log.stat().st_size if node.log.exists() else 0
        recover = subprocess.run([*self._args(node), "--wsrep-recover",
                                  f"--log-error={node.datadir}/recover.err"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        del recover
        found = re.findall(r"Recovered position: (\S+)",
                           (node.datadir / "recover.err").read_text(errors="replace"))
        extra = [f"--wsrep-start-position={found[-1]}"] if found else []
        self._launch(node, *extra)
        self.wait_synced(node, timeout)
        with node.log.open(errors="replace") as log:
            log.seek(logged)
            since = log.read()
        if "IST received" in since or "Receiving IST" in since:
            return "IST"
        return "SST"

    def stop(self, keep_logs: Path | None = None) -> None:
        """Stop every node and delete its datadir; ``keep_logs``: copy the error logs there."""
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes:
            if node.process is not None:
                try:
                    node.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    node.process.kill()
                    node.process.wait()
        if keep_logs is not None:
            keep_logs.mkdir(parents=True, exist_ok=True)
            for log in self.root.glob("*.err"):
                shutil.copy(log, keep_logs / log.name)
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def galera_cluster(keep_logs: Path | None = None) -> Iterator[GaleraCluster]:
    cluster = GaleraCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop(keep_logs)
