"""The migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pydantic import ValidationError
from sqlalchemy import Engine

from aerie.errors import AerieError
from aerie.migrate import check_server, upgrade
from aerie.schema import metadata
from aerie.settings import Settings


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_upgrade_is_idempotent(engine: Engine) -> None:
    upgrade(engine)
    upgrade(engine)
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() is not None


def test_settings_reject_an_unknown_database_with_a_clear_message() -> None:
    with pytest.raises(ValidationError, match="AERIE_DATABASE_URL must start with"):
        Settings(database_url="postgresql://localhost/aerie")


def test_settings_come_from_aerie_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AERIE_API_PORT", "9101")
    monkeypatch.setenv("AERIE_VERBOSE_ANSWERS", "false")
    settings = Settings()
    assert settings.api_port == 9101
    assert settings.verbose_answers is False


@pytest.mark.parametrize(("dialect", "version", "mariadb", "refused"), [
    ("mysql", (10, 5, 19, "MariaDB"), True, "MariaDB 10.5.19 is too old"),
    ("mysql", (10, 6, 0), True, None),
    ("mysql", (10, 11, 19), True, None),
    ("mysql", (8, 0, 3), False, "MySQL 8.0.3 is too old"),
    ("mysql", (8, 0, 36), False, None),
    ("sqlite", (3, 31, 1), False, None),
])
def test_a_server_without_json_table_is_refused_saying_what_to_install(
    dialect: str, version: tuple[int | str, ...], mariadb: bool, refused: str | None
) -> None:
    """The group commit reads its rows with JSON_TABLE: on an older server every commit of
    more than one row would fail, so `aerie db upgrade` refuses it up front."""
    if refused is None:
        check_server(dialect, version, mariadb)
        return
    with pytest.raises(AerieError, match=refused) as caught:
        check_server(dialect, version, mariadb)
    assert "or newer" in caught.value.message
