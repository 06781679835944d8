"""Serve an ASGI app over real HTTP from a thread, for tests."""

from __future__ import annotations

import itertools
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn


def alive(pid: int) -> bool:
    """Whether a process with this pid still exists (signal 0 only checks)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# Ports for servers the suite starts, below the kernel's ephemeral range (32768 and up on
# Linux), where every outgoing connection takes its local port: a port picked there can be
# taken by a client before the server that was meant to have it binds. Each pytest-xdist
# worker walks a band of its own, so parallel workers never pick the same port, and one
# worker hands out every port of its band once before any again. Two checkouts testing at
# once on one machine give each other room with AERIE_TEST_PORT_BASE and AERIE_TEST_PORT_BAND.
_FIRST_PORT = int(os.environ.get("AERIE_TEST_PORT_BASE", "20000"))
_BAND = int(os.environ.get("AERIE_TEST_PORT_BAND", "1500"))
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0) % 8
_BAND_START = _FIRST_PORT + _WORKER * _BAND
_first_offset = random.randrange(_BAND)
_next_ports = itertools.cycle(
    _BAND_START + (_first_offset + offset) % _BAND for offset in range(_BAND)
)


def free_port() -> int:
    """A port nobody on this machine listens on now, for a server about to start."""
    for port in itertools.islice(_next_ports, _BAND):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_BAND_START}-{_BAND_START + _BAND - 1}")


@dataclass(frozen=True)
class RunningServer:
    url: str
    port: int


@contextmanager
def serve(app: Any, port: int | None = None) -> Iterator[RunningServer]:
    """Run ``app`` under uvicorn (with its lifespan) until the block ends, on ``port`` or a
    free one."""
    port = port or free_port()
    # As ``aerie`` serves: X-Forwarded-* is the web app's to judge (AERIE_TRUSTED_PROXIES).
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                            proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield RunningServer(f"http://127.0.0.1:{port}", port)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def api_process(database_url: str, **env: str) -> Iterator[tuple[RunningServer, subprocess.Popen[bytes]]]:
    """The ingestion API as a separate uvicorn process, as production runs it."""
    port = free_port()
    environment = {**os.environ, "AERIE_DATABASE_URL": database_url, "AERIE_MONITOR_SECONDS": "0",
                   **env}
    process = subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", "api_service.main:app", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning", "--no-access-log",
        ],
        env=environment,
    )
    server = RunningServer(f"http://127.0.0.1:{port}", port)
    try:
        wait_until_answering(server.url, process)
        yield server, process
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=20)


def wait_until_answering(url: str, process: subprocess.Popen[bytes], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server process exited with {process.returncode}")
        try:
            if httpx.get(url + "/", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {seconds} s")
