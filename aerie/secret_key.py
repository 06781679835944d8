"""Shared secrets: from their setting, or made once and kept in a file under ``var/``.

Two secrets work this way. ``AERIE_SECRET_KEY`` signs session cookies;
``AERIE_RPC_SECRET`` signs every JSON-RPC call from the web tier and the
scheduler to the app servers (``rpc.signing``). Without the setting, the first
process writes a random secret to ``var/secret_key`` or ``var/rpc_secret``
(mode 0600) and every later one on the host reads it, so the processes of one
host agree across restarts. Processes on different hosts (or in different
containers) have different ``var/`` folders, so they must be given the setting.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from aerie.settings import Settings

KEY_FILE = Path("var/secret_key")
RPC_SECRET_FILE = Path("var/rpc_secret")


def load_secret_key(settings: Settings, path: Path = KEY_FILE) -> bytes:
    """The key that signs session cookies."""
    return load_secret(settings.secret_key, path, "AERIE_SECRET_KEY")


def load_rpc_secret(settings: Settings, path: Path = RPC_SECRET_FILE) -> bytes:
    """The secret that signs JSON-RPC calls between the services."""
    return load_secret(settings.rpc_secret, path, "AERIE_RPC_SECRET")


def load_secret(configured: str, path: Path, setting: str) -> bytes:
    """``configured`` if set, else the secret in ``path``, written there first if absent."""
    if configured:
        return configured.encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of two processes starting together, exactly one writes the secret.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_when_written(path, setting)
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_urlsafe(48))
    return path.read_bytes().strip()


def _read_when_written(path: Path, setting: str) -> bytes:
    """The secret in ``path``; waits briefly if another process has just created it."""
    for _ in range(100):
        secret = path.read_bytes().strip()
        if secret:
            return secret
        os.sched_yield()
    raise RuntimeError(f"{path} is empty; delete it or set {setting}")
