"""A release runs one host's share of the role map: package, start, status, stop.

The release is run as a host would run it: its own ``app/`` on ``PYTHONPATH``,
the control command as a separate process, each copy a background process.
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select

from aerie.db import make_engine
from aerie.migrate import upgrade
from aerie.schema import leases
from aerie.settings import Settings
from deploy.control import read_env_file
from deploy.nginx import layout_for, render
from deploy.package import PackagingError, build_release, release_stamp
from deploy.roles import RoleMapError, load_role_map, parse_role_map
from rpc.signing import sign
from tests.servers import free_port

REPO = Path(__file__).resolve().parents[2]


def gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


@pytest.fixture
def role_map(tmp_path: Path) -> Path:
    """app1 on this machine's free ports (two schedulers: one acts, one waits); app2
    elsewhere, never started here."""
    ports = [free_port() for _ in range(8)]
    path = tmp_path / "roles.toml"
    path.write_text(f"""
[hosts.app1]
address = "127.0.0.1"
[hosts.app1.roles]
api = [{ports[0]}, {ports[1]}]
web = [{ports[2]}, {ports[3]}]
graph = [{ports[4]}]
analysis = [{ports[5]}]
scheduler = [{ports[6]}, {ports[7]}]

[hosts.app2]
address = "127.0.0.2"
[hosts.app2.roles]
api = [8001]
web = [8000]
graph = [8010]
analysis = [8020]
scheduler = [8030]
""")
    return path


def control(release: Path, action: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deploy.control", action, "--host", "app1", "--release", str(release)],
        env=env, cwd=release, capture_output=True, text=True, timeout=180, check=False,
    )


@pytest.fixture
def release(tmp_path: Path, role_map: Path) -> Iterator[Path]:
    release = build_release(tmp_path / "out", role_map, listen="127.0.0.1:8080", wheel=False)
    yield release
    # Whatever a failed test left running goes with it.
    for pid_file in (release / "var" / "run").glob("*.pid"):
        pid = int(pid_file.read_text())
        if not gone(pid):
            os.kill(pid, 9)


def test_a_release_holds_code_templates_static_files_and_configuration(
    release: Path, role_map: Path
) -> None:
    assert release.parent.name == "releases"
    assert datetime.strptime(release.name, "%Y%m%dT%H%M%SZ")
    for path in ("app/ops/cli.py", "app/deploy/control.py", "app/templates/base.html",
                 "conf/roles.toml", "conf/aerie.env.example", "conf/nginx.conf",
                 "systemd/aerie-api@.service", "bin/control", "RELEASE"):
        assert (release / path).is_file(), path
    css = release / "app" / "static" / "aerie.css"
    assert gzip.decompress((css.parent / "aerie.css.gz").read_bytes()) == css.read_bytes()
    assert not list(release.rglob("__pycache__"))
    assert os.access(release / "bin" / "control", os.X_OK)
    expected = render(layout_for(
        load_role_map(role_map), listen="127.0.0.1:8080", app_root=str(release / "app"),
        state_dir=str(release / "var" / "nginx"),
        access_log=f"{release / 'var' / 'nginx'}/access.log",
        generated=f"Rendered for release {release.name} from roles.toml.",
    ))
    assert (release / "conf" / "nginx.conf").read_text() == expected
    assert "127.0.0.2:8001" in expected, "nginx spreads over every host's copies"
    assert "version=0.1.0" in (release / "RELEASE").read_text()


def test_two_releases_in_the_same_second_are_refused(tmp_path: Path, role_map: Path) -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    first = build_release(tmp_path, role_map, wheel=False, now=now)
    assert first.name == release_stamp(now) == "20260102T030405Z"
    with pytest.raises(PackagingError, match="exists already"):
        build_release(tmp_path, role_map, wheel=False, now=now)


def test_the_release_carries_a_wheel_of_aerie(tmp_path: Path, role_map: Path) -> None:
    try:
        release = build_release(tmp_path, role_map)
    except PackagingError as exc:
        if "network" in str(exc).lower() or "connection" in str(exc).lower():
            pytest.skip(f"pip needs the network for its build backend here: {exc}")
        raise
    [wheel] = (release / "wheel").glob("aerie-*-py3-none-any.whl")
    assert wheel.stat().st_size > 10_000


RPC_SECRET = "tests-only-rpc-secret"


def scheduler_status(url: str) -> dict[str, object]:
    body = b'{"jsonrpc": "2.0", "method": "status", "id": 1}'
    answer = httpx.post(url, content=body, headers=sign(RPC_SECRET.encode(), body),
                        timeout=5, trust_env=False)
    result: dict[str, object] = answer.json()["result"]
    return result


def scheduler_lease(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(leases.c.holder).where(leases.c.name == "scheduler"))
                        .scalars())
    finally:
        engine.dispose()


@pytest.fixture
def own_database_url(tmp_path: Path) -> str:
    """A database of its own: a scheduler elsewhere in the session (the browser tests'
    stack) would hold the shared database's lease."""
    url = f"sqlite:///{tmp_path / 'aerie.db'}"
    engine = make_engine(Settings(database_url=url))
    upgrade(engine)
    engine.dispose()
    return url


