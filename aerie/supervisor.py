"""``aerie up``: run the API and the web app as child processes and look after them.

Each role runs as its own process (``python -m aerie api`` / ``web``), as in
production, so a crash in one is visible rather than silently taking the
other down. On Ctrl-C or SIGTERM every child gets one SIGTERM and is waited
for: uvicorn then finishes in-flight requests and runs the lifespan shutdown,
which flushes the API's pending group commit, so nothing acknowledged is lost.
Children run in their own process group, so a terminal's Ctrl-C reaches them
only through the supervisor, exactly once. The supervisor also runs the
retention prune at start and hourly.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import FrameType

import httpx
from sqlalchemy.exc import DBAPIError

from aerie.db import make_engine
from aerie.retention import prune_expired
from aerie.settings import Settings

PRUNE_EVERY_SECONDS = 3600.0
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 30.0
# What a uvicorn child returns after a SIGTERM we sent: uvicorn re-raises the
# signal once it has shut down cleanly, so it dies "by" SIGTERM.
CLEAN_EXITS = {0, -signal.SIGTERM, -signal.SIGINT}


class StartupFailed(Exception):
    """A role did not come up; the message says which and why."""


@dataclass
class Role:
    """One child: its name, the ``aerie`` subcommand that runs it and the port it answers on."""

    name: str
    command: str
    port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def roles_for(settings: Settings) -> list[Role]:
    return [Role("api", "api", settings.api_port), Role("web", "web", settings.web_port)]


def child_environment(settings: Settings, base: Mapping[str, str]) -> dict[str, str]:
    """The environment for children: ``base`` plus the settings ``up`` was given."""
    env = dict(base)
    env["AERIE_DATABASE_URL"] = settings.database_url
    env["AERIE_API_PORT"] = str(settings.api_port)
    env["AERIE_WEB_PORT"] = str(settings.web_port)
    return env


def check_port_free(host: str, port: int, option: str) -> None:
    """Raise StartupFailed, naming the option to change, if ``port`` is taken."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise StartupFailed(f"port {port} is already in use; choose another with {option}")


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM us if the supervisor dies (even by
    SIGKILL), so no role is left running without its supervisor."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)


def start(role: Role, env: Mapping[str, str]) -> None:
    role.process = subprocess.Popen(
        [sys.executable, "-m", "aerie", role.command],
        env=dict(env),
        process_group=0,
        # preexec_fn is unsafe only with threads running; the supervisor starts none.
        preexec_fn=_die_with_parent,  # noqa: PLW1509
    )


def answering(url: str) -> bool:
    """True if anything HTTP answers at ``url``: any status means the server is up."""
    try:
        httpx.get(url + "/", timeout=1.0)
    except httpx.TransportError:
        return False
    return True


def wait_until_answering(
    roles: list[Role], stopping: StopRequest, timeout: float = START_TIMEOUT_SECONDS
) -> bool:
    """True once every role answers, False if a stop was requested first.

    Raises StartupFailed if a role exits or the time runs out.
    """
    deadline = time.monotonic() + timeout
    waiting = list(roles)
    while waiting and stopping.reason is None:
        for role in list(waiting):
            assert role.process is not None
            code = role.process.poll()
            if code is not None:
                raise StartupFailed(f"the {role.name} process exited with code {code} at start")
            if answering(role.url):
                waiting.remove(role)
        if waiting and time.monotonic() > deadline:
            names = ", ".join(r.name for r in waiting)
            raise StartupFailed(f"{names} did not answer within {timeout:.0f} s")
        if waiting:
            time.sleep(0.1)
    return stopping.reason is None


def stop(roles: list[Role], timeout: float = STOP_TIMEOUT_SECONDS) -> dict[str, int]:
    """SIGTERM every running child, then wait; a child still alive after ``timeout`` is killed.

    Returns the exit code of each child that was still running.
    """
    running = [r for r in roles if r.process is not None and r.process.poll() is None]
    for role in running:
        assert role.process is not None
        role.process.send_signal(signal.SIGTERM)
    codes: dict[str, int] = {}
    deadline = time.monotonic() + timeout
    for role in running:
        assert role.process is not None
        try:
            codes[role.name] = role.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"aerie: {role.name} did not stop within {timeout:.0f} s; killing it",
                  file=sys.stderr)
            role.process.kill()
            codes[role.name] = role.process.wait()
    return codes


class StopRequest:
    """Set by the SIGINT/SIGTERM handler; the loops check it between short waits.

    A flag rather than an exception, so a signal never lands half-way through
    starting a child or a prune transaction.
    """

    def __init__(self) -> None:
        self.reason: str | None = None

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        self.reason = signal.Signals(signum).name


def prune_now(settings: Settings) -> None:
    """Run the retention prune once; a database error is reported, never fatal to ``up``."""
    engine = make_engine(settings)
    try:
        deleted = prune_expired(engine, settings, int(time.time()))
    except DBAPIError as exc:
        _log(f"aerie: retention prune failed, will retry in an hour: {exc.orig}")
        return
    finally:
        engine.dispose()
    if any(deleted.values()):
        _log("aerie: pruned " + ", ".join(f"{n} rows from {t}" for t, n in deleted.items()))


def supervise(settings: Settings, announce: Callable[[list[Role]], None]) -> int:
    """Run every role until SIGINT/SIGTERM (exit 0) or a role fails (exit 1)."""
    roles = roles_for(settings)
    stopping = StopRequest()
    previous = {s: signal.signal(s, stopping) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        check_port_free(settings.api_host, settings.api_port, "--api-port")
        check_port_free(settings.web_host, settings.web_port, "--web-port")
        env = child_environment(settings, os.environ)
        for role in roles:
            start(role, env)
        if wait_until_answering(roles, stopping):
            announce(roles)
            return _watch(roles, settings, stopping)
        return 0
    except StartupFailed as exc:
        _log(f"aerie: {exc}; stopping")
        return 1
    finally:
        if stopping.reason is not None:
            _log(f"aerie: {stopping.reason}; stopping")
        _report_unclean(stop(roles))
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _watch(roles: list[Role], settings: Settings, stopping: StopRequest) -> int:
    """Poll the children and prune hourly until a stop (0) or a child's unasked exit (1)."""
    next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
    while stopping.reason is None:
        for role in roles:
            assert role.process is not None
            code = role.process.poll()
            if code is not None:
                _log(f"aerie: the {role.name} process exited unexpectedly with code {code}; "
                     "stopping the others")
                return 1
        if time.monotonic() >= next_prune:
            prune_now(settings)
            next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
        time.sleep(0.2)
    return 0


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _report_unclean(codes: dict[str, int]) -> None:
    for name, code in codes.items():
        if code not in CLEAN_EXITS:
            _log(f"aerie: the {name} process exited with code {code}")
