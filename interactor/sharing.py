"""Sharing by embed key: share a stat, list one's live keys, revoke one.

Only the owner shares or revokes: another user's stat answers NotFound, exactly as
a missing one does (``aerie.stats.owned_stat``), and so does another user's key.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from aerie import shares, stats
from aerie.accounts import User
from aerie.db import reading
from aerie.shares import ListedShare, Share
from interactor.base import Services, in_transaction, off_loop


async def share_stat(svc: Services, user: User, public_id: str) -> Share:
    """The user's stat's live share, created if it has none; NotFound if not their stat."""

    def work(conn: Connection) -> Share:
        stat = stats.owned_stat(conn, user.id, public_id)
        return shares.share_stat(conn, user.id, stat.id, svc.now())

    return await in_transaction(svc, work)


async def revoke_key(svc: Services, user: User, key: str) -> Share:
    """Stop sharing by one of the user's live keys; NotFound for any other key."""

    def work(conn: Connection) -> Share:
        return shares.revoke_share(conn, user.id, key, svc.now())

    return await in_transaction(svc, work)


@dataclass(frozen=True)
class SharingPage:
    items: list[ListedShare]  # stats then dashboards
    web_url: str  # where the embed codes and links point
    timezone: str


async def sharing_page(svc: Services, user: User, web_url: str) -> SharingPage:
    """Every live key of the user, stats then dashboards, with what each opens."""

    def load() -> list[ListedShare]:
        with reading(svc.engine) as conn:
            return shares.shares_of_user(conn, user.id)

    return SharingPage(await off_loop(load), web_url, user.timezone)
