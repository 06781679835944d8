"""``aerie db backup PATH`` and ``aerie db restore PATH``: one file holds the whole database.

SQLite is copied through its online backup API, page by page from a consistent
snapshot, so a backup is safe while Aerie writes. MariaDB is dumped by
``mariadb-dump --single-transaction`` (one consistent read, no table locks) and
restored by the ``mariadb`` client. A backup is written beside PATH and renamed
into place only when complete, so PATH never holds half a backup.

A restore checks that PATH is an Aerie backup of the same kind of database, will
not overwrite a database holding accounts unless told to (``replace``), creates
a MariaDB database that does not exist yet (and empties one that does, so tables a
newer Aerie added do not survive), and migrates what it restored to the
current schema.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy import func, inspect, select
from sqlalchemy.engine import URL, make_url

from aerie.db import make_engine
from aerie.errors import AerieError, BadRequest, Conflict
from aerie.migrate import upgrade
from aerie.schema import users
from aerie.settings import Settings

SQLITE_MAGIC = b"SQLite format 3\x00"
DUMP_DONE = b"-- Dump completed"
DUMP_TABLE = b"CREATE TABLE `alembic_version`"


class BackupFailed(AerieError):
    """The dump or restore tool failed, or is missing; its own words are in the message."""


@dataclass(frozen=True)
class Outcome:
    """What a backup or restore did, for the command to print."""

    kind: str  # "SQLite" or "MariaDB"
    path: Path
    size: int  # bytes of the backup file


def backup(settings: Settings, path: Path) -> Outcome:
    """Write a consistent copy of the database named by ``settings`` to ``path``."""
    url = make_url(settings.database_url)
    with _beside(path) as partial:
        if url.get_backend_name() == "sqlite":
            _sqlite_backup(_sqlite_file(url), partial)
            kind = "SQLite"
        else:
            _mariadb_dump(url, partial)
            kind = "MariaDB"
    return Outcome(kind, path, path.stat().st_size)


def restore(settings: Settings, path: Path, *, replace: bool = False) -> Outcome:
    """Replace the database named by ``settings`` with the backup at ``path``.

    Raises BadRequest when ``path`` is not an Aerie backup for this kind of database,
    Conflict when the database holds accounts and ``replace`` is False.
    """
    url = make_url(settings.database_url)
    if not path.is_file():
        raise BadRequest(f"no backup file at {path}")
    sqlite = url.get_backend_name() == "sqlite"
    _check_backup(path, sqlite)
    if not sqlite:
        _create_database(url, empty=False)
    _refuse_to_overwrite(settings, replace)
    if sqlite:
        _sqlite_restore(path, _sqlite_file(url))
    else:
        _create_database(url, empty=True)
        with path.open("rb") as dump:
            _tool("mariadb", url, [str(url.database)], stdin=dump)
    engine = make_engine(settings)
    try:
        upgrade(engine, system_email=settings.system_email)  # a backup from an older Aerie gets today's schema
    finally:
        engine.dispose()
    return Outcome("SQLite" if sqlite else "MariaDB", path, path.stat().st_size)


# -- SQLite ---------------------------------------------------------------------------------


def _sqlite_file(url: URL) -> Path:
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise BadRequest("back up a SQLite database named by its path, sqlite:///PATH")
    return Path(url.database)


def _sqlite_backup(source: Path, target: Path) -> None:
    if not source.is_file():
        raise BadRequest(f"no SQLite database at {source}")
    with _sqlite(source) as src, _sqlite(target) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it


def _sqlite_restore(backup_file: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # Through the backup API too: processes holding the database open see the new
    # pages at their next transaction instead of a file swapped under them.
    with _sqlite(backup_file) as src, _sqlite(target) as dst:
        src.backup(dst)


@contextmanager
def _sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path, timeout=30)
    try:
        yield conn
    finally:
        conn.close()


# -- MariaDB --------------------------------------------------------------------------------


def _mariadb_dump(url: URL, target: Path) -> None:
    with target.open("wb") as out:
        _tool("mariadb-dump", url, ["--single-transaction", "--quick", "--hex-blob",
                                    "--skip-lock-tables", str(url.database)], stdout=out)
    if not _last_line(target).startswith(DUMP_DONE):
        raise BackupFailed(f"mariadb-dump stopped before the end of {url.database}")


def _create_database(url: URL, *, empty: bool) -> None:
    """Create the database ``url`` names if it is missing; with ``empty``, drop it first.
    A dump drops and recreates only its own tables, so a table a later migration added
    would survive the restore and make upgrade() fail with "table already exists"."""
    name = f"`{url.database}`"
    drop = f"DROP DATABASE IF EXISTS {name}; " if empty else ""
    _tool("mariadb", url, ["-e", f"{drop}CREATE DATABASE IF NOT EXISTS {name} "
                           "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"])


def _tool(tool: str, url: URL, args: list[str], *, stdin: IO[bytes] | None = None,
          stdout: IO[bytes] | None = None) -> None:
    """Run a MariaDB client tool against the server in ``url``; BackupFailed with its own
    words when it fails. The password goes in a private defaults file, never on the
    command line where ``ps`` would show it."""
    if shutil.which(tool) is None:
        raise BackupFailed(f"{tool} not found; install the MariaDB client "
                           "(apt-get install mariadb-client)")
    with tempfile.TemporaryDirectory(prefix="aerie-backup-") as folder:
        defaults = Path(folder) / "client.cnf"
        options = {"host": url.host or "127.0.0.1", "port": url.port or 3306,
                   "user": url.username or "root", "password": url.password or ""}
        defaults.touch(mode=0o600)
        defaults.write_text("[client]\n" + "".join(f"{k}={v}\n" for k, v in options.items()))
        done = subprocess.run(
            [tool, f"--defaults-extra-file={defaults}", "--default-character-set=utf8mb4",
             *args], stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, check=False)
    if done.returncode != 0:
        words = done.stderr.decode(errors="replace").strip()
        raise BackupFailed(f"{tool} failed: {words or f'exit {done.returncode}'}")


# -- checks ---------------------------------------------------------------------------------


def _check_backup(path: Path, sqlite: bool) -> None:
    """BadRequest unless ``path`` is a complete Aerie backup for this kind of database."""
    with path.open("rb") as f:
        head = f.read(len(SQLITE_MAGIC))
    if head == SQLITE_MAGIC:
        if not sqlite:
            raise BadRequest(f"{path} is a SQLite backup; AERIE_DATABASE_URL names MariaDB")
        with _sqlite(path) as conn:
            try:
                conn.execute("SELECT version_num FROM alembic_version").fetchall()
            except sqlite3.DatabaseError as exc:
                raise BadRequest(f"{path} is a SQLite file but not an Aerie backup") from exc
        return
    if sqlite:
        raise BadRequest(f"{path} is not a SQLite backup; AERIE_DATABASE_URL names SQLite")
    if not _contains(path, DUMP_TABLE):
        raise BadRequest(f"{path} is not an Aerie backup from `aerie db backup`")
    if not _last_line(path).startswith(DUMP_DONE):
        raise BadRequest(f"{path} is cut short (no '-- Dump completed' at its end)")


def _refuse_to_overwrite(settings: Settings, replace: bool) -> None:
    if replace:
        return
    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(users.name):
                return
            accounts = conn.execute(select(func.count()).select_from(users)).scalar_one()
    finally:
        engine.dispose()
    if accounts:
        raise Conflict(f"the database already holds accounts ({accounts}); add --replace to "
                       "overwrite them with the backup")


def _last_line(path: Path) -> bytes:
    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - 512))
        lines = f.read().rstrip().splitlines()
    return lines[-1] if lines else b""


def _contains(path: Path, needle: bytes, chunk: int = 1 << 20) -> bool:
    """Whether the file holds ``needle``, read a chunk at a time (dumps can be large)."""
    carry = b""
    with path.open("rb") as f:
        while block := f.read(chunk):
            if needle in carry + block:
                return True
            carry = block[-len(needle):]
    return False


@contextmanager
def _beside(path: Path) -> Iterator[Path]:
    """A scratch file next to ``path``, renamed to it on success and removed on failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
