"""Debian's nginx in front of two API and two web copies: a dead copy loses nothing.

Every role runs as its own process (``python -m aerie ROLE``) on a fresh MariaDB
database; nginx runs from the same template as the checked-in ``nginx.conf``,
with free ports and paths inside the test's temp dir. Counts are posted and
pages read through nginx while one API copy and one web copy are SIGKILLed.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from aerie import accounts, dashboards, shares, stats
from aerie.db import make_engine
from aerie.schema import COUNTER
from aerie.settings import Settings
from deploy.nginx import NginxLayout, render
from tests.conftest import hashed
from tests.servers import free_port

NGINX = Path("/usr/sbin/nginx")
REPO = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
POSTERS = 4

pytestmark = pytest.mark.skipif(not NGINX.exists(), reason="Debian's nginx is not installed")


@dataclass
class Copy:
    role: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_copy(role: str, env: dict[str, str], logs: Path) -> Copy:
    port = free_port()
    log = (logs / f"{role}-{port}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "aerie", role, "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
    )
    log.close()
    return Copy(role, port, process)


def wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {process.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


@dataclass
class Stack:
    url: str
    api: list[Copy]
    web: list[Copy]
    engine: Engine
    nginx_log: Path

    @property
    def access_log(self) -> Path:
        return self.nginx_log.parent / "access.log"


@pytest.fixture
def stack(mysql_database_url: str, tmp_path: Path) -> Iterator[Stack]:
    logs = tmp_path / "logs"
    logs.mkdir()
    env = {
        **os.environ, "AERIE_DATABASE_URL": mysql_database_url,
        "AERIE_SECRET_KEY": secrets.token_hex(16),  # the same on every web copy
    }
    copies: list[Copy] = []
    nginx: subprocess.Popen[bytes] | None = None
    engine = make_engine(Settings(database_url=mysql_database_url))
    try:
        graph = start_copy("graph", env, logs)
        analysis = start_copy("analysis", env, logs)
        copies += [graph, analysis]
        env = {**env, "AERIE_GRAPH_URLS": graph.url, "AERIE_ANALYSIS_URLS": analysis.url}
        api = [start_copy("api", env, logs) for _ in range(2)]
        web = [start_copy("web", env, logs) for _ in range(2)]
        copies += api + web
        for copy in copies:
            wait_for(copy.url, copy.process)
        listen = f"127.0.0.1:{free_port()}"
        state = tmp_path / "nginx"
        state.mkdir()
        layout = NginxLayout(
            api=tuple(f"127.0.0.1:{c.port}" for c in api),
            web=tuple(f"127.0.0.1:{c.port}" for c in web),
            listen=listen, app_root=str(REPO), state_dir=str(state), worker_processes="1",
            access_log=f"{state / 'access.log'} aerie",
            # As root, nginx's workers would run as nobody and could not enter tmp_path.
            user="root" if os.geteuid() == 0 else "",
        )
        conf = tmp_path / "nginx.conf"
        conf.write_text(render(layout))
        nginx_log = state / "nginx-error.log"
        with (state / "nginx-output.log").open("wb") as output:
            nginx = subprocess.Popen(
                [str(NGINX), "-p", str(tmp_path), "-c", str(conf), "-e", str(nginx_log),
                 "-g", "daemon off;"],
                stdout=output, stderr=subprocess.STDOUT,
            )
        _wait_for_nginx(f"http://{listen}", nginx, nginx_log)
        yield Stack(f"http://{listen}", api, web, engine, nginx_log)
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(timeout=20)
        stop_copies(copies)
        engine.dispose()


def stop_copies(copies: list[Copy]) -> None:
    """SIGTERM every copy still running, all at once, then wait for each."""
    for copy in copies:
        if copy.process.poll() is None:
            copy.process.terminate()
    for copy in copies:
        copy.process.wait(timeout=30)


def _wait_for_nginx(url: str, nginx: subprocess.Popen[bytes], error_log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if nginx.poll() is not None:
            raise RuntimeError(f"nginx exited with {nginx.returncode}: {error_log.read_text()}")
        try:
            httpx.get(url + "/static/aerie.css", timeout=1, trust_env=False)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("nginx did not answer")


@dataclass
class Posting:
    """Posts of count=1 from several threads, each answer recorded with when it was sent."""

    url: str
    ezkey: str
    ukey: str
    classic_key: str
    name: str
    answers: list[tuple[float, int]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answered_since(self, moment: float) -> int:
        with self.lock:
            return sum(1 for started, _status in self.answers if started > moment)

    def wait_for_answers(self, count: int, since: float = 0.0) -> None:
        """Until ``count`` posts sent after ``since`` (monotonic) have been answered."""
        deadline = time.monotonic() + 60
        while self.answered_since(since) < count:
            assert time.monotonic() < deadline, f"fewer than {count} posts answered in 60 s"
            time.sleep(0.02)

    def run(self, number: int) -> None:
        with httpx.Client(base_url=self.url, timeout=30, trust_env=False) as client:
            sent = 0
            while not self.stop.is_set():
                started = time.monotonic()
                if sent % 2:
                    form = {"ukey": self.ukey, "key": self.classic_key, "count": "1"}
                    path = "/c"
                else:
                    form = {"ezkey": self.ezkey, "stat": self.name, "count": "1"}
                    path = "/ez"
                try:
                    status = client.post(path, data=form).status_code
                except httpx.TransportError:
                    status = 0
                with self.lock:
                    self.answers.append((started, status))
                sent += 1

    def acknowledged(self) -> int:
        return sum(1 for _, status in self.answers if 200 <= status < 300)


def log_in(client: httpx.Client, email: str) -> None:
    form = client.get("/login", headers={"accept": "text/html"})
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf, form.text
    answer = client.post("/login", data={"csrf": csrf.group(1), "email": email, "password": PASSWORD})
    assert answer.status_code == 303, answer.text


def test_nothing_acknowledged_is_lost_and_pages_load_when_a_copy_of_each_dies(
    stack: Stack,
) -> None:
    now = int(time.time())
    email = f"owner-{secrets.token_hex(4)}@example.com"
    with stack.engine.begin() as conn:
        user = accounts.create_user(conn, email, hashed(PASSWORD), now)
        token = accounts.create_token(conn, user.id, "tests", now).token
        stat = stats.create_stat(conn, user.id, "requests", COUNTER, now)
    posting = Posting(stack.url, user.ezkey, user.ukey, stat.classic_key, stat.name)
    pages = [
        "/stats", f"/stats/{stat.public_id}", f"/stats/{stat.public_id}/graph.png",
        f"/x/{token}/statlist", "/static/aerie.css", "/javascripts/embed.js",
    ]
    browser = httpx.Client(base_url=stack.url, timeout=30, trust_env=False,
                           headers={"accept": "text/html"})
    posters = [threading.Thread(target=posting.run, args=(n,)) for n in range(POSTERS)]
    try:
        log_in(browser, email)
        for thread in posters:
            thread.start()
        before = {path: browser.get(path).status_code for path in pages}
        by_host = {
            host: sorted(httpx.get(stack.url + "/readyz", headers={"host": host},
                                   trust_env=False).json()["checks"])
            for host in ("aerie.example.com", "api.example.com")
        }
        posting.wait_for_answers(20)  # posting is under way on both copies
        stack.api[0].process.send_signal(signal.SIGKILL)
        stack.web[0].process.send_signal(signal.SIGKILL)
        stack.api[0].process.wait(timeout=10)
        stack.web[0].process.wait(timeout=10)
        killed_at = time.monotonic()
        after = [(path, browser.get(path).status_code) for _ in range(5) for path in pages]
        posting.wait_for_answers(20, since=killed_at)  # posts sent after the kill went through
    finally:
        posting.stop.set()
        for thread in posters:
            thread.join(timeout=60)
        browser.close()

    assert before == dict.fromkeys(pages, 200)
    assert by_host == {"aerie.example.com": ["analysis", "database", "graph"],
                       "api.example.com": ["commits", "database"]}, "api.* reaches the API, the rest the web"
    assert [(path, status) for path, status in after if status != 200] == []
    # A copy killed mid-request may leave a few posts unanswered (502); every one
    # sent after it was dead went to the surviving copy.
    late = [status for started, status in posting.answers if started > killed_at]
    assert len(late) > 20 and all(200 <= status < 300 for status in late), late
    acknowledged = posting.acknowledged()
    unanswered = len(posting.answers) - acknowledged
    assert acknowledged > 50
    with stack.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT COALESCE(SUM(sum), 0) FROM stat_minutes WHERE stat_id = :id"),
            {"id": stat.id},
        ).scalar_one()
    # Acknowledged means committed, so all of them are there; an unanswered post
    # may have been committed before its copy died, but nginx never sent one twice.
    assert acknowledged <= stored <= acknowledged + unanswered, (acknowledged, unanswered, stored)
    # And the dead copies were really tried, failed and taken out of rotation.
    errors = stack.nginx_log.read_text()
    for dead in (stack.api[0], stack.web[0]):
        assert re.search(rf"temporarily disabled.*upstream: \"{dead.url}/", errors), errors


def test_a_burst_of_viewers_of_one_uncached_embed_reaches_a_web_copy_once(stack: Stack) -> None:
    """nginx keeps embeds: fifty viewers arriving at once cost one request to the web tier
    (so at most one render), and other keys and sizes get entries of their own."""
    now = int(time.time())
    with stack.engine.begin() as conn:
        user = accounts.create_user(conn, f"owner-{secrets.token_hex(4)}@example.com", None, now)
        stat = stats.create_stat(conn, user.id, "visits", COUNTER, now)
        key = shares.share_stat(conn, user.id, stat.id, now).key
        other = stats.create_stat(conn, user.id, "sales", COUNTER, now)
        other_key = shares.share_stat(conn, user.id, other.id, now).key
    png = f"/embed/graph/{key}.png?w=500&h=200"
    wider = f"/embed/graph/{key}.png?w=600&h=200"

    async def viewers(path: str, count: int) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=stack.url, timeout=60, trust_env=False) as client:
            return await asyncio.gather(*(client.get(path) for _ in range(count)))

    burst = asyncio.run(viewers(png, 50))
    repeat = httpx.get(stack.url + png, trust_env=False)
    others = [httpx.get(stack.url + p, trust_env=False)
              for p in (wider, f"/embed/graph/{other_key}.png?w=500&h=200")]

    assert [a.status_code for a in burst + [repeat] + others] == [200] * 53
    assert len({a.content for a in burst + [repeat]}) == 1
    assert len({repeat.content, *(a.content for a in others)}) == 3
    assert repeat.headers["x-cache-status"] == "HIT"
    left = re.search(r"max-age=(\d+)", repeat.headers["cache-control"])
    assert left is not None and 0 < int(left[1]) <= 60, repeat.headers["cache-control"]
    # What clients may keep runs out a minute after the web app made the answer.
    made, expires = (parsedate_to_datetime(repeat.headers[h]) for h in ("last-modified", "expires"))
    assert (expires - made).total_seconds() == 60
    logged = [line for line in stack.access_log.read_text().splitlines() if f"/{key}.png" in line]
    reached = [line for line in logged if "upstream=-" not in line]
    assert len(logged) == 52
    assert len(reached) == 2, reached  # the burst's one miss, and the wider image's


FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
CHROME = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
          "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7")


def test_a_shared_dashboard_is_one_cached_page_for_every_browser(stack: Stack) -> None:
    """Browsers word Accept differently; nginx keeps one copy of the page for all of them
    (and one of its JSON twin), not one per Accept string."""
    now = int(time.time())
    with stack.engine.begin() as conn:
        user = accounts.create_user(conn, f"owner-{secrets.token_hex(4)}@example.com", None, now)
        board = dashboards.create_dashboard(conn, user.id, "Shop", now)
        key = shares.share_dashboard(conn, user.id, board.id, now).key

    def get(accept: str) -> httpx.Response:
        return httpx.get(f"{stack.url}/d/{key}", headers={"Accept": accept}, trust_env=False)

    firefox, chrome, twin = get(FIREFOX), get(CHROME), get("application/json")

    assert [a.status_code for a in (firefox, chrome, twin)] == [200] * 3
    assert chrome.headers["x-cache-status"] == "HIT" and chrome.content == firefox.content
    assert twin.headers["x-cache-status"] == "MISS" and twin.json()
