"""A MariaDB primary and a GTID replica on 127.0.0.1, started by a test.

Both run as the ``mysql`` user from copies of one fresh datadir; the replica is
``read_only`` and follows the primary with ``MASTER_USE_GTID=slave_pos``. The
application's user has rights on its own database only, so ``read_only`` holds it
(only SUPER or READ_ONLY ADMIN may write to a read-only server).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pymysql

from tests.cluster.galera import MARIADBD
from tests.servers import free_port

APP_USER, APP_PASSWORD = "aerie", "aerie-app-password"
DATABASE = "aerie"


@dataclass
class Server:
    name: str
    datadir: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    def url(self, user: str = APP_USER, password: str = APP_PASSWORD) -> str:
        return f"mysql+pymysql://{user}:{password}@127.0.0.1:{self.port}/{DATABASE}"

    def root(self) -> pymysql.Connection:  # type: ignore[type-arg]
        return pymysql.connect(host="127.0.0.1", port=self.port, user="root", autocommit=True,
                               connect_timeout=2)

    def run(self, *statements: str) -> list[tuple[object, ...]]:
        """Run statements as root; the last one's rows."""
        rows: list[tuple[object, ...]] = []
        with self.root() as conn, conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
                rows = list(cursor.fetchall())
        return rows


def _start(server: Server, *extra: str) -> None:
    server.process = subprocess.Popen(
        [MARIADBD, "--no-defaults", "--user=mysql", f"--datadir={server.datadir}",
         f"--socket={server.datadir}/mysqld.sock", f"--pid-file={server.datadir}/mysqld.pid",
         f"--port={server.port}", "--bind-address=127.0.0.1", "--skip-name-resolve",
         f"--log-error={server.datadir.parent}/{server.name}.err", "--innodb-buffer-pool-size=32M",
         "--performance-schema=OFF", "--binlog-format=ROW", "--log-bin=binlog",
         "--gtid-strict-mode=ON", "--log-slave-updates=ON", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _wait(server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.process is not None
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited")
        try:
            server.run("SELECT 1")
            return
        except pymysql.Error:
            time.sleep(0.1)
    raise TimeoutError(f"{server.name} did not answer within {timeout:g} s")


@contextmanager
def primary_and_replica() -> Iterator[tuple[Server, Server]]:
    root = Path(tempfile.mkdtemp(prefix="aerie-replication-"))
    shutil.chown(root, "mysql", "mysql")
    primary = Server("primary", root / "primary", free_port())
    replica = Server("replica", root / "replica", free_port())
    try:
        subprocess.run(
            ["mariadb-install-db", "--no-defaults", "--user=mysql", f"--datadir={primary.datadir}",
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        shutil.copytree(primary.datadir, replica.datadir, symlinks=True)
        subprocess.run(["chown", "-R", "mysql:mysql", str(replica.datadir)], check=True)
        _start(primary, "--server-id=1")
        _start(replica, "--server-id=2", "--read-only=ON")
        _wait(primary)
        _wait(replica)
        primary.run(
            "CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'repl-password'",
            "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'",
            f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            f"CREATE USER '{APP_USER}'@'127.0.0.1' IDENTIFIED BY '{APP_PASSWORD}'",
            f"GRANT ALL ON {DATABASE}.* TO '{APP_USER}'@'127.0.0.1'",
        )
        replica.run(
            f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={primary.port}, "
            "MASTER_USER='repl', MASTER_PASSWORD='repl-password', MASTER_USE_GTID=slave_pos",
            "START SLAVE",
        )
        yield primary, replica
    finally:
        for server in (primary, replica):
            if server.process is not None and server.process.poll() is None:
                server.process.terminate()
                try:
                    server.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.process.kill()
                    server.process.wait()
        shutil.rmtree(root, ignore_errors=True)


def caught_up(primary: Server, replica: Server, timeout: float = 30) -> None:
    """Until the replica has applied everything the primary has committed."""
    position = primary.run("SELECT @@gtid_binlog_pos")[0][0]
    outcome = replica.run(f"SELECT MASTER_GTID_WAIT('{position}', {timeout})")[0][0]
    assert outcome == 0, f"the replica did not reach {position} within {timeout} s"
