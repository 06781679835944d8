"""Stats: creation, lookup, renaming, the trash and purging. The SQL for stats lives here.

A deleted stat goes to the trash (``deleted_at`` set): it disappears from every
list and page but keeps its name and keys, so points still posted to it are
kept, and its owner can restore it for ``TRASH_SECONDS``. Then it is purged
with all its data, and the name is free again.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, Select, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from aerie.driver_sql import placeholder, row_groups, run_in_row_groups
from aerie.errors import BadRequest, Conflict, NotAllowed, NotFound
from aerie.keys import public_stat_id, random_key
from aerie.schema import COUNTER, ROLLUPS, VALUE, stat_tags, stats, users
from aerie.text_rules import check_text

MAX_NAME_LENGTH = 255
TRASH_SECONDS = 48 * 3600
# New stats per transaction when a request creates many: SQLite has one write
# lock for the whole file, and a request creating 1,000 stats in one transaction
# held it for seconds while every other account's commit waited. 20 rather than
# 50 cut a quiet account's p99 during a flood by about 5x (bench/fairness.py).
CREATE_CHUNK = 20


@dataclass(frozen=True)
class Stat:
    id: int
    public_id: str
    user_id: int
    name: str
    kind: str
    classic_key: str
    unit: str | None
    public: bool
    created_at: int
    data_received_at: int | None
    deleted_at: int | None = None
    description: str = ""  # what it measures, in the owner's words

    @property
    def counter(self) -> bool:
        return self.kind == COUNTER


STAT_COLUMNS = (
    stats.c.id, stats.c.public_id, stats.c.user_id, stats.c.name, stats.c.kind,
    stats.c.classic_key, stats.c.unit, stats.c.public,
    stats.c.created_at, stats.c.data_received_at, stats.c.deleted_at, stats.c.description,
)


def stat_from_row(row: object) -> Stat:
    m = row._mapping  # type: ignore[attr-defined]
    return Stat(
        m["id"], m["public_id"], m["user_id"], m["name"], m["kind"], m["classic_key"], m["unit"],
        bool(m["public"]), m["created_at"], m["data_received_at"], m["deleted_at"],
        m["description"] or "",
    )


def check_name(name: str) -> str:
    """Return the name if a stat may carry it; raise BadRequest saying what to fix."""
    check_text("stat name", name)
    if not name or not name.strip():
        raise BadRequest("stat name is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise BadRequest(
            f"stat name is {len(name)} characters; the limit is {MAX_NAME_LENGTH}"
        )
    if "~" in name:
        raise BadRequest(f"stat name {name!r} contains '~', which only fan-out may use")
    return name


def check_kind(kind: str) -> str:
    if kind not in (COUNTER, VALUE):
        raise BadRequest(f"kind must be {COUNTER!r} or {VALUE!r}, not {kind!r}")
    return kind


def check_point_kind(stat: Stat, kind: str) -> None:
    """Raise BadRequest, saying what to send, if a point of ``kind`` does not fit the stat."""
    if kind == stat.kind:
        return
    if stat.kind == COUNTER:
        raise BadRequest(f"stat {stat.name!r} is a counter: send count (to /c or /ez), not value")
    raise BadRequest(f"stat {stat.name!r} is a value stat: send value (to /v or /ez), not count")


def create_stat(conn: Connection, user_id: int, name: str, kind: str, now: int) -> Stat:
    """Create a stat; raises Conflict if the user already has one by that name."""
    check_name(name)
    check_kind(kind)
    for _attempt in range(5):
        stat = Stat(
            id=0, public_id=public_stat_id(), user_id=user_id, name=name, kind=kind,
            classic_key=random_key(), unit=None, public=False,
            created_at=now, data_received_at=None,
        )
        values = {k: v for k, v in vars(stat).items() if k != "id"}
        try:
            with conn.begin_nested():
                result = conn.execute(insert(stats).values(**values))
        except IntegrityError:
            if stat_by_name(conn, user_id, name) is not None:
                raise Conflict(f"you already have a stat named {name!r}") from None
            continue  # a random id collided; draw again
        return replace(stat, id=result.inserted_primary_key[0])  # type: ignore[index]
    raise Conflict("could not draw a unique stat id; try again")


def create_stats(conn: Connection, user_id: int, kinds: dict[str, str], now: int
                 ) -> dict[str, Stat]:
    """Create stats none of which exists yet, in one INSERT, and read them back by name.

    The API creates a tilde fan-out's new names a chunk at a time: one at a time, a
    chunk of 20 took some 85 statements (a savepoint and an INSERT each), and on SQLite
    every one of them let the interpreter lock go and waited to take it back while
    holding the one writer other accounts' commits wait for. Raises IntegrityError,
    having written nothing, if a name was taken meanwhile (another API copy) or a
    random key collided: then create them one at a time with ``create_stat``.
    """
    if not kinds:
        return {}
    rows = []
    for name, kind in kinds.items():
        check_name(name)
        check_kind(kind)
        rows.append({"public_id": public_stat_id(), "user_id": user_id, "name": name,
                     "kind": kind, "classic_key": random_key(), "unit": None, "public": False,
                     "created_at": now, "data_received_at": None})
    with conn.begin_nested():
        conn.execute(insert(stats).values(rows))
    return stats_by_names(conn, user_id, kinds)


def count_stats(conn: Connection, user_id: int) -> int:
    """How many stats the user has, the trash included (trashed stats keep their rows)."""
    query = select(func.count()).select_from(stats).where(stats.c.user_id == user_id)
    return int(conn.execute(query).scalar_one())


def check_room_for_stats(conn: Connection, user_id: int, adding: int, limit: int) -> None:
    """Raise NotAllowed if ``adding`` new stats would take the user past ``limit`` (0: none).

    Counted in the caller's transaction: on SQLite (BEGIN IMMEDIATE) creators take
    turns, so the limit holds exactly; on MySQL two concurrent creators may each
    pass it by up to what they add.
    """
    if not limit or not adding:
        return
    have = count_stats(conn, user_id)
    if have + adding > limit:
        raise NotAllowed(
            f"this account has {have} stats (the trash included) and the limit is {limit} "
            f"per account, so {adding} more cannot be created; "
            "points for existing stats are still recorded, and a deleted stat stops counting "
            f"when it leaves the trash ({TRASH_SECONDS // 3600} hours after deletion)"
        )


def stat_by_name(conn: Connection, user_id: int, name: str) -> Stat | None:
    row = conn.execute(
        select(*STAT_COLUMNS).where(stats.c.user_id == user_id, stats.c.name == name)
    ).first()
    return stat_from_row(row) if row else None


def stat_by_public_id(
    conn: Connection, user_id: int, public_id: str, *, in_trash: bool = False
) -> Stat | None:
    """The user's live stat with that id (or, with ``in_trash``, their trashed one).

    Another user's stat is None, exactly as if it did not exist.
    """
    row = conn.execute(
        select(*STAT_COLUMNS).where(
            stats.c.user_id == user_id,
            stats.c.public_id == public_id,
            stats.c.deleted_at.is_not(None) if in_trash else stats.c.deleted_at.is_(None),
        )
    ).first()
    return stat_from_row(row) if row else None


def stat_by_id(conn: Connection, stat_id: int) -> Stat:
    """A stat by its row id, for internal work (the scheduler); never for a request's id."""
    return stat_from_row(conn.execute(select(*STAT_COLUMNS).where(stats.c.id == stat_id)).one())


