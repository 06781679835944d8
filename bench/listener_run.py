"""What bench/statsd.py and bench/graphite.py share: the peers' folder, and one
``aerie statsd`` or ``aerie graphite`` process for a fresh account, stopped with SIGTERM
(whose clean stop commits what it holds)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT.parent / "shared" / "peers"  # the team's shared folder beside the checkout
EMAIL = "bench@example.com"


def aerie(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "aerie", *args], env=env, check=True,
                   stdout=subprocess.DEVNULL, cwd=ROOT)


@contextmanager
def listener(role: str, port: int, env: dict[str, str], workdir: Path
             ) -> Iterator[subprocess.Popen[bytes]]:
    """Migrate the database ``env`` names, create the account, and run ``aerie ROLE`` on
    ``port`` for it, logging to ``workdir/ROLE.log``, until the block ends."""
    aerie(env, "db", "upgrade")
    aerie(env, "user", "create", EMAIL)
    with open(workdir / f"{role}.log", "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "aerie", role, "--port", str(port), "--user", EMAIL],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            yield server
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
