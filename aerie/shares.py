"""Embed keys: sharing one stat or one dashboard, read-only, with whoever holds the key.

A key is the only thing an embed or a shared link names, so it is a 131-bit
secret, never derived from an id. Revoking keeps the row: the key then answers
"no longer shared" (``Gone``) rather than "unknown", and can never come back.
Sharing again draws a new key. A stat or dashboard has at most one live key.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from aerie.errors import Gone, NotFound
from aerie.keys import random_key
from aerie.schema import dashboards, shares, stats
from aerie.stats import STAT_COLUMNS, Stat, stat_from_row

KEY_LENGTH = 22


@dataclass(frozen=True)
class Share:
    id: int
    key: str
    user_id: int
    stat_id: int | None
    dashboard_id: int | None
    created_at: int
    revoked_at: int | None


@dataclass(frozen=True)
class ListedShare:
    """A live share as the owner's sharing page lists it: what it opens, by name."""

    share: Share
    kind: str  # "stat" or "dashboard"
    public_id: str
    name: str


_COLUMNS = (
    shares.c.id, shares.c.key, shares.c.user_id, shares.c.stat_id, shares.c.dashboard_id,
    shares.c.created_at, shares.c.revoked_at,
)


def _share(row: object) -> Share:
    return Share(*row)  # type: ignore[misc]


def share_stat(conn: Connection, user_id: int, stat_id: int, now: int) -> Share:
    """The stat's live share, created if it has none; the caller checked ownership."""
    return _live_or_new(conn, user_id, now, stat_id=stat_id)


def share_dashboard(conn: Connection, user_id: int, dashboard_id: int, now: int) -> Share:
    """The dashboard's live share, created if it has none; the caller checked ownership."""
    return _live_or_new(conn, user_id, now, dashboard_id=dashboard_id)


def _live_or_new(
    conn: Connection, user_id: int, now: int, *, stat_id: int | None = None,
    dashboard_id: int | None = None,
) -> Share:
    existing = (live_share_of_stat(conn, stat_id) if stat_id is not None
                else live_share_of_dashboard(conn, dashboard_id or 0))
    if existing is not None:
        return existing
    key = random_key(KEY_LENGTH)
    result = conn.execute(insert(shares).values(
        key=key, user_id=user_id, stat_id=stat_id, dashboard_id=dashboard_id, created_at=now,
    ))
    return Share(result.inserted_primary_key[0], key, user_id, stat_id,  # type: ignore[index]
                 dashboard_id, now, None)


def live_share_of_stat(conn: Connection, stat_id: int) -> Share | None:
    row = conn.execute(select(*_COLUMNS).where(
        shares.c.stat_id == stat_id, shares.c.revoked_at.is_(None))).first()
    return _share(row) if row else None


def live_share_of_dashboard(conn: Connection, dashboard_id: int) -> Share | None:
    row = conn.execute(select(*_COLUMNS).where(
        shares.c.dashboard_id == dashboard_id, shares.c.revoked_at.is_(None))).first()
    return _share(row) if row else None


def revoke_share(conn: Connection, user_id: int, key: str, now: int) -> Share:
    """Stop sharing by this key at once; NotFound unless it is one of the user's live keys."""
    row = conn.execute(select(*_COLUMNS).where(
        shares.c.key == key, shares.c.user_id == user_id, shares.c.revoked_at.is_(None))).first()
    if row is None:
        raise NotFound("no such shared key among yours (it may be revoked already)")
    conn.execute(update(shares).where(shares.c.id == row.id).values(revoked_at=now))
    return Share(*row[:-1], now)


def resolve_share(conn: Connection, key: str) -> Share:
    """The live share behind an embed key: NotFound if unknown, Gone if revoked or if
    what it shared was deleted (a trashed stat is no longer shared)."""
    row = conn.execute(
        select(*_COLUMNS, stats.c.deleted_at)
        .outerjoin(stats, stats.c.id == shares.c.stat_id)
        .where(shares.c.key == key)
    ).first()
    if row is None:
        raise NotFound("no graph is shared by this key; check the link")
    share = _share(row[:-1])
    if share.revoked_at is not None or row.deleted_at is not None:
        raise Gone("this graph is no longer shared; ask its owner for a new link")
    return share


def shares_of_user(conn: Connection, user_id: int) -> list[ListedShare]:
    """The user's live keys, stats first, each by the name of what it opens."""
    listed: list[ListedShare] = []
    rows = conn.execute(
        select(*_COLUMNS, stats.c.public_id, stats.c.name)
        .join(stats, stats.c.id == shares.c.stat_id)
        .where(shares.c.user_id == user_id, shares.c.revoked_at.is_(None),
               stats.c.deleted_at.is_(None))
        .order_by(stats.c.name, shares.c.id)
    )
    listed += [ListedShare(_share(r[:7]), "stat", r.public_id, r.name) for r in rows]
    rows = conn.execute(
        select(*_COLUMNS, dashboards.c.public_id, dashboards.c.name)
        .join(dashboards, dashboards.c.id == shares.c.dashboard_id)
        .where(shares.c.user_id == user_id, shares.c.revoked_at.is_(None))
        .order_by(dashboards.c.name, shares.c.id)
    )
    listed += [ListedShare(_share(r[:7]), "dashboard", r.public_id, r.name) for r in rows]
    return listed


def shared_stat(conn: Connection, key: str) -> Stat:
    """The stat a key shares, in one query (embeds are read often): NotFound if the key is
    unknown or shares a dashboard, Gone if it was revoked or the stat trashed."""
    row = conn.execute(
        select(shares.c.revoked_at, *STAT_COLUMNS)
        .join(stats, stats.c.id == shares.c.stat_id)
        .where(shares.c.key == key)
    ).first()
    if row is None:
        if conn.execute(select(shares.c.id).where(shares.c.key == key)).first() is not None:
            raise NotFound("this key shares a dashboard, not a stat; embed a stat's key")
        raise NotFound("no graph is shared by this key; check the link")
    stat = stat_from_row(row)
    if row.revoked_at is not None or stat.deleted_at is not None:
        raise Gone("this graph is no longer shared; ask its owner for a new link")
    return stat
