"""The migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pydantic import ValidationError
from sqlalchemy import Engine

from aerie.migrate import upgrade
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
