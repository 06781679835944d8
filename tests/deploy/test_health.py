"""``/healthz`` (alive) and ``/readyz`` (dependencies answer) on every role.

Each role is served over real HTTP; "down" is a real closed port or a MariaDB
database that does not exist, never a fake.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from aerie.db import make_engine
from aerie.readiness import database_check, readiness
from aerie.secret_key import load_rpc_secret
from aerie.settings import Settings
from rpc.signing import sign
from tests.conftest import MYSQL_URL
from tests.servers import RunningServer, free_port, serve

AppFactory = Callable[[Settings], Any]


def _api(settings: Settings) -> Any:
    from api_service.app import create_app

    return create_app(settings)


def _web(settings: Settings) -> Any:
    from web_service.app import create_app

    return create_app(settings)


def _graph(settings: Settings) -> Any:
    from app_servers.graph import create_app

    return create_app(settings)


def _analysis(settings: Settings) -> Any:
    from app_servers.analysis import create_app

    return create_app(settings)


def _scheduler(settings: Settings) -> Any:
    from app_servers.scheduler import create_app
    from presenters.mail import TemplateMail

    return create_app(settings, TemplateMail(settings))


ROLES: dict[str, AppFactory] = {"api": _api, "web": _web, "graph": _graph, "analysis": _analysis,
                                "scheduler": _scheduler}


def _closed_port_url() -> str:
    return f"mysql+pymysql://root@127.0.0.1:{free_port()}/aerie"


def _missing_database_url() -> str:
    return make_url(MYSQL_URL).set(database=f"aerie_missing_{secrets.token_hex(4)}").render_as_string(
        hide_password=False
    )


@pytest.fixture(scope="module")
def app_servers(sqlite_database_url: str) -> Iterator[tuple[RunningServer, RunningServer]]:
    """One graph and one analysis copy, for the web app's peers."""
    settings = Settings(database_url=sqlite_database_url)
    with serve(_graph(settings)) as graph, serve(_analysis(settings)) as analysis:
        yield graph, analysis


def _settings(database_url: str, peers: tuple[RunningServer, RunningServer] | None) -> Settings:
    dead = f"http://127.0.0.1:{free_port()}"
    graph, analysis = (peers[0].url, peers[1].url) if peers else (dead, dead)
    return Settings(
        database_url=database_url, db_timeout_seconds=1, secret_key="tests-only-key",
        graph_urls=graph, analysis_urls=analysis,
    )


