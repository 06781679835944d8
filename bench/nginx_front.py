"""Debian's nginx rendered from the project's template, in front of a bench's servers."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.ingest import free_port
from deploy.nginx import NginxLayout, render

NGINX = Path("/usr/sbin/nginx")


@contextmanager
def nginx_front(api: tuple[str, ...], web: tuple[str, ...], workdir: Path,
                app_root: Path) -> Iterator[str]:
    """nginx proxying to ``api`` and ``web`` (host:port each), serving static files under
    ``app_root``; its URL, once it answers."""
    state = workdir / "nginx"
    state.mkdir(exist_ok=True)
    listen = f"127.0.0.1:{free_port()}"
    layout = NginxLayout(api=api, web=web, listen=listen, app_root=str(app_root),
                         state_dir=str(state), worker_processes="1",
                         user="root" if os.geteuid() == 0 else "")
    conf = workdir / "nginx.conf"
    conf.write_text(render(layout))
    log = state / "nginx-error.log"
    process = subprocess.Popen([str(NGINX), "-p", str(workdir), "-c", str(conf), "-e", str(log),
                                "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise SystemExit(f"nginx exited: {log.read_text()[-2000:]}")
            try:
                httpx.get(f"http://{listen}/", timeout=2)  # any answer: it is listening
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise SystemExit("nginx did not answer within 20 s") from None
                time.sleep(0.05)
        yield f"http://{listen}"
    finally:
        process.send_signal(signal.SIGQUIT)  # graceful
        process.wait(timeout=30)
