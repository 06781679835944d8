"""docker-compose.yml has the production shape of the role map (no Docker engine needed).

Host app1 of deploy/roles.toml, one compose service per copy (``api1``, ``api2``...,
``scheduler1``), each running the command deploy.control runs, bound to its own name
(its address on compose's private network), with a health check on its own port; nginx is built from the same template (Dockerfile, target nginx).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.nginx import compose_layout, compose_service, render
from deploy.roles import ROLES, load_role_map, role_command

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    found: dict[str, Any] = compose["services"]
    return found


def copies() -> list[tuple[str, str, int]]:
    """(service name, role, port) for every copy of host app1."""
    app1 = load_role_map().host("app1")
    return [
        (compose_service(role, n), role, port)
        for role in ROLES for n, port in enumerate(app1.roles.get(role, ()), 1)
    ]


def test_every_copy_of_the_role_map_is_a_service_and_nothing_else_is(
    services: dict[str, Any],
) -> None:
    expected = {name for name, _, _ in copies()} | {"mariadb", "migrate", "nginx"}
    assert set(services) == expected
    assert len([name for name in services if name.startswith("api")]) == 2
    assert [name for name in services if name.startswith("scheduler")] == ["scheduler1"]


@pytest.mark.parametrize("name, role, port", copies())
def test_each_copy_runs_its_role_on_its_private_address_with_a_health_check_there(
    services: dict[str, Any], name: str, role: str, port: int
) -> None:
    service = services[name]
    assert service["command"] == role_command(role, name, port)
    [url] = re.findall(r"http://[^']+", " ".join(service["healthcheck"]["test"]))
    assert url == f"http://{name}:{port}/healthz"
    assert "ports" not in service
    assert service["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert service["environment"]["AERIE_DATABASE_URL"].startswith("mysql+pymysql://")


def test_web_copies_are_pointed_at_every_graph_and_analysis_copy(services: dict[str, Any]) -> None:
    env = services["web1"]["environment"]
    for role, setting in (("graph", "AERIE_GRAPH_URLS"), ("analysis", "AERIE_ANALYSIS_URLS")):
        urls = [f"http://{name}:{port}" for name, r, port in copies() if r == role]
        assert env[setting].split(",") == urls


def test_the_scheduler_draws_on_every_graph_copy_and_nothing_calls_it(
    services: dict[str, Any],
) -> None:
    graphs = [f"http://{name}:{port}" for name, role, port in copies() if role == "graph"]
    for name, role, _ in copies():
        if role == "scheduler":
            assert services[name]["environment"]["AERIE_GRAPH_URLS"].split(",") == graphs
    # Only `aerie up` reads AERIE_SCHEDULER_URLS (which copies to start); compose says that.
    assert not any("AERIE_SCHEDULER_URLS" in service.get("environment", {})
                   for service in services.values())


def test_every_copy_signs_and_checks_rpc_calls_with_one_required_secret(
    services: dict[str, Any],
) -> None:
    """Each container has its own var/, so a generated secret would differ per copy."""
    secrets = {services[name]["environment"]["AERIE_RPC_SECRET"] for name, _, _ in copies()}
    assert len(secrets) == 1
    assert secrets.pop().startswith("${AERIE_RPC_SECRET:?")


def test_every_copy_has_the_same_mail_settings(services: dict[str, Any]) -> None:
    """The scheduler sends; the web copies show /dev/mail only while no relay is set."""
    from aerie.settings import Settings

    names = {f"AERIE_{name.upper()}" for name in Settings.model_fields
             if name.startswith("smtp_") and not name.endswith("_seconds")}  # timings have defaults
    names.add("AERIE_PUBLIC_WEB_URL")
    mail = [{key: service["environment"][key] for key in names}
            for name, _, _ in copies() for service in [services[name]]]
    assert all(settings == mail[0] for settings in mail)
    assert mail[0]["AERIE_SMTP_HOST"] == "${AERIE_SMTP_HOST:-}", "development mode unless set"


def test_migrations_run_once_after_mariadb_is_healthy(services: dict[str, Any]) -> None:
    migrate = services["migrate"]
    assert migrate["command"] == ["aerie", "db", "upgrade"]
    assert migrate["depends_on"] == {"mariadb": {"condition": "service_healthy"}}
    assert "healthcheck" in services["mariadb"]


def test_nginx_is_the_only_published_port_and_waits_for_healthy_copies(
    services: dict[str, Any],
) -> None:
    assert [name for name, service in services.items() if "ports" in service] == ["nginx"]
    front = {name for name, role, _ in copies() if role in ("api", "web")}
    assert set(services["nginx"]["depends_on"]) == front
    assert services["nginx"]["build"]["target"] == "nginx"


def test_the_nginx_image_renders_the_template_for_these_services() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "python -m deploy.nginx compose > /app/nginx.compose.conf" in dockerfile
    text = render(compose_layout(load_role_map().host("app1")))
    servers = re.findall(r"server (\S+:\d+) max_fails", text)
    assert servers == [f"{name}:{port}" for name, role, port in copies() if role == "api"] + [
        f"{name}:{port}" for name, role, port in copies() if role == "web"
    ]
