"""The role map (``deploy/roles.toml``): which host runs which roles, one port per copy.

``load_role_map(path)`` reads and checks it; ``role_command`` is the one command
line a copy runs, shared by ``deploy.control``, the systemd units and
docker-compose.yml so that all three start a role the same way.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

ROLES = ("api", "web", "graph", "analysis", "scheduler")
# Roles nginx sends people and clients to; graph and analysis are reached over RPC only,
# and the scheduler by nobody (its copies share the work through a database lease).
FRONT_ROLES = ("api", "web")
# Which roles call which over RPC: a copy of the first needs a copy of each of the others
# somewhere in the map (the scheduler draws the graphs of its mail on a graph copy).
PEERS = {"web": ("graph", "analysis"), "scheduler": ("graph",)}
DEFAULT_ROLE_MAP = Path(__file__).resolve().parent / "roles.toml"


class RoleMapError(ValueError):
    """The role map makes no sense; the message says where and why."""


@dataclass(frozen=True)
class Copy:
    """One process of one role: where it listens."""

    host: str
    role: str
    address: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    @property
    def name(self) -> str:
        return f"{self.role}-{self.port}"


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    roles: dict[str, tuple[int, ...]]

    def copies(self) -> list[Copy]:
        """This host's copies, role by role in ``ROLES`` order."""
        return [
            Copy(self.name, role, self.address, port)
            for role in ROLES for port in self.roles.get(role, ())
        ]


@dataclass(frozen=True)
class TLS:
    """nginx's HTTPS: the certificate chain and key files (Let's Encrypt's ``fullchain.pem``
    and ``privkey.pem``), where it listens, and where certbot's webroot challenges go."""

    certificate: str
    certificate_key: str
    listen: str = "0.0.0.0:443"
    acme_webroot: str = "/var/www/letsencrypt"


@dataclass(frozen=True)
class RoleMap:
    hosts: dict[str, Host]
    tls: TLS | None = None

    def host(self, name: str) -> Host:
        if name not in self.hosts:
            known = ", ".join(sorted(self.hosts)) or "none"
            raise RoleMapError(f"no host {name!r} in the role map (hosts: {known})")
        return self.hosts[name]

    def copies(self, role: str) -> list[Copy]:
        """Every copy of ``role`` on every host, host by host."""
        return [copy for host in self.hosts.values() for copy in host.copies() if copy.role == role]

    def urls(self, role: str) -> str:
        """The comma-separated URLs of every copy of ``role`` (``AERIE_GRAPH_URLS`` style)."""
        return ",".join(copy.url for copy in self.copies(role))


def load_role_map(path: Path = DEFAULT_ROLE_MAP) -> RoleMap:
    """Read and check a role map; raises RoleMapError naming the problem."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RoleMapError(f"{path}: {exc}") from exc
    return parse_role_map(data, str(path))


def parse_role_map(data: dict[str, object], where: str = "role map") -> RoleMap:
    hosts_data = data.get("hosts")
    if not isinstance(hosts_data, dict) or not hosts_data:
        raise RoleMapError(f"{where}: needs at least one [hosts.NAME] table")
    hosts = {name: _host(name, table, where) for name, table in hosts_data.items()}
    for caller, peers in PEERS.items():
        for role in peers:
            if any(host.roles.get(caller) for host in hosts.values()) and not any(
                host.roles.get(role) for host in hosts.values()
            ):
                raise RoleMapError(
                    f"{where}: {caller} copies need at least one {role} copy somewhere"
                )
    return RoleMap(hosts, _tls(data.get("tls"), where))


def _tls(table: object, where: str) -> TLS | None:
    """The optional ``[tls]`` table: ``certificate`` and ``certificate_key`` are both needed."""
    if table is None:
        return None
    if not isinstance(table, dict):
        raise RoleMapError(f"{where}: tls must be a table")
    unknown = sorted(table.keys() - TLS.__dataclass_fields__.keys())
    if unknown:
        raise RoleMapError(f"{where}: tls.{unknown[0]}: unknown key (known: "
                           f"{', '.join(TLS.__dataclass_fields__)})")
    for key, value in table.items():
        if not isinstance(value, str) or not value.strip():
            raise RoleMapError(f"{where}: tls.{key} must be a non-empty string")
    missing = [key for key in ("certificate", "certificate_key") if key not in table]
    if missing:
        raise RoleMapError(f"{where}: tls needs {' and '.join(missing)} (file paths)")
    return TLS(**table)


def _host(name: str, table: object, where: str) -> Host:
    if not isinstance(table, dict):
        raise RoleMapError(f"{where}: hosts.{name} must be a table")
    address = table.get("address")
    if not isinstance(address, str) or not address:
        raise RoleMapError(f"{where}: hosts.{name}.address must be a host name or IP address")
    roles_table = table.get("roles", {})
    if not isinstance(roles_table, dict):
        raise RoleMapError(f"{where}: hosts.{name}.roles must be a table")
    roles: dict[str, tuple[int, ...]] = {}
    for role, ports in roles_table.items():
        if role not in ROLES:
            raise RoleMapError(
                f"{where}: hosts.{name}.roles.{role}: unknown role (known: {', '.join(ROLES)})"
            )
        if not isinstance(ports, list) or not all(
            isinstance(p, int) and 1 <= p <= 65535 for p in ports
        ):
            raise RoleMapError(f"{where}: hosts.{name}.roles.{role} must be a list of ports")
        roles[role] = tuple(ports)
    ports = [port for role_ports in roles.values() for port in role_ports]
    if len(ports) != len(set(ports)):
        raise RoleMapError(f"{where}: hosts.{name} uses a port twice: {sorted(ports)}")
    return Host(name, address, roles)


def role_command(role: str, bind: str, port: int) -> list[str]:
    """The ``aerie`` command line (without the interpreter) that runs one copy of ``role``."""
    if role not in ROLES:
        raise RoleMapError(f"unknown role {role!r}")
    return ["aerie", role, "--host", bind, "--port", str(port)]
