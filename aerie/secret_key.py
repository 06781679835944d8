"""The key that signs cookies: from AERIE_SECRET_KEY, or made once and kept in a file.

Without the setting, the first web process writes a random key to
``var/secret_key`` (mode 0600) and every later one on the host reads it, so
sessions survive restarts and are shared by the copies on one host. Hosts
behind one load balancer must share AERIE_SECRET_KEY.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from aerie.settings import Settings

KEY_FILE = Path("var/secret_key")


def load_secret_key(settings: Settings, path: Path = KEY_FILE) -> bytes:
    if settings.secret_key:
        return settings.secret_key.encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of two processes starting together, exactly one writes the key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_when_written(path)
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_urlsafe(48))
    return path.read_bytes().strip()


def _read_when_written(path: Path) -> bytes:
    """The key in ``path``; waits briefly if another process has just created it."""
    for _ in range(100):
        key = path.read_bytes().strip()
        if key:
            return key
        os.sched_yield()
    raise RuntimeError(f"{path} is empty; delete it or set AERIE_SECRET_KEY")