def live_stats_by_ids(conn: Connection, user_id: int, stat_ids: Iterable[int]) -> list[Stat]:
    """The user's live stats among these row ids, by name."""
    rows = conn.execute(select(*STAT_COLUMNS).where(
        stats.c.user_id == user_id, stats.c.id.in_(list(stat_ids)), stats.c.deleted_at.is_(None))
        .order_by(stats.c.name, stats.c.id))
    return [stat_from_row(r) for r in rows]


def live_stats_by_public_ids(
    conn: Connection, user_id: int, public_ids: list[str]
) -> list[Stat]:
    """The user's live stats among these public ids, in the order given (unknown ids and
    stats in the trash left out)."""
    rows = conn.execute(select(*STAT_COLUMNS).where(
        stats.c.user_id == user_id, stats.c.public_id.in_(public_ids),
        stats.c.deleted_at.is_(None)))
    found = {s.public_id: s for s in map(stat_from_row, rows)}
    return [found[p] for p in public_ids if p in found]


def owned_stat(conn: Connection, user_id: int, public_id: str, *, in_trash: bool = False) -> Stat:
    """The user's stat with that id, or NotFound: the one rule every route keeps, so that
    another user's stat answers exactly as a missing one does."""
    stat = stat_by_public_id(conn, user_id, public_id, in_trash=in_trash)
    if stat is None:
        raise NotFound(f"no stat with id {public_id!r}{' in the trash' if in_trash else ''}")
    return stat


