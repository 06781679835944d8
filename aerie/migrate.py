"""Run Alembic migrations programmatically: ``aerie db upgrade`` and the tests use this."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine

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
        with _sqlite_foreign_keys_off(connection):
            command.upgrade(config, revision)
            connection.commit()


@contextmanager
def _sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """SQLite's foreign keys off while migrations run: a table rebuilt (copied, the old one
    dropped) would otherwise cascade the drop to the rows that refer to it. Checked
    after: AerieError, and the connection discarded, if a migration broke a reference."""
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.driver_connection  # autocommit (aerie.db): the pragma
    assert raw is not None                         # counts only outside a transaction
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            connection.invalidate()
            raise AerieError(f"a migration left {len(broken)} rows referring to no row, "
                             f"such as {broken[0]}; nothing else was checked")
    finally:
        if not connection.invalidated:
            raw.execute("PRAGMA foreign_keys=ON")


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
