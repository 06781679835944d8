"""Creating, renaming, trashing and restoring stats, and the trash page."""

from __future__ import annotations

from dataclasses import dataclass

from aerie import stats
from aerie.accounts import User
from aerie.db import reading
from aerie.stats import TRASH_SECONDS, Stat
from interactor.base import Services, off_loop


@dataclass(frozen=True)
class TrashPage:
    stats: list[Stat]
    purge_after: int  # seconds a stat stays restorable
    now: int


async def create_stat(svc: Services, user: User, name: str, kind: str) -> Stat:
    """A classic stat (counter or value); Conflict if the user has one by that name,
    NotAllowed if the account has as many stats as it may."""
    now = svc.now()

    def work() -> Stat:
        with svc.engine.begin() as conn:
            stats.check_room_for_stats(conn, user.id, 1, svc.max_stats_per_account)
            return stats.create_stat(conn, user.id, name.strip(), kind, now)

    return await off_loop(work)


async def stat_to_delete(svc: Services, user: User, public_id: str) -> Stat:
    """The stat a delete link (as in the new-stat mail) asks to confirm deleting."""

    def load() -> Stat:
        with reading(svc.engine) as conn:
            return stats.owned_stat(conn, user.id, public_id)

    return await off_loop(load)


async def rename_stat(svc: Services, user: User, public_id: str, name: str) -> Stat:
    def work() -> Stat:
        with svc.engine.begin() as conn:
            return stats.rename_stat(conn, stats.owned_stat(conn, user.id, public_id), name.strip())

    return await off_loop(work)


async def trash_stat(svc: Services, user: User, public_id: str) -> Stat:
    now = svc.now()

    def work() -> Stat:
        with svc.engine.begin() as conn:
            return stats.trash_stat(conn, stats.owned_stat(conn, user.id, public_id), now)

    return await off_loop(work)


async def restore_stat(svc: Services, user: User, public_id: str) -> Stat:
    def work() -> Stat:
        with svc.engine.begin() as conn:
            return stats.restore_stat(conn, stats.owned_stat(conn, user.id, public_id, in_trash=True))

    return await off_loop(work)


async def trash_page(svc: Services, user: User) -> TrashPage:
    def work() -> list[Stat]:
        with reading(svc.engine) as conn:
            return stats.trashed_stats_of_user(conn, user.id)

    return TrashPage(await off_loop(work), TRASH_SECONDS, svc.now())