def stats_of_user(
    conn: Connection, user_id: int, offset: int = 0, limit: int = 10_000, search: str = "",
    tag: str = "", recent_first: bool = False,
) -> list[Stat]:
    """The user's live stats by name (or, ``recent_first``, newest data first); ``search``
    keeps names containing it (any case), ``tag`` those carrying that tag."""
    query = live_stats(user_id, search, tag).with_only_columns(*STAT_COLUMNS)
    order = ((stats.c.data_received_at.is_(None), stats.c.data_received_at.desc())
             if recent_first else ())
    rows = conn.execute(query.order_by(*order, stats.c.name, stats.c.id)
                        .offset(offset).limit(limit))
    return [stat_from_row(r) for r in rows]


def count_stats_of_user(conn: Connection, user_id: int, search: str = "", tag: str = "") -> int:
    """How many live stats ``stats_of_user`` would list with no limit."""
    query = live_stats(user_id, search, tag).with_only_columns(func.count())
    return int(conn.execute(query).scalar_one())


def live_stats(user_id: int, search: str = "", tag: str = "") -> Select[tuple[int]]:
    """The ids of the user's live stats whose names contain ``search`` and that carry ``tag``."""
    query = select(stats.c.id).where(stats.c.user_id == user_id, stats.c.deleted_at.is_(None))
    if search:
        query = query.where(func.lower(stats.c.name).like(_contains(search), escape="\\"))
    if tag:
        query = query.where(stats.c.id.in_(
            select(stat_tags.c.stat_id).where(stat_tags.c.tag == tag)))
    return query


def _contains(text: str) -> str:
    """A LIKE pattern matching names that contain ``text`` literally (``%`` and ``_`` too)."""
    for special in ("\\", "%", "_"):
        text = text.replace(special, "\\" + special)
    return f"%{text.lower()}%"


def trashed_stats_of_user(conn: Connection, user_id: int) -> list[Stat]:
    """The user's stats in the trash, most recently deleted first."""
    rows = conn.execute(
        select(*STAT_COLUMNS)
        .where(stats.c.user_id == user_id, stats.c.deleted_at.is_not(None))
        .order_by(stats.c.deleted_at.desc(), stats.c.id)
    )
    return [stat_from_row(r) for r in rows]


def rename_stat(conn: Connection, stat: Stat, name: str) -> Stat:
    """Give the stat a new name; raises Conflict if the owner has one by that name."""
    check_name(name)
    if name == stat.name:
        return stat
    try:
        with conn.begin_nested():
            conn.execute(update(stats).where(stats.c.id == stat.id).values(name=name))
    except IntegrityError:
        raise Conflict(f"you already have a stat named {name!r}") from None
    return replace(stat, name=name)


def trash_stat(conn: Connection, stat: Stat, now: int) -> Stat:
    conn.execute(update(stats).where(stats.c.id == stat.id).values(deleted_at=now))
    return replace(stat, deleted_at=now)


