"""Shared fixtures: every database test runs on SQLite and on MariaDB.

``AERIE_TEST_MYSQL_URL`` names the MariaDB server (default: root on
127.0.0.1:3306, database ``test``). Each test session (each xdist worker) creates
its own database on that server, migrates it once and drops it at the end; tests
stay isolated by creating their own users, whose keys are unique.

When no MariaDB answers, the MariaDB half is skipped with one reason, unless
``AERIE_TEST_REQUIRE_MARIADB=1`` (CI sets it), which makes it an error instead.
Every test is marked by what it needs (``mariadb``, ``browser``, ``nginx``,
``cluster``), so
``make check`` can leave those out.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

from aerie import accounts, stats
from aerie.db import make_engine
from aerie.migrate import upgrade
from aerie.passwords import PasswordHash, Passwords
from aerie.rollups import Cells, add_point, write_cells
from aerie.settings import Settings
from tests.servers import RunningServer, free_port, serve

pytest_plugins = ["tests.smtp", "tests.npm_client"]

MYSQL_URL = os.environ.get("AERIE_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")

# Self-monitoring off for every Settings a test builds and every process it starts;
# a test that watches it passes monitor_seconds itself.
os.environ.setdefault("AERIE_MONITOR_SECONDS", "0")
# The suite signs up hundreds of accounts, all from 127.0.0.1 (one test sets a limit).
os.environ.setdefault("AERIE_SIGNUPS_PER_HOUR", "0")
# Cheap argon2 for every password the suite hashes, in-process or in a started process:
# a strong hash is slow by design, and the suite makes hundreds.
os.environ.setdefault("AERIE_PASSWORD_HASH_TIME_COST", "1")
os.environ.setdefault("AERIE_PASSWORD_HASH_MEMORY_KIB", "32")
PASSWORDS = Passwords.from_settings(Settings())


def hashed(password: str) -> PasswordHash:
    """``password`` hashed as the suite's services hash it."""
    return PASSWORDS.hash(password)


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on anyio's pytest plugin, on asyncio only (what uvicorn serves on)."""
    return "asyncio"


_MARIADB_MISSING = pytest.StashKey[str | None]()
# Test files that start Aerie as whole processes (aerie up, uvicorn, the CLI).
_PROCESS_TESTS = (
    "/tests/aerie/test_cli.py", "/tests/aerie/test_supervisor.py", "/tests/aerie/test_backup.py",
    "/tests/api_service/test_durability.py", "/tests/deploy/test_health.py",
    "/tests/deploy/test_nginx_conf.py", "/tests/monitor/test_system_password.py",
)


def pytest_configure(config: pytest.Config) -> None:
    """Ask once whether MariaDB answers; CI (``AERIE_TEST_REQUIRE_MARIADB=1``) insists."""
    missing = _mariadb_missing(make_url(MYSQL_URL))
    if missing and os.environ.get("AERIE_TEST_REQUIRE_MARIADB") == "1":
        raise pytest.UsageError(f"{missing}, and AERIE_TEST_REQUIRE_MARIADB=1 requires it")
    config.stash[_MARIADB_MISSING] = missing


def _mariadb_missing(server: URL) -> str | None:
    """Why the MariaDB server cannot be used, or None when it answers."""
    admin = create_engine(server, connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as error:
        return f"MariaDB at {server.render_as_string()} did not answer ({error.orig})"
    finally:
        admin.dispose()
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test by the outside services it needs (from where it lives and its database
    parameter), and leave the MariaDB half out when no MariaDB answers."""
    for item in items:
        path = item.path.as_posix()
        if "/tests/browser/" in path:
            item.add_marker(pytest.mark.browser)
        if path.endswith(("/tests/deploy/test_nginx.py", "/tests/deploy/test_package.py",
                          "/tests/deploy/test_tls.py")):
            item.add_marker(pytest.mark.nginx)
        if path.endswith(_PROCESS_TESTS):
            item.add_marker(pytest.mark.processes)
        if "/tests/cluster/" in path:
            item.add_marker(pytest.mark.cluster)
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("database_url") == "mariadb":
            item.add_marker(pytest.mark.mariadb)
    if config.stash[_MARIADB_MISSING]:
        skipped = [item for item in items if item.get_closest_marker("mariadb")]
        items[:] = [item for item in items if not item.get_closest_marker("mariadb")]
        config.hook.pytest_deselected(items=skipped)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    missing = config.stash.get(_MARIADB_MISSING, None)
    if missing:
        terminalreporter.write_line(f"The MariaDB half was left out: {missing}.", yellow=True)


@pytest.fixture(scope="session")
def mysql_database_url() -> Iterator[str]:
    """A fresh, migrated MariaDB database for this test session."""
    server = make_url(MYSQL_URL)
    name = f"aerie_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(server)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    url = server.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(Settings(database_url=url))
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.begin() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = Path(tmp_path_factory.mktemp("sqlite")) / "aerie.db"
    url = f"sqlite:///{path}"
    engine = make_engine(Settings(database_url=url))
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def fresh_engine(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    """An empty database on the backend of ``database_url``, for migrating step by step."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
        yield engine
        engine.dispose()
        return
    name = f"aerie_fresh_{secrets.token_hex(4)}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    engine = create_engine(url.set(database=name))
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "mariadb"])
def database_url(request: pytest.FixtureRequest) -> str:
    """The URL of a migrated database; each test using it runs once per backend."""
    name = "sqlite_database_url" if request.param == "sqlite" else "mysql_database_url"
    return request.getfixturevalue(name)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, db_timeout_seconds=2, secret_key="tests-only-key",
                    monitor_seconds=0)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings)
    yield engine
    engine.dispose()