def test_control_starts_checks_and_stops_every_copy_of_one_host(
    release: Path, own_database_url: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AERIE_")}
    env.update(AERIE_DATABASE_URL=own_database_url, AERIE_SECRET_KEY="tests-only-key",
               AERIE_RPC_SECRET=RPC_SECRET,
               PYTHONPATH=str(release / "app"))

    started = control(release, "start", env)
    assert started.returncode == 0, started.stdout + started.stderr
    pids = {p.stem: int(p.read_text()) for p in (release / "var" / "run").glob("*.pid")}
    copies = load_role_map(release / "conf" / "roles.toml").host("app1").copies()
    assert sorted(pids) == sorted(copy.name for copy in copies)
    for pid in pids.values():
        assert Path(f"/proc/{pid}/cwd").resolve() == release, "copies run from the release"

    status = control(release, "status", env)
    assert status.returncode == 0, status.stdout + status.stderr
    lines = {line.split()[0]: line.split() for line in status.stdout.splitlines()[1:]}
    for copy in copies:
        _, port, listed_pid, health = lines[copy.name]
        assert (port, listed_pid, health) == (str(copy.port), str(pids[copy.name]), "ok")
    schedulers = [copy for copy in copies if copy.role == "scheduler"]
    assert len(schedulers) == 2 and all(lines[copy.name][3] == "ok" for copy in schedulers)
    assert (release / "var" / "log" / f"{copies[0].name}.log").exists()

    # Both schedulers run their loop; exactly one holds the lease and acts.
    deadline = time.monotonic() + 30
    while True:
        answers = [scheduler_status(copy.url) for copy in schedulers]
        if all(answer["last_pass"] for answer in answers) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [answer["leader"] for answer in answers].count(True) == 1, answers
    [leader] = [answer["holder"] for answer in answers if answer["leader"]]
    assert scheduler_lease(own_database_url) == [leader]
    script = subprocess.run(
        [str(release / "bin" / "control"), "status", "--host", "app1"],
        env={**env, "PYTHON": sys.executable}, capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert script.returncode == 0 and script.stdout == status.stdout, script.stderr

    again = control(release, "start", env)
    assert again.returncode == 0
    assert {p.stem: int(p.read_text()) for p in (release / "var" / "run").glob("*.pid")} == pids

    stopped = control(release, "stop", env)
    assert stopped.returncode == 0, stopped.stderr
    assert all(gone(pid) for pid in pids.values())
    assert scheduler_lease(own_database_url) == [], "a clean stop gives the lease up"
    assert not list((release / "var" / "run").glob("*.pid"))
    after = control(release, "status", env)
    assert after.returncode == 3
    assert after.stdout.count("not running") == len(copies)


def test_the_checked_in_role_map_runs_two_copies_of_every_role_on_two_hosts() -> None:
    """Two of each serving role per host; one scheduler per host (only one acts at a
    time, so the other host's copy is the standby), on the port `aerie up` gives copy 1."""
    role_map = load_role_map()
    assert sorted(role_map.hosts) == ["app1", "app2"]
    for host in role_map.hosts.values():
        assert {role: len(ports) for role, ports in host.roles.items()} == {
            "api": 2, "web": 2, "graph": 2, "analysis": 2, "scheduler": 1,
        }
        assert host.roles["scheduler"] == (8030,)
    assert role_map.urls("scheduler") == "http://10.0.0.11:8030,http://10.0.0.12:8030"


def test_the_role_map_starts_copy_1_of_each_app_server_where_aerie_up_does() -> None:
    defaults = Settings.model_construct()
    app1 = load_role_map().host("app1")
    for role in ("graph", "analysis", "scheduler"):
        first = getattr(defaults, f"{role}_replicas")[0]
        assert first == f"http://127.0.0.1:{app1.roles[role][0]}"


@pytest.mark.parametrize("data, problem", [
    ({}, "at least one"),
    ({"hosts": {"a": {"roles": {"api": [1]}}}}, "address"),
    ({"hosts": {"a": {"address": "x", "roles": {"cron": [1]}}}}, "unknown role"),
    ({"hosts": {"a": {"address": "x", "roles": {"api": [1], "graph": [1]}}}}, "port twice"),
    ({"hosts": {"a": {"address": "x", "roles": {"api": ["80"]}}}}, "list of ports"),
    ({"hosts": {"a": {"address": "x", "roles": {"web": [1]}}}}, "graph copy"),
    ({"hosts": {"a": {"address": "x", "roles": {"scheduler": [1]}}}},
     "scheduler copies need at least one graph copy"),
])
def test_a_role_map_that_makes_no_sense_is_refused_with_the_reason(
    data: dict[str, object], problem: str
) -> None:
    with pytest.raises(RoleMapError, match=problem):
        parse_role_map(data)


def test_the_env_example_sets_only_known_settings() -> None:
    known = {f"AERIE_{name.upper()}" for name in Settings.model_fields}
    names = set(read_env_file(REPO / "deploy" / "aerie.env.example"))
    assert names - known == {"AERIE_BIND"}


def test_the_env_example_sets_what_the_scheduler_needs_to_send_mail(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pairs = read_env_file(REPO / "deploy" / "aerie.env.example")
    mail = {f"AERIE_{name.upper()}" for name in Settings.model_fields
            if name.startswith("smtp_") and not name.endswith("_seconds")}  # timings have defaults
    assert mail | {"AERIE_PUBLIC_WEB_URL"} <= set(pairs)
    for key in mail | {"AERIE_PUBLIC_WEB_URL"}:
        monkeypatch.setenv(key, pairs[key])
    settings = Settings()  # read as a copy reads them
    assert not settings.dev_mail and settings.smtp_starttls
    assert settings.web_url == "https://aerie.example.com"
    # Only `aerie up` reads it; a deployed host's role map says which schedulers run.
    assert "AERIE_SCHEDULER_URLS" not in pairs


def test_systemd_units_run_the_command_control_runs() -> None:
    from deploy.roles import ROLES, role_command

    for role in ROLES:
        unit = (REPO / "deploy" / "systemd" / f"aerie-{role}@.service").read_text()
        [exec_start] = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
        command = ["-m", *role_command(role, "${AERIE_BIND}", 0)]
        command[-1] = "%i"
        assert exec_start.split()[1:] == command
        [example] = re.findall(rf"systemctl enable --now ((?:aerie-{role}@\d+ ?)+)", unit)
        ports = tuple(int(name.split("@")[1]) for name in example.split())
        assert ports == load_role_map().host("app1").roles[role], unit.splitlines()[2]


def test_the_checked_in_role_map_is_valid_toml_with_the_local_ports() -> None:
    data = tomllib.loads((REPO / "deploy" / "roles.toml").read_text())
    assert data["hosts"]["app1"]["roles"]["api"] == [8001, 8003]
    assert data["hosts"]["app1"]["roles"]["web"] == [8000, 8002]
