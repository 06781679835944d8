"""``aerie up`` with its app server copies: run as a person runs it, on a temporary SQLite
database and free ports, plus the rules it starts by (roles, ports, environment, back-off)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aerie.settings import Settings
from ops.supervisor import (
    FIRST_RESTART_DELAY,
    MAX_RESTART_DELAY,
    STABLE_SECONDS,
    Role,
    StartupFailed,
    check_ports,
    child_environment,
    local_address,
    roles_for,
)
from tests.aerie.running_up import (
    DEADLINE_SECONDS,
    ROLES,
    Up,
    answers,
    children_of,
    distinct_free_ports,
    running_up,
)
from tests.servers import alive, free_port


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    with running_up(tmp_path) as running:
        yield running


def test_a_killed_app_server_copy_is_restarted_while_the_other_serves(up: Up) -> None:
    up.wait_until_up()
    children = children_of(up.process.pid)
    assert len(children) == len(ROLES)
    assert all(url in up.output() for url in up.urls.values())
    killed = up.child_serving("graph-1")
    assert killed is not None

    os.kill(killed, signal.SIGKILL)

    assert answers(up.health_url("graph-2"))
    up.wait_until("restart of graph-1", lambda: up.child_serving("graph-1") not in (None, killed)
                  and answers(up.health_url("graph-1")))
    assert "the graph-1 process exited unexpectedly with code -9; restarting it" in up.output()
    restarted = up.child_serving("graph-1")

    up.process.send_signal(signal.SIGTERM)
    assert up.process.wait(timeout=DEADLINE_SECONDS) == 0
    assert not any(alive(pid) for pid in [*children, restarted] if pid is not None)
    assert not any(answers(up.health_url(role)) for role in ROLES)
    assert "Traceback" not in up.output()


def test_up_prints_one_line_per_role_and_no_access_log(up: Up) -> None:
    up.wait_until_up()
    for _ in range(3):  # pages, posts and app server calls: none of them is printed
        answers(up.urls["web"] + "/login")
        answers(up.urls["api"] + "/ez?ezkey=nobody@example.com&stat=x&count=1")
        answers(up.health_url("graph-1"))

    lines = [line for line in up.output().splitlines() if line.strip()]

    for role, url in up.urls.items():
        assert len([line for line in lines if role in line and url in line]) == 1, role
    assert not [line for line in lines if "GET /" in line or "INFO:" in line], lines
    assert len(lines) <= len(ROLES) + 4  # the table, "aerie is up", the try and mail hints


def test_a_killed_api_is_restarted_on_its_port_while_the_other_roles_keep_running(
    up: Up,
) -> None:
    up.wait_until_up()
    others = {role: up.child_serving(role) for role in ROLES if role != "api"}
    api = up.child_serving("api")
    assert api is not None

    os.kill(api, signal.SIGKILL)

    up.wait_until("restart of the api", lambda: up.child_serving("api") not in (None, api)
                  and answers(up.health_url("api")))
    assert "the api process exited unexpectedly with code -9; restarting it" in up.output()
    assert {role: up.child_serving(role) for role in others} == others
    assert all(answers(up.health_url(role)) for role in others)
    assert up.stop() == 0


def aerie(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aerie", *args], capture_output=True, text=True,
        timeout=120, check=False, cwd=tmp_path,
        env={**os.environ, "AERIE_DATABASE_URL": f"sqlite:///{tmp_path / 'aerie.db'}"},
    )


def test_up_help_lists_every_role_and_its_default_url(tmp_path: Path) -> None:
    result = aerie(tmp_path, "up", "--help")

    assert result.returncode == 0, result.stderr
    for role, port in [("api", 8001), ("web", 8000), ("graph-1", 8010), ("graph-2", 8011),
                       ("analysis-1", 8020), ("analysis-2", 8021)]:
        assert f"{role}  " in result.stdout and f"http://127.0.0.1:{port}" in result.stdout


def test_up_with_a_busy_app_server_port_exits_1_naming_the_option(tmp_path: Path) -> None:
    graph, taken = distinct_free_ports(2)
    with socket.create_server(("127.0.0.1", taken)):
        result = aerie(tmp_path, "up", "--api-port", str(free_port()), "--web-port",
                       str(free_port()), "--graph-urls",
                       f"http://127.0.0.1:{graph},http://127.0.0.1:{taken}")

    assert result.returncode == 1
    assert f"port {taken} is already in use; choose another with --graph-urls" in result.stderr


# -- the rules up starts by -----------------------------------------------------------------


def test_roles_are_the_api_the_web_app_and_one_per_app_server_url() -> None:
    settings = Settings(api_port=9001, web_port=9000, graph_urls="http://localhost:9010",
                        analysis_urls="http://127.0.0.1:9020, http://127.0.0.1:9021/",
                        scheduler_urls="http://127.0.0.1:9030")

    roles = roles_for(settings)

    assert [(r.name, r.url, r.replica) for r in roles] == [
        ("api", "http://127.0.0.1:9001", False),
        ("web", "http://127.0.0.1:9000", False),
        ("graph-1", "http://localhost:9010", True),
        ("analysis-1", "http://127.0.0.1:9020", True),
        ("analysis-2", "http://127.0.0.1:9021", True),
        ("scheduler-1", "http://127.0.0.1:9030", True),
    ]
    assert roles[2].args == ("graph", "--quiet", "--host", "localhost", "--port", "9010")
    assert roles[2].health_url == "http://localhost:9010/healthz"


@pytest.mark.parametrize("url", [
    "http://10.0.0.5:8010", "https://127.0.0.1:8010", "http://127.0.0.1", "http://127.0.0.1:8010/rpc",
    "http://127.0.0.1:99999",
])
def test_an_app_server_url_up_cannot_serve_itself_fails_start_naming_the_option(url: str) -> None:
    with pytest.raises(StartupFailed, match=r"\(--graph-urls\): aerie up runs every app server"):
        local_address(url, "--graph-urls")


def test_two_roles_on_one_port_fail_start_naming_both() -> None:
    # The others on free ports too, so a running `aerie up` cannot get in the way.
    port, scheduler, api, web = distinct_free_ports(4)
    settings = Settings(graph_urls=f"http://127.0.0.1:{port}",
                        analysis_urls=f"http://localhost:{port}",
                        scheduler_urls=f"http://127.0.0.1:{scheduler}", api_port=api, web_port=web)

    with pytest.raises(StartupFailed, match=f"port {port} is given to both graph-1 and analysis-1"):
        check_ports(roles_for(settings))


def test_children_read_back_exactly_the_settings_up_runs_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(
        database_url="sqlite:///elsewhere.db", api_port=9001, secret_key="s3cret",
        graph_urls="http://127.0.0.1:9010,http://127.0.0.1:9011",
        analysis_urls="http://127.0.0.1:9020", verbose_answers=True, commit_interval_ms=2.5,
    )
    env = child_environment(settings, {"PATH": "/bin"})

    assert env["PATH"] == "/bin"
    assert env["AERIE_GRAPH_URLS"] == "http://127.0.0.1:9010,http://127.0.0.1:9011"
    assert env["AERIE_SECRET_KEY"] == "s3cret"
    for name in [n for n in os.environ if n.startswith("AERIE_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Settings() == settings


def test_a_crashing_copy_waits_twice_as_long_each_time_until_it_stays_up() -> None:
    role = Role(name="graph-1", args=("graph",), host="127.0.0.1", port=8010,
                option="--graph-urls", url="http://127.0.0.1:8010", replica=True)
    delays = []
    now = 1000.0
    for _ in range(8):
        role.started_at = now  # dies as soon as it starts
        delays.append(role.plan_restart(now + 0.5))
        assert role.restart_at == now + 0.5 + delays[-1]
        now = role.restart_at

    assert delays == [FIRST_RESTART_DELAY * 2**i for i in range(6)] + [MAX_RESTART_DELAY] * 2
    role.started_at = now
    assert role.plan_restart(now + STABLE_SECONDS) == FIRST_RESTART_DELAY


def test_up_runs_a_listener_for_each_account_given_statsd_and_graphite() -> None:
    quiet = roles_for(Settings())
    settings = Settings(statsd_user="ops@example.com", statsd_port=9125,
                        graphite_user="ops@example.com", graphite_port=9003)

    listeners = [r for r in roles_for(settings) if r not in quiet]

    assert [(r.name, r.args, r.port, r.answers_http) for r in listeners] == [
        ("statsd", ("statsd",), 9125, False), ("graphite", ("graphite",), 9003, False)]
    assert {r.name for r in quiet}.isdisjoint({"statsd", "graphite"})
