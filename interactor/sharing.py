"""Sharing by embed key: share a stat, list one's live keys, revoke one.

Only the owner shares or revokes: another user's stat answers NotFound, exactly as
a missing one does (``aerie.stats.owned_stat``), and so does another user's key.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from aerie import shares, stats, urls
from aerie.accounts import User
from aerie.shares import ListedShare, Share
from interactor.base import Services, off_loop

EMBED_SIZE = {"w": 760, "h": 235}


@dataclass(frozen=True)
class ShareCodes:
    """Copy-paste ways to show a shared stat, all naming it by its key only."""

    key: str
    script: str  # the embed.js snippet
    png_url: str
    svg_url: str
    markdown: str


def share_codes(key: str, name: str, web_url: str) -> ShareCodes:
    """The embed snippet, image URLs and Markdown for ``key`` served from ``web_url``
    (``https://host``: the script tag uses the scheme-relative ``//host``)."""
    host = web_url.split("://", 1)[-1].rstrip("/")
    script = (
        f'<script src="//{host}{urls.EMBED_JS}"></script>'
        f"<script>StatHatEmbed.render({{s1: '{key}', w: {EMBED_SIZE['w']}, "
        f"h: {EMBED_SIZE['h']}, tf: 'week_compare'}});</script>"
    )
    query = urlencode({**EMBED_SIZE, "tf": "week_compare"})
    png = urls.absolute(web_url, urls.embed_image("graph", key, "png")) + f"?{query}"
    svg = urls.absolute(web_url, urls.embed_image("graph", key, "svg")) + f"?{query}"
    alt = name.replace("[", "(").replace("]", ")")
    return ShareCodes(key, script, png, svg, f"![{alt}]({png})")


async def share_stat(svc: Services, user: User, public_id: str) -> Share:
    """The user's stat's live share, created if it has none; NotFound if not their stat."""

    def work() -> Share:
        with svc.engine.begin() as conn:
            stat = stats.owned_stat(conn, user.id, public_id)
            return shares.share_stat(conn, user.id, stat.id, svc.now())

    return await off_loop(work)


async def revoke_key(svc: Services, user: User, key: str) -> Share:
    """Stop sharing by one of the user's live keys; NotFound for any other key."""

    def work() -> Share:
        with svc.engine.begin() as conn:
            return shares.revoke_share(conn, user.id, key, svc.now())

    return await off_loop(work)


@dataclass(frozen=True)
class SharedItem:
    listed: ListedShare
    codes: ShareCodes | None  # stats only
    link: str | None  # dashboards only: the read-only page the key opens


@dataclass(frozen=True)
class SharingPage:
    items: list[SharedItem]
    timezone: str


async def sharing_page(svc: Services, user: User, web_url: str) -> SharingPage:
    """Every live key of the user, stats then dashboards, with what each opens."""

    def load() -> list[ListedShare]:
        with svc.engine.connect() as conn:
            return shares.shares_of_user(conn, user.id)

    listed = await off_loop(load)
    items = [
        SharedItem(item, share_codes(item.share.key, item.name, web_url), None)
        if item.kind == "stat" else
        SharedItem(item, None, urls.absolute(web_url, urls.shared_dashboard(item.share.key)))
        for item in listed
    ]
    return SharingPage(items, user.timezone)
