"""``aerie up``: run the API, the web app and the app servers as child processes.

Each role runs as its own process (``python -m aerie api`` / ``web`` /
``graph`` / ``analysis``), as in production, so a crash in one is visible
rather than silently taking another down. The app servers run as several
copies, one per URL in ``AERIE_GRAPH_URLS`` / ``AERIE_ANALYSIS_URLS``: the web
app's RPC client fails over between them. Any child that dies, the API and
the web app included, is logged and restarted on its own port after a
back-off (doubling while it keeps crashing) while the others keep serving; only
a failure to start at all stops ``aerie up`` with exit 1.

Every child gets the same ``AERIE_RPC_SECRET`` (the configured one, else the
one in ``var/rpc_secret``), so the web app's and the scheduler's calls are
accepted by every app server copy.

On Ctrl-C or SIGTERM every child gets one SIGTERM and is waited for: uvicorn
then finishes in-flight requests and runs the lifespan shutdown, which
flushes the API's pending group commit, so nothing acknowledged is lost.
Children run in their own process group, so a terminal's Ctrl-C reaches them
only through the supervisor, exactly once. The supervisor also runs the
retention prune at start and hourly.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import FrameType
from urllib.parse import urlsplit

import httpx
from sqlalchemy.exc import DBAPIError

from aerie.db import make_engine
from aerie.retention import prune_expired
from aerie.secret_key import load_rpc_secret
from aerie.settings import Settings

PRUNE_EVERY_SECONDS = 3600.0
# Six Python processes importing their frameworks at once can take a while on a small machine.
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 30.0
# What a uvicorn child returns after a SIGTERM we sent: uvicorn re-raises the
# signal once it has shut down cleanly, so it dies "by" SIGTERM.
CLEAN_EXITS = {0, -signal.SIGTERM, -signal.SIGINT}
# ``aerie up`` starts every app server copy itself, so each must be on this machine.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
FIRST_RESTART_DELAY = 1.0
MAX_RESTART_DELAY = 60.0
# A copy that ran this long before dying was not crash-looping: its next restart is quick.
STABLE_SECONDS = 60.0


class StartupFailed(Exception):
    """A role did not come up; the message says which and why."""


@dataclass
class Role:
    """One child: how to run it, where it listens and answers, and whether it has twins.

    ``args`` is the ``aerie`` subcommand with its options; ``option`` is the
    ``aerie up`` option that moves its port. Every role is restarted when it dies;
    ``restart_at`` is set while it waits out its back-off. A ``replica`` (an app
    server copy) has twins that serve meanwhile.
    """

    name: str
    args: tuple[str, ...]
    host: str
    port: int
    option: str
    url: str
    health_path: str = "/"
    replica: bool = False
    answers_http: bool = True  # False: a StatsD or Graphite listener, up once running
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    started_at: float = field(default=0.0, repr=False)
    restart_at: float | None = field(default=None, repr=False)
    restart_delay: float = field(default=FIRST_RESTART_DELAY, repr=False)

    @property
    def health_url(self) -> str:
        return self.url + self.health_path

    def plan_restart(self, now: float) -> float:
        """Set ``restart_at`` after the back-off and return it in seconds.

        The back-off doubles on each death up to ``MAX_RESTART_DELAY``, so a copy
        that cannot start does not spin; a copy that had run ``STABLE_SECONDS``
        starts again from ``FIRST_RESTART_DELAY``.
        """
        if now - self.started_at >= STABLE_SECONDS:
            self.restart_delay = FIRST_RESTART_DELAY
        delay = self.restart_delay
        self.restart_at = now + delay
        self.restart_delay = min(delay * 2, MAX_RESTART_DELAY)
        return delay


def roles_for(settings: Settings) -> list[Role]:
    """The API, the web app and one role per app server URL (``graph-1``, ``graph-2``...).

    Raises StartupFailed for an app server URL that ``up`` cannot serve itself.
    """
    roles = [
        Role(name="api", args=("api", "--quiet"), host=settings.api_host, port=settings.api_port,
             option="--api-port", url=f"http://127.0.0.1:{settings.api_port}"),
        Role(name="web", args=("web", "--quiet"), host=settings.web_host, port=settings.web_port,
             option="--web-port", url=f"http://127.0.0.1:{settings.web_port}"),
    ]
    for service, urls in (("graph", settings.graph_replicas),
                          ("analysis", settings.analysis_replicas),
                          ("scheduler", settings.scheduler_replicas)):
        option = f"--{service}-urls"
        for number, url in enumerate(urls, start=1):
            host, port = local_address(url, option)
            roles.append(Role(
                name=f"{service}-{number}",
                args=(service, "--quiet", "--host", host, "--port", str(port)),
                host=host, port=port, option=option, url=url, health_path="/healthz",
                replica=True,
            ))
    for name, host, port in settings.listeners:  # `aerie statsd` reads AERIE_STATSD_*
        roles.append(Role(name=name, args=(name,), host=host, port=port,
                          option=f"AERIE_{name.upper()}_PORT", url=f"{host}:{port}",
                          answers_http=False))
    return roles


def local_address(url: str, option: str) -> tuple[str, int]:
    """``(host, port)`` to serve ``url`` on; StartupFailed unless it is http on this machine."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "http" or parts.hostname not in LOCAL_HOSTS or port is None or parts.path:
        raise StartupFailed(
            f"{url} ({option}): aerie up runs every app server copy on this machine, so each "
            "URL must be http://127.0.0.1:PORT or http://localhost:PORT"
        )
    return parts.hostname, port


