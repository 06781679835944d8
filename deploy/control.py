"""Start, stop, restart and check one host's share of the role map, from a release.

    python -m deploy.control start|stop|restart|status --host app1 --release DIR

Each copy (a role on one port) runs as a background process in its own session,
``python -m aerie ROLE --host ADDRESS --port PORT`` with the release's ``app/`` on
``PYTHONPATH``, its output in ``STATE/log/ROLE-PORT.log`` and its pid in
``STATE/run/ROLE-PORT.pid`` (STATE is the release's ``var/`` unless
``--state-dir`` says otherwise). The environment is this process's, plus
``conf/aerie.env`` from the release if present, plus ``AERIE_GRAPH_URLS`` and
``AERIE_ANALYSIS_URLS`` listing every copy in the role map unless already set
(the web copies call both, the scheduler copies graph). ``AERIE_SCHEDULER_URLS``
is not set: only ``aerie up`` reads it, to know which copies to start; here the
role map says that, and no role calls the scheduler.

Scheduler copies start and stop like the others; on SIGTERM a copy finishes its
pass and gives its lease up, so during a rolling restart another host's copy
takes over at once.

``restart`` is rolling: one copy at a time is stopped, started and waited for,
so nginx and the RPC clients always have the others. Exit status: 0 when every
copy answers ``/healthz``, 1 when one does not (``status`` exits 3, as LSB's do).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from deploy.roles import Copy, RoleMap, RoleMapError, load_role_map, role_command

START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 30.0
STATUS_NOT_RUNNING = 3


@dataclass(frozen=True)
class Release:
    """A release directory and where its copies keep pid files and logs."""

    root: Path
    state: Path
    python: str

    @property
    def app(self) -> Path:
        return self.root / "app"

    def pid_file(self, copy: Copy) -> Path:
        return self.state / "run" / f"{copy.name}.pid"

    def log_file(self, copy: Copy) -> Path:
        return self.state / "log" / f"{copy.name}.log"


def copy_environment(release: Release, role_map: RoleMap, base: Mapping[str, str]) -> dict[str, str]:
    """What every copy runs with: ``base``, then ``conf/aerie.env``, then the peers."""
    env = dict(base)
    env.update(read_env_file(release.root / "conf" / "aerie.env"))
    env.setdefault("AERIE_GRAPH_URLS", role_map.urls("graph"))
    env.setdefault("AERIE_ANALYSIS_URLS", role_map.urls("analysis"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(release.app), env.get("PYTHONPATH")]))
    return env


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines (systemd's EnvironmentFile format, without quoting rules)."""
    if not path.exists():
        return {}
    pairs = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            pairs[key.strip()] = value.strip()
    return pairs


