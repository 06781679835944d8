"""The checked-in nginx.conf is the template rendered for the documented local layout."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from deploy.nginx import LOCAL_LAYOUT, NginxLayout, render
from deploy.roles import load_role_map

REPO = Path(__file__).resolve().parents[2]
NGINX = Path("/usr/sbin/nginx")


def test_the_checked_in_nginx_conf_is_the_template_rendered_for_the_local_layout() -> None:
    assert (REPO / "nginx.conf").read_text() == render(LOCAL_LAYOUT), (
        "regenerate it: .venv/bin/python -m deploy.nginx > nginx.conf"
    )


def test_the_local_layout_uses_app1s_ports_from_the_role_map() -> None:
    app1 = load_role_map().host("app1")
    assert LOCAL_LAYOUT.api == tuple(f"127.0.0.1:{port}" for port in app1.roles["api"])
    assert LOCAL_LAYOUT.web == tuple(f"127.0.0.1:{port}" for port in app1.roles["web"])


def test_every_copy_is_an_upstream_server_with_passive_health_checks() -> None:
    text = render(NginxLayout(api=("a:1", "b:2"), web=("c:3",)))
    assert re.findall(r"server (\S+) max_fails=\d+ fail_timeout=\d+s;", text) == ["a:1", "b:2", "c:3"]


def test_an_ingestion_post_is_never_sent_to_a_second_copy() -> None:
    """A copy may have committed a post before dying: resending it would count it twice."""
    directives = [line for line in render(LOCAL_LAYOUT).splitlines()
                  if not line.strip().startswith("#")]
    assert not [line for line in directives if "non_idempotent" in line]
    for path in ("/ez", "/c", "/v"):
        [line] = [line for line in directives if f"location = {path} " in line]
        assert "proxy_pass http://aerie_api;" in line
        assert "proxy_next_upstream error;" in line


def test_a_placeholder_the_layout_lacks_fails_loudly() -> None:
    with pytest.raises(KeyError, match="nonsense"):
        render(LOCAL_LAYOUT, template="listen {{nonsense}};")


@pytest.mark.skipif(not NGINX.exists(), reason="Debian's nginx is not installed")
def test_nginx_accepts_the_checked_in_conf(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "static").symlink_to(REPO / "static")
    result = subprocess.run(
        [str(NGINX), "-t", "-p", str(tmp_path), "-c", str(REPO / "nginx.conf"),
         "-e", str(tmp_path / "var" / "error.log")],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert result.returncode == 0, result.stderr
