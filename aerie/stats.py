"""Stats: creation, lookup and deletion. The SQL for stats lives here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from aerie.errors import BadRequest, Conflict
from aerie.keys import public_stat_id, random_key
from aerie.schema import COUNTER, ROLLUPS, VALUE, stats, users

MAX_NAME_LENGTH = 255


@dataclass(frozen=True)
class Stat:
    id: int
    public_id: str
    user_id: int
    name: str
    kind: str
    classic_key: str
    embed_key: str
    unit: str | None
    public: bool
    created_at: int
    data_received_at: int | None

    @property
    def counter(self) -> bool:
        return self.kind == COUNTER


_COLUMNS = (
    stats.c.id, stats.c.public_id, stats.c.user_id, stats.c.name, stats.c.kind,
    stats.c.classic_key, stats.c.embed_key, stats.c.unit, stats.c.public,
    stats.c.created_at, stats.c.data_received_at,
)


def _stat(row: object) -> Stat:
    m = row._mapping  # type: ignore[attr-defined]
    return Stat(
        m["id"], m["public_id"], m["user_id"], m["name"], m["kind"], m["classic_key"],
        m["embed_key"], m["unit"], bool(m["public"]), m["created_at"], m["data_received_at"],
    )


def check_name(name: str) -> str:
    """Return the name if a stat may carry it; raise BadRequest saying what to fix."""
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
            classic_key=random_key(), embed_key=random_key(), unit=None, public=False,
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


def stat_by_name(conn: Connection, user_id: int, name: str) -> Stat | None:
    row = conn.execute(
        select(*_COLUMNS).where(stats.c.user_id == user_id, stats.c.name == name)
    ).first()
    return _stat(row) if row else None


def stat_by_public_id(conn: Connection, user_id: int, public_id: str) -> Stat | None:
    """The user's stat with that id; another user's stat is None, as if it did not exist."""
    row = conn.execute(
        select(*_COLUMNS).where(stats.c.user_id == user_id, stats.c.public_id == public_id)
    ).first()
    return _stat(row) if row else None


def stats_of_user(conn: Connection, user_id: int, offset: int = 0, limit: int = 10_000) -> list[Stat]:
    rows = conn.execute(
        select(*_COLUMNS)
        .where(stats.c.user_id == user_id)
        .order_by(stats.c.name, stats.c.id)
        .offset(offset)
        .limit(limit)
    )
    return [_stat(r) for r in rows]


def delete_stat(conn: Connection, stat: Stat) -> None:
    """Delete a stat and all its data, in the caller's transaction."""
    for _resolution, table in ROLLUPS:
        conn.execute(delete(table).where(table.c.stat_id == stat.id))
    conn.execute(delete(stats).where(stats.c.id == stat.id))


def mark_data_received(conn: Connection, received: Iterable[tuple[int, int]]) -> None:
    """Set ``data_received_at`` for (stat_id, unix time) pairs, in stat id order."""
    rows = [{"sid": sid, "at": at} for sid, at in sorted(received)]
    if rows:
        conn.execute(
            update(stats).where(stats.c.id == bindparam("sid")).values(data_received_at=bindparam("at")),
            rows,
        )


def stats_by_names(conn: Connection, user_id: int, names: Iterable[str]) -> dict[str, Stat]:
    """The user's stats among ``names``, by name (absent names are missing)."""
    wanted = sorted(set(names))
    found: dict[str, Stat] = {}
    for i in range(0, len(wanted), 500):  # keep IN lists a sane size
        rows = conn.execute(
            select(*_COLUMNS).where(stats.c.user_id == user_id, stats.c.name.in_(wanted[i : i + 500]))
        )
        for row in rows:
            stat = _stat(row)
            found[stat.name] = stat
    return found


def classic_stat(conn: Connection, key: str) -> tuple[Stat, str] | None:
    """The stat with this classic key and its owner's user key, for checking a ``ukey``."""
    row = conn.execute(
        select(*_COLUMNS, users.c.ukey)
        .join(users, users.c.id == stats.c.user_id)
        .where(stats.c.classic_key == key)
    ).first()
    return (_stat(row), row._mapping["ukey"]) if row else None