def running_pid(release: Release, copy: Copy) -> int | None:
    """The pid of this copy if its pid file names a live process running this copy."""
    try:
        pid = int(release.pid_file(copy).read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None
    # A zombie has exited; a recycled pid runs something else.
    if state == "Z" or str(copy.port).encode() not in cmdline or copy.role.encode() not in cmdline:
        return None
    return pid


def healthy(copy: Copy, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(copy.url + "/healthz", timeout=timeout, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def start_copy(release: Release, copy: Copy, env: Mapping[str, str]) -> int:
    """Start ``copy`` unless it runs already; returns its pid."""
    pid = running_pid(release, copy)
    if pid is not None:
        return pid
    for folder in ("run", "log"):
        (release.state / folder).mkdir(parents=True, exist_ok=True)
    # role_command's "aerie" run as a module, so the release's app/ (on PYTHONPATH) is used.
    command = [release.python, "-m", *role_command(copy.role, copy.address, copy.port)]
    with release.log_file(copy).open("ab") as log:
        process = subprocess.Popen(
            command, cwd=release.root, env=dict(env), stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    release.pid_file(copy).write_text(f"{process.pid}\n")
    return process.pid


def wait_healthy(release: Release, copies: Sequence[Copy], seconds: float) -> list[Copy]:
    """Wait until every copy answers /healthz; returns those that did not (died or slow)."""
    waiting = list(copies)
    deadline = time.monotonic() + seconds
    while waiting and time.monotonic() < deadline:
        waiting = [c for c in waiting if running_pid(release, c) is not None and not healthy(c)]
        if waiting:
            time.sleep(0.2)
    return [c for c in copies if running_pid(release, c) is None or c in waiting]


def stop_copy(release: Release, copy: Copy, seconds: float = STOP_TIMEOUT_SECONDS) -> None:
    """SIGTERM (uvicorn finishes its requests and the API commits what it holds), then
    SIGKILL after ``seconds``; the pid file goes either way."""
    pid = running_pid(release, copy)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + seconds
        while running_pid(release, copy) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        if running_pid(release, copy) is not None:
            os.kill(pid, signal.SIGKILL)
    release.pid_file(copy).unlink(missing_ok=True)


def print_status(release: Release, copies: Sequence[Copy]) -> bool:
    """One line per copy: role, port, pid, /healthz; True when all are healthy."""
    all_ok = True
    print(f"{'copy':<16} {'port':>5} {'pid':>8}  health")
    for copy in copies:
        pid = running_pid(release, copy)
        health = "not running" if pid is None else ("ok" if healthy(copy) else "no answer")
        all_ok = all_ok and health == "ok"
        print(f"{copy.name:<16} {copy.port:>5} {pid or '-':>8}  {health}", flush=True)
    return all_ok


def start(release: Release, copies: Sequence[Copy], env: Mapping[str, str]) -> int:
    for copy in copies:
        start_copy(release, copy, env)
    failed = wait_healthy(release, copies, START_TIMEOUT_SECONDS)
    print_status(release, copies)
    for copy in failed:
        print(f"{copy.name} did not come up; see {release.log_file(copy)}", file=sys.stderr)
    return 1 if failed else 0


def stop(release: Release, copies: Sequence[Copy]) -> int:
    for copy in copies:
        stop_copy(release, copy)
    print(f"stopped {len(copies)} copies")
    return 0


def rolling_restart(release: Release, copies: Sequence[Copy], env: Mapping[str, str]) -> int:
    for copy in copies:
        stop_copy(release, copy)
        start_copy(release, copy, env)
        if wait_healthy(release, [copy], START_TIMEOUT_SECONDS):
            print(f"{copy.name} did not come back; stopping the restart here "
                  f"(see {release.log_file(copy)})", file=sys.stderr)
            return 1
    print_status(release, copies)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m deploy.control", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("start", "stop", "restart", "status"))
    parser.add_argument("--host", required=True, help="this host's name in the role map")
    parser.add_argument("--release", required=True, type=Path, help="a release directory")
    parser.add_argument("--roles", type=Path, help="default: RELEASE/conf/roles.toml")
    parser.add_argument("--state-dir", type=Path, help="pid files and logs (default RELEASE/var)")
    parser.add_argument("--python", default=sys.executable,
                        help="the interpreter with Aerie's dependencies (default: this one)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    root = args.release.resolve()
    try:
        role_map = load_role_map(args.roles or root / "conf" / "roles.toml")
        copies = role_map.host(args.host).copies()
    except RoleMapError as exc:
        print(f"deploy.control: {exc}", file=sys.stderr)
        return 2
    release = Release(root, (args.state_dir or root / "var").resolve(), args.python)
    env = copy_environment(release, role_map, os.environ)
    if args.action == "start":
        return start(release, copies, env)
    if args.action == "stop":
        return stop(release, copies)
    if args.action == "restart":
        return rolling_restart(release, copies, env)
    return 0 if print_status(release, copies) else STATUS_NOT_RUNNING


if __name__ == "__main__":
    sys.exit(main())
