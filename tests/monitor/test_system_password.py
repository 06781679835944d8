"""``aerie system password``: the operator's way into the system account."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import Engine

from aerie.accounts import credentials, password_matches
from tests.conftest import PASSWORDS


def aerie_system_password(database_url: str, system_email: str, stdin: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AERIE_DATABASE_URL": database_url, "AERIE_SYSTEM_EMAIL": system_email}
    return subprocess.run([sys.executable, "-m", "aerie", "system", "password"], input=stdin,
                          env=env, capture_output=True, text=True, timeout=120, check=False)


def test_system_account_has_no_password_until_the_operator_sets_one(
    database_url: str, engine: Engine, system_email: str
) -> None:
    with engine.connect() as conn:
        assert password_matches(credentials(conn, system_email), "", PASSWORDS) is None

    result = aerie_system_password(database_url, system_email, "correct horse\n")

    assert result.returncode == 0, result.stderr
    assert system_email in result.stdout and "Aerie health" in result.stdout
    with engine.connect() as conn:
        user = password_matches(credentials(conn, system_email), "correct horse", PASSWORDS)
        assert user is not None and user.email == system_email
        assert password_matches(credentials(conn, system_email), "wrong", PASSWORDS) is None


def test_an_empty_password_changes_nothing(
    database_url: str, engine: Engine, system_email: str
) -> None:
    result = aerie_system_password(database_url, system_email, "\n")
    assert result.returncode == 1
    assert "empty password" in result.stderr


def test_a_password_sign_up_would_refuse_changes_nothing(
    database_url: str, engine: Engine, system_email: str
) -> None:
    result = aerie_system_password(database_url, system_email, "short\n")
    assert result.returncode == 1
    assert result.stderr == "aerie: choose a password of at least 8 characters\n"
    with engine.connect() as conn:
        assert password_matches(credentials(conn, system_email), "short", PASSWORDS) is None
