"""Run Alembic migrations programmatically: ``aerie db upgrade`` and the tests use this."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from aerie.errors import AerieError
from aerie.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"
# Whose data a data migration treats as Aerie's own (the system account's, 0013).
DEFAULT_SYSTEM_EMAIL: str = Settings.model_fields["system_email"].default
# The oldest servers with JSON_TABLE, which the group commit reads its rows with
# (``aerie.rollups``): older ones would refuse every commit of more than one row.
OLDEST_MARIADB = (10, 6)
OLDEST_MYSQL = (8, 0, 4)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(
    engine: Engine, revision: str = "head", system_email: str = DEFAULT_SYSTEM_EMAIL
) -> None:
    """Bring the database's schema up to ``revision``; safe to run at every start.
    ``system_email`` names the system account (``Settings.system_email``)."""
    config = alembic_config(engine)
    config.attributes["system_email"] = system_email
    with engine.connect() as connection:
        check_server(engine.dialect.name, engine.dialect.server_version_info,
                     bool(getattr(engine.dialect, "is_mariadb", False)))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


def check_server(dialect: str, version: tuple[int | str, ...] | None, mariadb: bool) -> None:
    """Refuse, saying what to install, a MariaDB or MySQL server too old for Aerie."""
    if dialect != "mysql" or version is None:
        return
    oldest = OLDEST_MARIADB if mariadb else OLDEST_MYSQL
    numbers = tuple(part for part in version if isinstance(part, int))
    if numbers < oldest:
        name = "MariaDB" if mariadb else "MySQL"
        raise AerieError(
            f"{name} {'.'.join(map(str, numbers))} is too old: Aerie needs {name} "
            f"{'.'.join(map(str, oldest))} or newer (JSON_TABLE); upgrade the server"
        )


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a new migration from the schema (a developer's command)."""
    config = alembic_config(engine)
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