@dataclass(frozen=True)
class Account:
    """A user made for a test, with a live access token."""

    user: accounts.User
    token: str

    @property
    def ezkey(self) -> str:
        return self.user.ezkey

    @property
    def ukey(self) -> str:
        return self.user.ukey


def make_account(engine: Engine, name: str = "owner") -> Account:
    email = f"{name}-{secrets.token_hex(4)}@example.com"
    now = int(time.time())
    with engine.begin() as conn:
        user = accounts.create_user(conn, email, None, now)
        token = accounts.create_token(conn, user.id, "tests", now)
    return Account(user, token.token)


def make_stat(engine: Engine, account: Account, name: str, kind: str) -> stats.Stat:
    with engine.begin() as conn:
        return stats.create_stat(conn, account.user.id, name, kind, int(time.time()))


def put_points(
    engine: Engine, stat: stats.Stat, points: list[tuple[int, float]], received: int | None = None
) -> None:
    """Record points as the ingestion API does: rollups, then when data last arrived
    (``received``, unix seconds; now by default)."""
    cells: Cells = {}
    for t, x in points:
        add_point(cells, stat.id, t, x)
    with engine.begin() as conn:
        write_cells(conn, cells)
        at = int(time.time()) if received is None else received
        stats.mark_data_received(conn, [(stat.id, at)])


@pytest.fixture
def owner(engine: Engine) -> Account:
    return make_account(engine, "owner")


@pytest.fixture
def outsider(engine: Engine) -> Account:
    return make_account(engine, "outsider")


@pytest.fixture
def api(settings: Settings, server_pool: ServerPool) -> RunningServer:
    """The ingestion API, served over real HTTP on a free port (one per database for the
    whole session; a test that needs other settings serves its own)."""
    return server_pool.api(settings)


class ServerPool:
    """Servers kept for the whole session, one set per database.

    The ingestion API, the web app and the app servers hold no state between requests
    that one test could see of another's (each test makes its own users, and caches and
    rate limits are keyed by user or key), so sharing them between tests loses no
    isolation and saves starting servers for every test.
    """

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._started: dict[tuple[str, str], object] = {}

    def app_server_settings(self, settings: Settings) -> Settings:
        key = ("app servers", settings.database_url)
        if key not in self._started:
            from app_servers.analysis import create_app as analysis_app
            from app_servers.graph import create_app as graph_app

            graph = self._stack.enter_context(serve(graph_app(settings)))
            analysis = self._stack.enter_context(serve(analysis_app(settings)))
            self._started[key] = settings.model_copy(
                update={"graph_urls": graph.url, "analysis_urls": analysis.url}
            )
        found = self._started[key]
        assert isinstance(found, Settings)
        return found

    def api(self, settings: Settings) -> RunningServer:
        key = ("api", settings.database_url)
        if key not in self._started:
            from api_service.app import create_app

            self._started[key] = self._stack.enter_context(serve(create_app(settings)))
        found = self._started[key]
        assert isinstance(found, RunningServer)
        return found

    def web(self, settings: Settings) -> RunningServer:
        key = ("web", settings.database_url)
        if key not in self._started:
            from web_service.app import create_app

            # Links in pages point at the public address, so make it this server's own.
            port = free_port()
            public = {"public_web_url": f"http://127.0.0.1:{port}"}
            app = create_app(self.app_server_settings(settings).model_copy(update=public))
            self._started[key] = self._stack.enter_context(serve(app, port))
        found = self._started[key]
        assert isinstance(found, RunningServer)
        return found

    def close(self) -> None:
        self._stack.close()


@pytest.fixture(scope="session")
def server_pool() -> Iterator[ServerPool]:
    pool = ServerPool()
    yield pool
    pool.close()


@pytest.fixture
def app_server_settings(settings: Settings, server_pool: ServerPool) -> Settings:
    """``settings`` pointing at a graph and an analysis server for this database."""
    return server_pool.app_server_settings(settings)


@pytest.fixture
def web(settings: Settings, server_pool: ServerPool) -> RunningServer:
    """The web app (export API included) and its app servers, over real HTTP."""
    return server_pool.web(settings)
