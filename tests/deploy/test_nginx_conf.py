"""The checked-in nginx.conf is the template rendered for the documented local layout."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from deploy.nginx import LOCAL_LAYOUT, NginxLayout, render, tls_for
from deploy.roles import TLS, RoleMapError, load_role_map, parse_role_map

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


ROLES: dict[str, object] = {"hosts": {"app1": {"address": "10.0.0.11", "roles": {"api": [8001], "web": [8000],
                                                              "graph": [8010],
                                                              "analysis": [8020]}}}}
LIVE = "/etc/letsencrypt/live/stats.example.com"


def test_without_a_certificate_everything_is_plain_http() -> None:
    text = render(LOCAL_LAYOUT)
    assert " ssl" not in text and "Strict-Transport-Security" not in text
    assert "return 308" not in text and "{{" not in text


def test_with_a_certificate_the_web_host_is_https_and_http_keeps_only_ingestion() -> None:
    tls = TLS(f"{LIVE}/fullchain.pem", f"{LIVE}/privkey.pem")
    text = render(NginxLayout(api=("a:1",), web=("b:2",), listen="0.0.0.0:80", tls=tls))
    assert f"ssl_certificate {LIVE}/fullchain.pem;" in text
    assert f"ssl_certificate_key {LIVE}/privkey.pem;" in text
    assert "listen 0.0.0.0:443 ssl default_server;" in text
    assert "return 308 https://$host$request_uri;" in text  # 443: no port in the address
    # not includeSubDomains: an API host name keeps plain HTTP
    assert 'add_header Strict-Transport-Security "max-age=31536000" always;' in text
    plain = text.split("# The web host")[0]
    assert [line.split("{")[0].strip() for line in plain.splitlines()
            if line.strip().startswith("location")] == [
        "location = /ez", "location = /c", "location = /v",
        "location ^~ /.well-known/acme-challenge/", "location /"]


def test_the_role_map_or_the_environment_names_the_certificate() -> None:
    mapped = parse_role_map({**ROLES, "tls": {"certificate": f"{LIVE}/fullchain.pem",
                                              "certificate_key": f"{LIVE}/privkey.pem"}})
    assert tls_for(mapped, {}) == TLS(f"{LIVE}/fullchain.pem", f"{LIVE}/privkey.pem")
    assert tls_for(parse_role_map(ROLES), {}) is None
    env = {"AERIE_TLS_CERTIFICATE": "/etc/ssl/a.pem", "AERIE_TLS_CERTIFICATE_KEY": "/etc/ssl/a.key"}
    assert tls_for(parse_role_map(ROLES), env) == TLS("/etc/ssl/a.pem", "/etc/ssl/a.key")
    assert tls_for(mapped, env).certificate == "/etc/ssl/a.pem"  # type: ignore[union-attr]


def test_half_a_certificate_setting_is_refused_naming_the_other_half() -> None:
    with pytest.raises(ValueError, match="AERIE_TLS_CERTIFICATE_KEY is not set"):
        tls_for(parse_role_map(ROLES), {"AERIE_TLS_CERTIFICATE": "/etc/ssl/a.pem"})
    with pytest.raises(RoleMapError, match="tls needs certificate_key"):
        parse_role_map({**ROLES, "tls": {"certificate": f"{LIVE}/fullchain.pem"}})
    with pytest.raises(RoleMapError, match="tls.cert: unknown key"):
        parse_role_map({**ROLES, "tls": {"cert": "x"}})
