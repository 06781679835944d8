"""Render ``deploy/nginx.conf.template`` for a layout: which copies, which paths.

The checked-in ``nginx.conf`` is ``render(LOCAL_LAYOUT)`` (regenerate it with
``python -m deploy.nginx > nginx.conf``; a test checks they agree); a release
renders it from the role map; the tests render it with free ports and temp paths;
the Dockerfile's nginx image renders it with compose service names
(``python -m deploy.nginx compose``).

Placeholders are ``{{name}}``, not ``$name``, because nginx's own variables use ``$``.
Whole lines between ``{{#tls}}`` and ``{{/tls}}`` are kept only when the layout has
a certificate, those between ``{{^tls}}`` and ``{{/tls}}`` only when it has none.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from deploy.roles import TLS, Host, RoleMap, load_role_map

TEMPLATE = Path(__file__).resolve().parent / "nginx.conf.template"
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
SECTION = re.compile(
    r"^[ \t]*\{\{([#^])(\w+)\}\}\n(.*?)^[ \t]*\{\{/\2\}\}\n", re.MULTILINE | re.DOTALL
)
# The environment's certificate paths win over the role map's [tls] (docs/tls.md).
TLS_CERTIFICATE_VARIABLE = "AERIE_TLS_CERTIFICATE"
TLS_KEY_VARIABLE = "AERIE_TLS_CERTIFICATE_KEY"
# Passive health for every copy: one failure takes it out for ten seconds.
SERVER_OPTIONS = "max_fails=1 fail_timeout=10s"


@dataclass(frozen=True)
class NginxLayout:
    """Everything the template leaves open; addresses are ``host:port``.

    Relative paths are relative to nginx's prefix (``nginx -p``).
    """

    api: tuple[str, ...]
    web: tuple[str, ...]
    listen: str = "127.0.0.1:8080"
    app_root: str = "."
    state_dir: str = "var"
    api_server_name: str = "api.*"
    access_log: str = "off"
    error_log: str = ""  # empty: STATE_DIR/nginx-error.log
    mime_types: str = "/etc/nginx/mime.types"
    worker_processes: str = "auto"
    user: str = ""
    tls: TLS | None = None  # None: plain HTTP only
    generated: str = field(default="Rendered from deploy/nginx.conf.template by deploy/nginx.py.")


# The documented local layout: app1's ports from deploy/roles.toml, on 127.0.0.1
# (web on even ports from 8000, the API on odd ports from 8001).
LOCAL_LAYOUT = NginxLayout(
    api=("127.0.0.1:8001", "127.0.0.1:8003"),
    web=("127.0.0.1:8000", "127.0.0.1:8002"),
    generated="Rendered from deploy/nginx.conf.template for the local layout "
    "(python -m deploy.nginx > nginx.conf).",
)


def layout_for(role_map: RoleMap, tls: TLS | None = None, **options: str) -> NginxLayout:
    """The layout that spreads over every api and web copy of every host in ``role_map``;
    ``tls`` (from ``tls_for``) serves the web host over HTTPS."""
    return NginxLayout(
        api=tuple(f"{c.address}:{c.port}" for c in role_map.copies("api")),
        web=tuple(f"{c.address}:{c.port}" for c in role_map.copies("web")),
        tls=tls,
        **options,
    )


def tls_for(role_map: RoleMap, environ: Mapping[str, str]) -> TLS | None:
    """The role map's ``[tls]``, its paths replaced by ``AERIE_TLS_CERTIFICATE`` and
    ``AERIE_TLS_CERTIFICATE_KEY`` where set (both are needed without a ``[tls]``).
    Raises ValueError naming the variable missing."""
    certificate = environ.get(TLS_CERTIFICATE_VARIABLE, "").strip()
    key = environ.get(TLS_KEY_VARIABLE, "").strip()
    tls = role_map.tls
    if tls is None and not (certificate or key):
        return None
    if tls is None:
        if not (certificate and key):
            missing = TLS_KEY_VARIABLE if certificate else TLS_CERTIFICATE_VARIABLE
            raise ValueError(f"{missing} is not set: HTTPS needs the certificate and its key")
        return TLS(certificate, key)
    return replace(tls, certificate=certificate or tls.certificate,
                   certificate_key=key or tls.certificate_key)


def compose_service(role: str, number: int) -> str:
    """docker-compose.yml's name for copy ``number`` (from 1) of ``role``: ``api1``, ``web2``."""
    return f"{role}{number}"


def compose_layout(host: Host) -> NginxLayout:
    """docker-compose.yml's nginx: ``host``'s copies (app1 in deploy/roles.toml), each its
    own service reached by name, static files baked into the nginx image, logs to docker."""
    def servers(role: str) -> tuple[str, ...]:
        ports = host.roles.get(role, ())
        return tuple(f"{compose_service(role, n)}:{port}" for n, port in enumerate(ports, 1))

    return NginxLayout(
        api=servers("api"), web=servers("web"), listen="80", app_root="/srv/aerie",
        state_dir="/var/cache/nginx", error_log="/dev/stderr", access_log="/dev/stdout",
        user="nginx", generated="Rendered for docker-compose.yml (python -m deploy.nginx compose).",
    )


def render(layout: NginxLayout, template: str | None = None) -> str:
    """The configuration text; raises KeyError for a placeholder the layout lacks."""
    if not layout.api or not layout.web:
        raise ValueError("nginx needs at least one api copy and one web copy")
    values = {key: str(value) for key, value in asdict(layout).items() if key != "tls"}
    values.update(_tls_values(layout.tls))
    values["api_servers"] = _servers(layout.api)
    values["web_servers"] = _servers(layout.web)
    values["error_log"] = layout.error_log or f"{layout.state_dir}/nginx-error.log"
    values["user"] = f"user {layout.user};" if layout.user else "# user: whoever starts nginx"
    text = TEMPLATE.read_text() if template is None else template
    sections = {"tls": layout.tls is not None}

    def section(match: re.Match[str]) -> str:
        wanted = sections[match.group(2)] == (match.group(1) == "#")
        return match.group(3) if wanted else ""

    return PLACEHOLDER.sub(lambda match: values[match.group(1)], SECTION.sub(section, text))


def _tls_values(tls: TLS | None) -> dict[str, str]:
    if tls is None:
        return {}
    port = tls.listen.rpartition(":")[2]
    return {
        "tls_listen": tls.listen, "tls_certificate": tls.certificate,
        "tls_certificate_key": tls.certificate_key, "acme_webroot": tls.acme_webroot,
        # HTTP's redirects name the HTTPS port unless it is the default one
        "tls_port_suffix": "" if port == "443" else f":{port}",
    }


def _servers(addresses: tuple[str, ...]) -> str:
    return "\n".join(f"        server {address} {SERVER_OPTIONS};" for address in addresses)


def main(argv: list[str]) -> int:
    """``python -m deploy.nginx [local|compose]``: print the rendered configuration."""
    which = argv[0] if argv else "local"
    if which == "local":
        sys.stdout.write(render(LOCAL_LAYOUT))
    elif which == "compose":
        sys.stdout.write(render(compose_layout(load_role_map().host("app1"))))
    else:
        print("usage: python -m deploy.nginx [local|compose]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
