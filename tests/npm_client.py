"""StatHat's own npm module (``stathat`` 0.0.8) under node, as a fixture.

The module is installed once per test session into a temp dir, from the npm
registry (CI installs Debian's nodejs and npm in ``.ci/run``); without node or npm
on this machine its tests are skipped, saying so. ``tests/stathat_npm.js`` runs it
unchanged, pointed at a test's server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

VERSION = "0.0.8"
DRIVER = Path(__file__).resolve().parent / "stathat_npm.js"
Answers = list[list[tuple[int, str]]]
# Runs calls ([method, arg, ...]) against a URL; ``env`` adds to node's environment.
NpmClient = Callable[[str, Sequence[Sequence[Any]], dict[str, str] | None], Answers]


@pytest.fixture(scope="session")
def stathat_npm(tmp_path_factory: pytest.TempPathFactory) -> NpmClient:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are not installed (CI installs Debian's nodejs and npm)")
    where = tmp_path_factory.mktemp("npm")
    installed = subprocess.run(
        [npm, "install", "--prefix", str(where), "--no-audit", "--no-fund", "--no-save",
         f"stathat@{VERSION}"],
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert installed.returncode == 0, f"npm install stathat@{VERSION} failed: {installed.stderr}"

    def run(url: str, calls: Sequence[Sequence[Any]], env: dict[str, str] | None = None
            ) -> Answers:
        done = subprocess.run(
            [node, str(DRIVER), str(where), url, json.dumps(calls)],
            capture_output=True, text=True, timeout=30 + 6 * len(calls), check=False,
            env={**os.environ, **(env or {})},
        )
        assert done.returncode == 0, done.stderr
        return [[(status, body) for status, body in call] for call in json.loads(done.stdout)]

    return run