def _get(server: RunningServer, path: str) -> httpx.Response:
    return httpx.get(server.url + path, timeout=10, trust_env=False)


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_role_is_alive_and_ready_with_its_database_up(
    role: str, database_url: str, app_servers: tuple[RunningServer, RunningServer]
) -> None:
    with serve(ROLES[role](_settings(database_url, app_servers))) as server:
        health = _get(server, "/healthz")
        ready = _get(server, "/readyz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    assert ready.json()["checks"]["database"] == "ok"


@pytest.mark.parametrize("role", sorted(ROLES))
@pytest.mark.parametrize("unreachable", [_closed_port_url, _missing_database_url],
                         ids=["closed-port", "missing-database"])
def test_readyz_is_503_naming_the_database_when_it_is_unreachable(
    role: str, unreachable: Callable[[], str], app_servers: tuple[RunningServer, RunningServer]
) -> None:
    with serve(ROLES[role](_settings(unreachable(), app_servers))) as server:
        health = _get(server, "/healthz")
        ready = _get(server, "/readyz")
    assert health.status_code == 200, "alive even with the database down"
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not ready"
    assert list(body["down"]) == ["database"]
    assert body["down"]["database"].startswith("OperationalError")


@pytest.mark.mariadb
@pytest.mark.parametrize("role", ["analysis", "graph", "web"])
def test_readyz_reports_a_read_replica_that_does_not_answer_and_stays_ready(
    role: str, mysql_database_url: str, app_servers: tuple[RunningServer, RunningServer]
) -> None:
    replica = f"127.0.0.1:{free_port()}"
    settings = _settings(mysql_database_url, app_servers).model_copy(
        update={"read_database_urls": f"mysql+pymysql://root@{replica}/aerie"})
    with serve(ROLES[role](settings)) as server:
        ready = _get(server, "/readyz")
    assert ready.status_code == 200, ready.text  # its reads go to the primary meanwhile
    assert ready.json()["replicas"][replica].startswith("OperationalError")


def test_web_readyz_is_503_naming_its_peers_when_every_copy_is_down(
    sqlite_database_url: str,
) -> None:
    with serve(_web(_settings(sqlite_database_url, None))) as server:
        ready = _get(server, "/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert sorted(body["down"]) == ["analysis", "graph"]
    assert body["down"]["graph"].startswith("no copy answers /healthz")
    assert body["checks"]["database"] == "ok"


def test_web_is_ready_while_one_copy_of_each_peer_answers(
    sqlite_database_url: str, app_servers: tuple[RunningServer, RunningServer]
) -> None:
    graph, analysis = app_servers
    dead = f"http://127.0.0.1:{free_port()}"
    settings = _settings(sqlite_database_url, app_servers).model_copy(
        update={"graph_urls": f"{dead},{graph.url}", "analysis_urls": f"{analysis.url},{dead}"}
    )
    with serve(_web(settings)) as server:
        ready = _get(server, "/readyz")
    assert ready.status_code == 200, ready.text


def test_readyz_gives_up_on_a_database_that_does_not_answer_within_the_timeout() -> None:
    """A host that accepts the connection but never speaks: the check times out quickly."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        engine = make_engine(Settings(database_url=f"mysql+pymysql://root@127.0.0.1:{port}/x",
                                      db_timeout_seconds=5))
        started = time.monotonic()
        status, body = asyncio.run(readiness({"database": database_check(engine, timeout=0.5)}))
        elapsed = time.monotonic() - started
        engine.dispose()
    assert status == 503
    assert "within 0.5 s" in body["down"]["database"]
    assert elapsed < 3


def test_an_sqlite_database_whose_writer_is_busy_is_ready(tmp_path: Any) -> None:
    """The check only reads: a write transaction held elsewhere (a flood's group
    commit, a scheduler pass) does not make a working database look down."""
    url = f"sqlite:///{tmp_path}/aerie.db"
    engine = make_engine(Settings(database_url=url, db_timeout_seconds=0.5))
    writer = make_engine(Settings(database_url=url))
    with writer.begin() as busy:  # BEGIN IMMEDIATE: SQLite's one writer, held
        busy.exec_driver_sql("CREATE TABLE held (x INTEGER)")
        status, body = asyncio.run(readiness({"database": database_check(engine)}))
    engine.dispose()
    writer.dispose()
    assert status == 200, body
    assert body["checks"]["database"] == "ok"


class Echo:
    rpc_methods = ("echo",)

    def echo(self, text: str) -> str:
        return text


def test_an_rpc_service_without_a_database_is_ready_and_its_own_checks_count() -> None:
    from rpc.server import create_rpc_app

    async def broken() -> str | None:
        return "the disk is full"

    with serve(create_rpc_app(Echo(), name="echo", secret=b"tests-only")) as plain:
        assert _get(plain, "/readyz").json() == {"status": "ready", "checks": {}, "service": "echo"}
    with serve(create_rpc_app(Echo(), name="echo", secret=b"tests-only",
                              ready_checks={"disk": broken})) as checked:
        answer = _get(checked, "/readyz")
    assert answer.status_code == 503
    assert answer.json()["down"] == {"disk": "the disk is full"}


def test_a_scheduler_acts_again_once_its_database_is_back(tmp_path: Any) -> None:
    """A database outage (here: no tables yet) must not stop the scheduler for good:
    /healthz would keep saying ok, so neither systemd nor docker would restart it."""
    from aerie.migrate import upgrade
    from app_servers.scheduler import TICK_SECONDS

    url = f"sqlite:///{tmp_path / 'aerie.db'}"
    settings = Settings(database_url=url, graph_urls=f"http://127.0.0.1:{free_port()}")
    def status() -> dict[str, Any]:
        body = b'{"jsonrpc": "2.0", "method": "status", "id": 1}'
        answer = httpx.post(server.url, content=body, headers=sign(load_rpc_secret(settings), body),
                            timeout=5, trust_env=False)
        return dict(answer.json()["result"])

    def wait_for(what: str, met: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + 3 * TICK_SECONDS
        now = status()
        while not met(now):
            assert time.monotonic() < deadline, f"no {what}: {now}"
            time.sleep(0.1)
            now = status()
        return now

    with serve(_scheduler(settings)) as server:
        wait_for("failed pass", lambda s: s["failed_passes"] >= 1)  # no such table yet
        engine = make_engine(settings)
        upgrade(engine)
        engine.dispose()
        acting = wait_for("pass as the leader", lambda s: s["leader"])
        assert _get(server, "/healthz").status_code == 200
    assert acting["failed_passes"] >= 1
