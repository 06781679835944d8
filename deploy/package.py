"""Build a release: ``python -m deploy.package --out DIR`` makes ``DIR/releases/STAMP/``.

STAMP is the UTC time, ``YYYYmmddTHHMMSSZ``. A release holds everything one host
needs, and nothing outside it changes, so switching releases is moving a symlink:

    app/                 the code (aerie, api_service, ... and deploy itself), templates/,
                         static/ with a .gz beside each text file for nginx's gzip_static
    wheel/               aerie-VERSION-py3-none-any.whl, to install the dependencies
                         into a venv (the code itself runs from app/, beside templates/)
    conf/nginx.conf      rendered for every api and web copy of the role map
    conf/roles.toml      the role map; conf/aerie.env.example, to copy to conf/aerie.env
    systemd/             unit templates (aerie-ROLE@PORT.service, aerie.target)
    bin/control          runs ``python -m deploy.control ... --release`` this release
    RELEASE              version, git commit and when it was built
    var/                 pid files and logs of the copies this release runs

Prints the release's path. ``--no-wheel`` skips the wheel (pip may need the network
for its build backend).
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from deploy.nginx import layout_for, render, tls_for
from deploy.roles import DEFAULT_ROLE_MAP, RoleMapError, load_role_map

SOURCE = Path(__file__).resolve().parent.parent
PACKAGES = ("aerie", "api_service", "web_service", "app_servers", "interactor", "presenters",
            "rpc", "ops", "deploy")
DATA = ("templates", "static")
TOP_FILES = ("pyproject.toml", "README.md")
GZIP_SUFFIXES = {".css", ".js", ".svg", ".html", ".json", ".txt"}
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.gz")
CONTROL_SCRIPT = """#!/bin/sh
# Start, stop, restart or check this host's copies from this release:
#   bin/control start --host app1     (PYTHON: the interpreter with Aerie's dependencies)
here=$(cd "$(dirname "$0")/.." && pwd)
PYTHONPATH="$here/app${PYTHONPATH:+:$PYTHONPATH}" exec "${PYTHON:-python3}" \\
    -m deploy.control "$@" --release "$here" --python "${PYTHON:-python3}"
"""


class PackagingError(Exception):
    """A release could not be built; the message says why."""


def release_stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def build_release(
    out: Path, roles: Path = DEFAULT_ROLE_MAP, *, listen: str = "0.0.0.0:80",
    api_server_name: str = "api.*", wheel: bool = True, now: datetime | None = None,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """Build a release under ``out/releases/`` and return its path.

    Raises PackagingError (a bad role map or certificate setting, a release of the
    same second, a failed wheel build); a half-built release is removed. ``environ``'s
    ``AERIE_TLS_CERTIFICATE``/``_KEY`` turn on HTTPS (``deploy.nginx.tls_for``).
    """
    try:
        role_map = load_role_map(roles)
        tls = tls_for(role_map, environ or {})
    except (RoleMapError, ValueError) as exc:
        raise PackagingError(str(exc)) from exc
    release = out.resolve() / "releases" / release_stamp(now or datetime.now(UTC))
    try:
        release.mkdir(parents=True)
    except FileExistsError as exc:
        raise PackagingError(f"{release} exists already; wait a second and try again") from exc
    try:
        copy_code(release / "app")
        gzip_static(release / "app" / "static")
        if wheel:
            build_wheel(release / "wheel")
        conf = release / "conf"
        conf.mkdir()
        shutil.copyfile(roles, conf / "roles.toml")
        shutil.copyfile(SOURCE / "deploy" / "aerie.env.example", conf / "aerie.env.example")
        layout = layout_for(
            role_map, tls, listen=listen, api_server_name=api_server_name,
            app_root=str(release / "app"), state_dir=str(release / "var" / "nginx"),
            access_log=f"{release / 'var' / 'nginx'}/access.log",
            generated=f"Rendered for release {release.name} from {roles.name}.",
        )
        (conf / "nginx.conf").write_text(render(layout))
        shutil.copytree(SOURCE / "deploy" / "systemd", release / "systemd")
        write_control_script(release / "bin" / "control")
        (release / "var" / "nginx").mkdir(parents=True)
        (release / "RELEASE").write_text(describe(release.name))
    except BaseException:
        shutil.rmtree(release, ignore_errors=True)
        raise
    return release


def copy_code(app: Path) -> None:
    app.mkdir()
    for name in PACKAGES + DATA:
        shutil.copytree(SOURCE / name, app / name, ignore=IGNORE)
    for name in TOP_FILES:
        shutil.copyfile(SOURCE / name, app / name)


def gzip_static(static: Path) -> None:
    """A ``name.gz`` beside each text file, for nginx's ``gzip_static``, with the same
    modification time (nginx serves the .gz only when the two agree)."""
    for path in sorted(static.rglob("*")):
        if path.is_file() and path.suffix in GZIP_SUFFIXES:
            packed = path.with_name(path.name + ".gz")
            packed.write_bytes(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))
            shutil.copystat(path, packed)


def build_wheel(into: Path) -> Path:
    """``pip wheel --no-deps`` from a scratch copy, so no build/ or egg-info lands anywhere."""
    into.mkdir()
    with tempfile.TemporaryDirectory(prefix="aerie-wheel-") as scratch:
        tree = Path(scratch) / "src"
        tree.mkdir()
        for name in PACKAGES:
            if name != "deploy":
                shutil.copytree(SOURCE / name, tree / name, ignore=IGNORE)
        for name in TOP_FILES:
            shutil.copyfile(SOURCE / name, tree / name)
        result = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir",
             str(into), str(tree)],
            capture_output=True, text=True, check=False,
        )
    if result.returncode != 0:
        raise PackagingError(f"pip wheel failed:\n{result.stdout}{result.stderr}")
    [wheel] = into.glob("*.whl")
    return wheel


def write_control_script(path: Path) -> None:
    path.parent.mkdir()
    path.write_text(CONTROL_SCRIPT)
    path.chmod(0o755)


def describe(stamp: str) -> str:
    version = tomllib.loads((SOURCE / "pyproject.toml").read_text())["project"]["version"]
    commit = subprocess.run(
        ["git", "-C", str(SOURCE), "rev-parse", "HEAD"], capture_output=True, text=True, check=False,
    ).stdout.strip() or "unknown"
    return f"release={stamp}\nversion={version}\ncommit={commit}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.package", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="releases go to OUT/releases/")
    parser.add_argument("--roles", type=Path, default=DEFAULT_ROLE_MAP,
                        help="the role map (default deploy/roles.toml)")
    parser.add_argument("--listen", default="0.0.0.0:80", help="nginx's listen address")
    parser.add_argument("--api-server-name", default="api.*",
                        help="nginx server_name of the dedicated API host")
    parser.add_argument("--no-wheel", action="store_true", help="skip building the wheel")
    args = parser.parse_args(argv)
    try:
        release = build_release(args.out, args.roles, listen=args.listen,
                                api_server_name=args.api_server_name, wheel=not args.no_wheel,
                                environ=os.environ)
    except PackagingError as exc:
        print(f"deploy.package: {exc}", file=sys.stderr)
        return 1
    print(release)
    return 0


if __name__ == "__main__":
    sys.exit(main())
