"""The API records whole requests only, and says it is not ready when it cannot write."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url

from aerie.schema import stat_minutes
from aerie.settings import Settings
from aerie.stats import stat_by_name
from api_service.app import create_app
from tests.api_service.test_durability import outage_switch
from tests.conftest import Account, make_stat
from tests.servers import RunningServer, serve


def test_body_ending_before_its_content_length_records_nothing(
    engine: Engine, owner: Account, api: RunningServer
) -> None:
    body = f"ezkey={owner.ezkey}&stat=cut&count=7".encode()
    with socket.create_connection(("127.0.0.1", api.port)) as sock:
        sock.sendall(
            b"POST /ez HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            + f"Content-Length: {len(body) + 80}\r\n\r\n".encode() + body
        )
    # The cut request's bytes and its hang-up reached the server before this whole
    # request, which is acknowledged only once committed: by then the cut one is done.
    done = httpx.post(api.url + "/ez", data={"ezkey": owner.ezkey, "stat": "after", "count": "1"})
    assert done.status_code == 200
    with engine.connect() as conn:
        assert stat_by_name(conn, owner.user.id, "after") is not None
        assert stat_by_name(conn, owner.user.id, "cut") is None


@contextmanager
def read_only_url(database_url: str) -> Iterator[str]:
    """The same database through a connection that may read and not write."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///file:{url.database}?mode=ro&uri=true"
        return
    user = f"ro_{secrets.token_hex(4)}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'ro'"))
        conn.execute(text(f"GRANT SELECT ON `{url.database}`.* TO '{user}'@'%'"))
    try:
        yield url.set(username=user, password="ro").render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP USER '{user}'@'%'"))
        admin.dispose()


def test_api_is_not_ready_while_its_commits_fail_on_a_read_only_database(
    settings: Settings, database_url: str, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "read only", "counter")
    with read_only_url(database_url) as url, serve(create_app(settings.model_copy(update={"database_url": url}))) as api:
        assert httpx.get(api.url + "/readyz").status_code == 200  # SELECT 1 answers
        post = httpx.post(api.url + "/c", data={"ukey": owner.ukey, "key": stat.classic_key, "count": "1"})
        assert post.status_code == 503
        ready = httpx.get(api.url + "/readyz")
        assert ready.status_code == 503
        assert "commit failed" in ready.json()["down"]["commits"]
        assert ready.json()["checks"]["database"] == "ok"


def test_api_is_ready_again_after_a_commit_succeeds(
    database_url: str, engine: Engine, owner: Account
) -> None:
    stat = make_stat(engine, owner, "comes back", "counter")
    data = {"ukey": owner.ukey, "key": stat.classic_key, "count": "1"}
    with outage_switch(database_url) as outage:
        settings = Settings(database_url=outage.url, db_timeout_seconds=0.5, monitor_seconds=0)
        with serve(create_app(settings)) as api:
            outage.begin()
            assert httpx.post(api.url + "/c", data=data, timeout=30).status_code == 503
            assert httpx.get(api.url + "/readyz", timeout=30).status_code == 503
            outage.end()
            assert httpx.post(api.url + "/c", data=data, timeout=30).status_code == 200
            assert httpx.get(api.url + "/readyz", timeout=30).status_code == 200
    with engine.connect() as conn:
        assert conn.execute(select(stat_minutes.c.n).where(stat_minutes.c.stat_id == stat.id)).scalar() == 1