def child_environment(settings: Settings, base: Mapping[str, str]) -> dict[str, str]:
    """The environment for children: ``base`` plus every setting ``up`` runs with.

    All of them, not only the ones options can change, so that the children
    (whose ``Settings`` read this environment) see exactly what ``up``
    validated: the database, the ports, the app server URLs, the secret key.
    """
    env = dict(base)
    for name, value in settings.model_dump().items():
        env[f"AERIE_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    return env


def check_ports(roles: list[Role]) -> None:
    """Raise StartupFailed, naming the option to change, if two roles share a port or one is taken."""
    owners: dict[int, Role] = {}
    for role in roles:
        other = owners.setdefault(role.port, role)
        if other is not role:
            raise StartupFailed(
                f"port {role.port} is given to both {other.name} and {role.name}; "
                f"choose another with {role.option}"
            )
        check_port_free(role.host, role.port, role.option)


def check_port_free(host: str, port: int, option: str) -> None:
    """Raise StartupFailed, naming the option to change, if ``port`` is taken."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise StartupFailed(
                f"port {port} is already in use; choose another with {option}"
            ) from None


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM us if the supervisor dies (even by
    SIGKILL), so no role is left running without its supervisor."""
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)


def start(role: Role, env: Mapping[str, str]) -> None:
    role.restart_at = None
    role.started_at = time.monotonic()
    role.process = subprocess.Popen(
        [sys.executable, "-m", "aerie", *role.args],
        env=dict(env),
        process_group=0,
        # preexec_fn is unsafe only with threads running; the supervisor starts none.
        preexec_fn=_die_with_parent,  # noqa: PLW1509
    )


def answering(url: str) -> bool:
    """True if anything HTTP answers at ``url``: any status means the server is up."""
    try:
        httpx.get(url, timeout=1.0)
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
            if not role.answers_http or answering(role.health_url):
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
    """Run every role until SIGINT/SIGTERM (exit 0) or a start-up failure (exit 1); a role
    that dies later is restarted instead."""
    stopping = StopRequest()
    previous = {s: signal.signal(s, stopping) for s in (signal.SIGINT, signal.SIGTERM)}
    roles: list[Role] = []
    try:
        roles = roles_for(settings)
        check_ports(roles)
        shared = settings.model_copy(update={"rpc_secret": load_rpc_secret(settings).decode()})
        env = child_environment(shared, os.environ)
        for role in roles:
            start(role, env)
        if wait_until_answering(roles, stopping):
            announce(roles)
            return _watch(roles, settings, env, stopping)
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


def _watch(
    roles: list[Role], settings: Settings, env: Mapping[str, str], stopping: StopRequest
) -> int:
    """Look after the children and prune hourly until a stop (then 0)."""
    next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
    while stopping.reason is None:
        for role in roles:
            _look_after(role, env)
        if time.monotonic() >= next_prune:
            prune_now(settings)
            next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
        time.sleep(0.2)
    return 0


def _look_after(role: Role, env: Mapping[str, str]) -> None:
    """Notice an exit and plan its restart; restart a role whose back-off is over."""
    now = time.monotonic()
    if role.restart_at is not None:
        if now >= role.restart_at:
            _log(f"aerie: restarting {role.name} ({role.url})")
            start(role, env)
        return
    assert role.process is not None
    code = role.process.poll()
    if code is None:
        return
    delay = role.plan_restart(now)
    meanwhile = ("the web app's calls fail over to the other copies" if role.replica
                 else f"{role.url} is down until then")
    _log(f"aerie: the {role.name} process exited unexpectedly with code {code}; restarting it "
         f"in {delay:.0f} s ({meanwhile})")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _report_unclean(codes: dict[str, int]) -> None:
    for name, code in codes.items():
        if code not in CLEAN_EXITS:
            _log(f"aerie: the {name} process exited with code {code}")
