"""HTTPS through Debian's nginx, with a certificate from a CA made here by openssl.

The API and the web app run on the test's database (SQLite and MariaDB); nginx runs
from the same template as the checked-in ``nginx.conf``, rendered with TLS on. Real
clients post over HTTPS (npm's ``stathat`` module under node, trusting the CA
through ``NODE_EXTRA_CA_CERTS``, and httpx) and read back through the export API
over HTTPS; old clients keep plain HTTP on ``/ez``, ``/c`` and ``/v``.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from deploy.nginx import NginxLayout, render
from deploy.roles import TLS
from tests.api_service.helpers import recent_minute
from tests.conftest import Account, make_stat
from tests.npm_client import NpmClient
from tests.servers import RunningServer, free_port

NGINX = Path("/usr/sbin/nginx")
REPO = Path(__file__).resolve().parents[2]
OK = '{"status":200,"msg":"ok"}'
HSTS = "max-age=31536000"

pytestmark = [
    pytest.mark.skipif(not NGINX.exists(), reason="Debian's nginx is not installed"),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed"),
]


def make_certificates(where: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate it signed for 127.0.0.1 and localhost: (ca, cert, key)."""
    ca, ca_key = where / "ca.pem", where / "ca.key"
    cert, key, request = where / "server.pem", where / "server.key", where / "server.csr"
    extensions = where / "server.ext"
    extensions.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    new_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for command in (
        ["req", "-x509", *new_key, "-keyout", ca_key, "-out", ca, "-days", "2",
         "-subj", "/CN=Aerie test CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["req", *new_key, "-keyout", key, "-out", request, "-subj", "/CN=localhost"],
        ["x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-out", cert, "-days", "2", "-extfile", extensions],
    ):
        done = subprocess.run(["openssl", *map(str, command)], capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.returncode == 0, done.stderr
    return ca, cert, key


@dataclass(frozen=True)
class Front:
    """nginx in front of the API and the web app: its two addresses and the CA to trust."""

    https: str
    http: str
    ca: Path

    def client(self, **options: Any) -> httpx.Client:
        trusted = ssl.create_default_context(cafile=str(self.ca))
        return httpx.Client(verify=trusted, timeout=30, trust_env=False, **options)


@pytest.fixture
def front(api: RunningServer, web: RunningServer, tmp_path: Path) -> Iterator[Front]:
    ca, cert, key = make_certificates(tmp_path)
    http_port, https_port = free_port(), free_port()
    state = tmp_path / "nginx"
    state.mkdir()
    layout = NginxLayout(
        api=(f"127.0.0.1:{api.port}",), web=(f"127.0.0.1:{web.port}",),
        listen=f"127.0.0.1:{http_port}", app_root=str(REPO), state_dir=str(state),
        worker_processes="1", user="root" if os.geteuid() == 0 else "",
        tls=TLS(str(cert), str(key), f"127.0.0.1:{https_port}", str(tmp_path / "acme")),
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(render(layout))
    error_log = state / "nginx-error.log"
    with (state / "nginx-output.log").open("wb") as output:
        nginx = subprocess.Popen(
            [str(NGINX), "-p", str(tmp_path), "-c", str(conf), "-e", str(error_log),
             "-g", "daemon off;"],
            stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        found = Front(f"https://127.0.0.1:{https_port}", f"http://127.0.0.1:{http_port}", ca)
        _wait_for_nginx(found, nginx, error_log)
        yield found
    finally:
        nginx.terminate()
        nginx.wait(timeout=20)


def _wait_for_nginx(front: Front, nginx: subprocess.Popen[bytes], error_log: Path) -> None:
    deadline = time.monotonic() + 20
    with front.client() as client:
        while time.monotonic() < deadline:
            if nginx.poll() is not None:
                raise RuntimeError(f"nginx exited with {nginx.returncode}: {error_log.read_text()}")
            try:
                client.get(front.https + "/static/aerie.css")
                client.get(front.http + "/static/aerie.css")
                return
            except httpx.TransportError:
                time.sleep(0.05)
    raise RuntimeError("nginx did not answer")


def read_total(client: httpx.Client, front: Front, owner: Account, name: str, start: int
               ) -> float:
    """The stat's total in the hour from ``start``, read through the export API over HTTPS."""
    stat = client.get(f"{front.https}/x/{owner.token}/stat", params={"name": name})
    assert stat.status_code == 200, stat.text
    data = client.get(f"{front.https}/x/{owner.token}/data/{stat.json()['id']}",
                      params={"t": "1h1m", "start": start})
    assert data.status_code == 200, data.text
    [series] = data.json()
    return float(sum(p["value"] or 0 for p in series["points"]))


def test_the_npm_module_and_httpx_post_over_https_and_read_back_over_https(
    front: Front, engine: Engine, owner: Account, stathat_npm: NpmClient
) -> None:
    t = recent_minute()
    counter = make_stat(engine, owner, "tls classic", "counter")
    calls = [
        ["trackEZCountWithTime", owner.ezkey, "tls hits", 2, t],
        ["trackCountWithTime", owner.ukey, counter.classic_key, 5, t],
    ]

    answers = stathat_npm(front.https, calls, {"NODE_EXTRA_CA_CERTS": str(front.ca)})

    assert answers == [[(200, OK)]] * 2
    with front.client() as client:
        posted = client.post(f"{front.https}/ez",
                             data={"ezkey": owner.ezkey, "stat": "tls hits", "count": 3, "t": t})
        assert posted.status_code == 200 and posted.text == OK
        assert read_total(client, front, owner, "tls hits", t) == 5
        assert read_total(client, front, owner, "tls classic", t) == 5


def test_a_client_that_does_not_trust_the_certificate_is_refused(front: Front) -> None:
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(front.https + "/", trust_env=False)


def test_plain_http_keeps_ingestion_and_moves_everything_else_to_https(
    front: Front, engine: Engine, owner: Account
) -> None:
    t = recent_minute()
    counter = make_stat(engine, owner, "beacon classic", "counter")
    value = make_stat(engine, owner, "beacon load", "value")
    with front.client() as client:
        beacon = client.get(f"{front.http}/ez",
                            params={"ezkey": owner.ezkey, "stat": "beacon", "count": 1, "t": t})
        classic = client.post(f"{front.http}/c", data={
            "ukey": owner.ukey, "key": counter.classic_key, "count": 2, "t": t})
        valued = client.post(f"{front.http}/v", data={
            "ukey": owner.ukey, "key": value.classic_key, "value": 3, "t": t})
        assert [(a.status_code, a.text) for a in (beacon, classic, valued)] == [(200, OK)] * 3
        assert read_total(client, front, owner, "beacon", t) == 1

        page = client.get(f"{front.http}/login?next=/stats")
        assert page.status_code in (301, 308)
        assert page.headers["location"] == f"{front.https}/login?next=/stats"
        export = client.get(f"{front.http}/x/{owner.token}/statlist")
        assert export.status_code in (301, 308)
        assert "strict-transport-security" not in page.headers  # only over HTTPS

        secure = client.get(f"{front.https}/login")
        assert secure.status_code == 200
        assert secure.headers["strict-transport-security"] == HSTS
        static = client.get(f"{front.https}/static/aerie.css")
        assert static.headers["strict-transport-security"] == HSTS
