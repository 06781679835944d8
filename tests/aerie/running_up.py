"""``aerie up`` run as a person runs it, on free ports, for the CLI and supervisor tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.servers import free_port

ROLES = ("api", "web", "graph-1", "graph-2", "analysis-1", "analysis-2", "scheduler-1",
         "scheduler-2")
# Generous, and only a guard against hanging: six Python processes start on a busy machine.
DEADLINE_SECONDS = 90


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def children_of(pid: int) -> list[int]:
    """The supervisor's child processes, as Linux lists them for each of its threads."""
    return [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]


def command_line(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    except FileNotFoundError:  # exited since it was listed
        return []


def distinct_free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


class Up:
    """``aerie up`` on eight free ports in ``tmp_path`` (where the web app keeps its secret
    key), its output in files (a pipe nobody reads could block it)."""

    def __init__(self, tmp_path: Path, database_url: str | None = None) -> None:
        api, web, *copies = distinct_free_ports(len(ROLES))
        self.urls = dict(zip(ROLES, [f"http://127.0.0.1:{port}" for port in [api, web, *copies]],
                             strict=True))
        self.stdout = open(tmp_path / "stdout", "w+")  # noqa: SIM115 (closed by the fixture)
        self.stderr = open(tmp_path / "stderr", "w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aerie", "up", "--db", database_url or f"sqlite:///{tmp_path / 'aerie.db'}",
             "--api-port", str(api), "--web-port", str(web),
             "--graph-urls", f"{self.urls['graph-1']},{self.urls['graph-2']}",
             "--analysis-urls", f"{self.urls['analysis-1']},{self.urls['analysis-2']}",
             "--scheduler-urls", f"{self.urls['scheduler-1']},{self.urls['scheduler-2']}"],
            stdout=self.stdout, stderr=self.stderr, cwd=tmp_path,
            env={**os.environ, "AERIE_MONITOR_SECONDS": "0"},  # no self-monitoring traffic
        )

    def health_url(self, role: str) -> str:
        return self.urls[role] + ("/" if role in ("api", "web") else "/healthz")

    def wait_until(self, condition: str, met: Callable[[], bool]) -> None:
        """Until ``met()`` holds, failing if the supervisor exits or the deadline passes."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not met():
            assert self.process.poll() is None, f"aerie up exited; waiting for {condition}\n" + (
                self.output()
            )
            assert time.monotonic() < deadline, f"no {condition}\n" + self.output()
            time.sleep(0.1)

    def wait_until_up(self) -> None:
        self.wait_until("start", lambda: "aerie is up" in self.output() and all(
            answers(self.health_url(role)) for role in ROLES
        ))

    def child_serving(self, role: str) -> int | None:
        """The pid of the child started for ``role``, found by its command line."""
        for pid in children_of(self.process.pid):
            line = command_line(pid)
            if role in ("api", "web") and line[3:4] == [role]:  # python -m aerie ROLE
                return pid
            if "--port" in line and self.urls[role].endswith(":" + line[line.index("--port") + 1]):
                return pid
        return None

    def stop(self) -> int:
        """SIGTERM, as Ctrl-C or a service manager stops it; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=DEADLINE_SECONDS)

    def output(self) -> str:
        return Path(self.stdout.name).read_text() + Path(self.stderr.name).read_text()


@contextmanager
def running_up(tmp_path: Path, database_url: str | None = None) -> Iterator[Up]:
    """``aerie up`` for one test; killed and its output files closed afterwards."""
    running = Up(tmp_path, database_url)
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()
        running.stdout.close()
        running.stderr.close()