def restore_stat(conn: Connection, stat: Stat) -> Stat:
    conn.execute(update(stats).where(stats.c.id == stat.id).values(deleted_at=None))
    return replace(stat, deleted_at=None)


def purge_trash(conn: Connection, now: int) -> int:
    """Delete, with their data, the stats trashed more than ``TRASH_SECONDS`` ago."""
    expired = conn.execute(
        select(*STAT_COLUMNS).where(stats.c.deleted_at < now - TRASH_SECONDS)
    ).fetchall()
    for row in expired:
        delete_stat(conn, stat_from_row(row))
    return len(expired)


def delete_stat(conn: Connection, stat: Stat) -> None:
    """Delete a stat and all its data, in the caller's transaction."""
    for _resolution, table in ROLLUPS:
        conn.execute(delete(table).where(table.c.stat_id == stat.id))
    conn.execute(delete(stats).where(stats.c.id == stat.id))


def mark_data_received(conn: Connection, received: Iterable[tuple[int, int]]) -> None:
    """Set ``data_received_at`` for (stat_id, unix time) pairs, in stat id order: a few
    hundred stats a statement (``run_in_row_groups`` says why not one row at a time)."""
    rows = sorted(received)
    if rows:
        run_in_row_groups(conn, functools.partial(_marks_sql, conn.dialect.name), rows,
                          _marks_params)


@functools.cache
def _marks_sql(dialect_name: str, rows: int) -> str:
    mark = placeholder(dialect_name)
    whens = " ".join([f"WHEN {mark} THEN {mark}"] * rows)
    ids = ", ".join([mark] * rows)
    return f"UPDATE {stats.name} SET data_received_at = CASE id {whens} END WHERE id IN ({ids})"


def _marks_params(rows: Sequence[Sequence[Any]]) -> tuple[Any, ...]:
    return (*(value for row in rows for value in row), *(row[0] for row in rows))


def stats_by_names(conn: Connection, user_id: int, names: Iterable[str]) -> dict[str, Stat]:
    """The user's stats among ``names``, by name (absent names are missing)."""
    wanted = sorted(set(names))
    found: dict[str, Stat] = {}
    for i in range(0, len(wanted), 500):  # keep IN lists a sane size
        rows = conn.execute(
            select(*STAT_COLUMNS).where(stats.c.user_id == user_id, stats.c.name.in_(wanted[i : i + 500]))
        )
        for row in rows:
            stat = stat_from_row(row)
            found[stat.name] = stat
    return found


def stats_gone(conn: Connection, looked_up: Mapping[int, str]) -> set[int]:
    """The stats of ``looked_up`` (id -> public id, as a key cache found them) that are
    no longer what was found: deleted, or their id taken since by a new stat (as SQLite
    did before migration 0014, and a database moved or restored might). A post checked
    against a stale cache entry must write into neither."""
    ids = sorted(looked_up)
    found: dict[int, str] = {}
    for group in row_groups(ids):
        rows = conn.exec_driver_sql(_public_ids_sql(conn.dialect.name, len(group)), tuple(group))
        found.update((sid, public_id) for sid, public_id in rows)
    return {sid for sid, public_id in looked_up.items() if found.get(sid) != public_id}


@functools.cache
def _public_ids_sql(dialect_name: str, rows: int) -> str:
    ids = ", ".join([placeholder(dialect_name)] * rows)
    return f"SELECT id, public_id FROM {stats.name} WHERE id IN ({ids})"


def classic_stat(conn: Connection, key: str) -> tuple[Stat, str] | None:
    """The stat with this classic key and its owner's user key, for checking a ``ukey``."""
    row = conn.execute(
        select(*STAT_COLUMNS, users.c.ukey)
        .join(users, users.c.id == stats.c.user_id)
        .where(stats.c.classic_key == key)
    ).first()
    return (stat_from_row(row), row._mapping["ukey"]) if row else None
