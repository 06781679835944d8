"""Creating, renaming, describing (unit, description, tags), trashing and restoring stats,
the trash page, and a trashed stat asked for at its old address."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from aerie import stats
from aerie.accounts import User
from aerie.db import reading
from aerie.errors import BadRequest
from aerie.stat_details import parse_tags, save_details, tags_by_stat
from aerie.stats import TRASH_SECONDS, Stat
from interactor.base import Services, in_transaction, off_loop


@dataclass(frozen=True)
class TrashPage:
    stats: list[Stat]
    purge_after: int  # seconds a stat stays restorable
    now: int


async def create_stat(svc: Services, user: User, name: str, kind: str) -> Stat:
    """A classic stat (counter or value); Conflict if the user has one by that name,
    NotAllowed if the account has as many stats as it may."""
    now = svc.now()

    def work(conn: Connection) -> Stat:
        stats.check_room_for_stats(conn, user.id, 1, svc.max_stats_per_account)
        return stats.create_stat(conn, user.id, name.strip(), kind, now)

    return await in_transaction(svc, work)


async def stat_to_delete(svc: Services, user: User, public_id: str) -> Stat:
    """The stat a delete link (as in the new-stat mail) asks to confirm deleting."""

    def load() -> Stat:
        with reading(svc.engine) as conn:
            return stats.owned_stat(conn, user.id, public_id)

    return await off_loop(load)


async def rename_stat(svc: Services, user: User, public_id: str, name: str) -> Stat:
    def work(conn: Connection) -> Stat:
        return stats.rename_stat(conn, stats.owned_stat(conn, user.id, public_id), name.strip())

    return await in_transaction(svc, work)


async def trash_stat(svc: Services, user: User, public_id: str) -> Stat:
    now = svc.now()

    def work(conn: Connection) -> Stat:
        return stats.trash_stat(conn, stats.owned_stat(conn, user.id, public_id), now)

    return await in_transaction(svc, work)


async def restore_stat(svc: Services, user: User, public_id: str) -> Stat:
    def work(conn: Connection) -> Stat:
        return stats.restore_stat(conn, stats.owned_stat(conn, user.id, public_id, in_trash=True))

    return await in_transaction(svc, work)


@dataclass(frozen=True)
class TrashedStat:
    """One of the user's stats in the trash, asked for at its old address."""

    stat: Stat
    purge_after: int  # seconds it stays restorable after deleted_at
    now: int


async def trashed_stat(svc: Services, user: User, public_id: str) -> TrashedStat | None:
    """The user's stat with that id if it is in the trash; None for any other (a live
    one, none, or another user's, which must answer exactly as none does)."""

    def load() -> Stat | None:
        with reading(svc.engine) as conn:
            return stats.stat_by_public_id(conn, user.id, public_id, in_trash=True)

    stat = await off_loop(load)
    return TrashedStat(stat, TRASH_SECONDS, svc.now()) if stat else None


async def trash_page(svc: Services, user: User) -> TrashPage:
    def work() -> list[Stat]:
        with reading(svc.engine) as conn:
            return stats.trashed_stats_of_user(conn, user.id)

    return TrashPage(await off_loop(work), TRASH_SECONDS, svc.now())


@dataclass(frozen=True)
class DescribedStat:
    """A stat with its description and tags, after they were set."""

    stat: Stat
    tags: list[str]


def _details_from(fields: Mapping[str, str]) -> dict[str, Any]:
    """The details a form or query sets: only those it names (an absent one stays as it is)."""
    details: dict[str, Any] = {}
    for name in ("unit", "description"):
        if name in fields:
            details[name] = fields[name]
    if "tags" in fields:
        details["tags"] = parse_tags(fields["tags"])
    if not details:
        raise BadRequest("send unit, description or tags (any of them) to change a stat's details")
    return details


def describe_owned_stat(
    conn: Connection, user: User, public_id: str, fields: Mapping[str, str]
) -> DescribedStat:
    """Set the owner's stat's details named in ``fields`` (in the caller's transaction)."""
    details = _details_from(fields)
    stat = save_details(conn, stats.owned_stat(conn, user.id, public_id), **details)
    return DescribedStat(stat, tags_by_stat(conn, [stat.id]).get(stat.id, []))


async def describe_stat(
    svc: Services, user: User | Callable[[Connection], User], public_id: str,
    fields: Mapping[str, str],
) -> DescribedStat:
    """Set the unit, description and tags ``fields`` name (the stat page's form, an API's
    parameters); BadRequest says what to fix, NotFound if the stat is not the user's.
    ``user`` may be a lookup run in the transaction (an API's token owner)."""

    def work(conn: Connection) -> DescribedStat:
        owner = user(conn) if callable(user) else user
        return describe_owned_stat(conn, owner, public_id, fields)

    return await in_transaction(svc, work)
