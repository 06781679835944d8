"""Dashboards' use cases: the list, one dashboard, its cards, their graphs, and sharing.

A card shows 1 to 3 of the owner's stats over its own timeframe, as a graph
(an image the graph servers draw), numbers (the analysis servers' summary:
a counter's total, a value stat's latest value, each against the period
before) or a table of the frame's points. A shared dashboard is read by its
embed key alone: everything is drawn and summarised as its owner, in the
owner's time zone, and only the dashboard's own cards can be reached by it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection

from aerie import dashboards as store
from aerie.accounts import User, user_by_id
from aerie.contracts import SummarizeParams
from aerie.dashboards import Card, Dashboard, ListedDashboard
from aerie.db import reading
from aerie.errors import BadRequest, Gone, NotFound
from aerie.series import Point, read_series
from aerie.shares import (
    Share,
    live_share_of_dashboard,
    resolve_share,
    revoke_share,
    share_dashboard,
)
from aerie.stats import Stat, stats_of_user
from aerie.text_rules import is_whole_number
from aerie.timeframes import parse_timeframe
from interactor.base import Services, in_transaction, off_loop
from interactor.graph_images import DEFAULT_LOOK, GraphImage, ImageLook, draw
from interactor.stat_pages import DEFAULT_TIMEFRAME, TIMEFRAMES, check_timeframe

CARD_GRAPH_SIZE = {"width": 720, "height": 300}
TABLE_ROWS = 200  # a table card lists the newest points, up to this many
NOT_SHARED = "This dashboard is no longer shared; ask its owner for a new link."
UNKNOWN_KEY = "no dashboard is shared by this key; check the link"


@dataclass(frozen=True)
class DashboardList:
    dashboards: list[ListedDashboard]


@dataclass(frozen=True)
class NumberFigure:
    """One stat's number: a counter's total over the frame, or a value stat's latest value;
    ``now`` and ``before`` are what is compared with the period before (total or mean)."""

    stat: Stat
    measure: str  # "total" or "latest"
    value: float | None
    now: float | None
    before: float | None
    change: float | None  # percent, None when there is nothing to compare with


@dataclass(frozen=True)
class TableRow:
    time: int
    values: list[float | None]  # one per stat of the card, in order


@dataclass(frozen=True)
class CardSeries:
    """A graph card's points, for hover read-outs: the frame ``[first, end)`` and each
    stat's points in order."""

    first: int
    end: int
    points: list[list[Point]]


@dataclass(frozen=True)
class CardView:
    card: Card
    timeframe_label: str
    numbers: list[NumberFigure]  # number cards only
    rows: list[TableRow]  # table cards only: newest first
    rows_left_off: int  # older points a table card does not list
    series: CardSeries | None = None  # graph cards only

    @property
    def heading(self) -> str:
        """The card's title, or its stats' names when it has none."""
        return self.card.title or " vs ".join(s.name for s in self.card.stats) or "Card"

    @property
    def deleted(self) -> bool:
        """Every stat the card showed was deleted (cards are made with at least one)."""
        return not self.card.stats

    @property
    def in_trash(self) -> tuple[str, ...]:
        """The names of the card's stats waiting in the trash (restorable)."""
        return self.card.trashed


@dataclass(frozen=True)
class DashboardPage:
    dashboard: Dashboard
    cards: list[CardView]
    choices: list[Stat]  # the owner's stats, for adding a card (only when editing)
    timeframes: tuple[str, ...]
    default_timeframe: str
    share: Share | None
    host: str  # where the share link and embed code point
    timezone: str
    editing: bool = False  # edit mode: rename, add, move and remove cards, share
    timeframe: str | None = None  # one timeframe for every card, or each card's own


@dataclass(frozen=True)
class SharedDashboard:
    """A dashboard as its embed key shows it: names, cards and figures, no ids; the key
    only names the cards' images, which it opens too."""

    key: str
    name: str
    cards: list[CardView]
    timezone: str
    embed: bool  # laid out for an iframe, without the site's frame


async def dashboard_list(svc: Services, user: User) -> DashboardList:
    def load() -> list[ListedDashboard]:
        with reading(svc.read_engine()) as conn:
            return store.dashboards_of_user(conn, user.id)

    return DashboardList(await off_loop(load))


async def create_dashboard(svc: Services, user: User, name: str) -> Dashboard:
    """A new, empty dashboard; BadRequest for an empty or over-long name."""
    now = svc.now()

    def work(conn: Connection) -> Dashboard:
        return store.create_dashboard(conn, user.id, name, now)

    return await in_transaction(svc, work)


async def dashboard_page(
    svc: Services, user: User, public_id: str, host: str, *, editing: bool = False,
    timeframe: str | None = None,
) -> DashboardPage:
    """The user's dashboard with every card's figures, over each card's own timeframe or
    ``timeframe`` for all (BadRequest if unreadable); NotFound if it is not theirs."""
    now = svc.now()
    board_tf = check_timeframe(timeframe) if timeframe else None

    def load() -> tuple[Dashboard, list[Card], list[Stat], Share | None,
                        dict[int, list[TableRow]], dict[int, CardSeries]]:
        with reading(svc.read_engine()) as conn:
            dashboard = store.owned_dashboard(conn, user.id, public_id)
            cards = [replace(card, timeframe=board_tf or card.timeframe)
                     for card in store.cards_of_dashboard(conn, dashboard.id)]
            return (dashboard, cards, stats_of_user(conn, user.id) if editing else [],
                    live_share_of_dashboard(conn, dashboard.id),
                    _read_tables(conn, cards, now, user.timezone),
                    _read_graphs(conn, cards, now, user.timezone))

    dashboard, cards, choices, share, tables, graphs = await off_loop(load)
    views = await _card_views(svc, user, cards, tables, graphs)
    return DashboardPage(dashboard, views, choices, TIMEFRAMES, DEFAULT_TIMEFRAME, share, host,
                         user.timezone, editing, board_tf)


async def shared_dashboard(svc: Services, key: str, embed: bool) -> SharedDashboard:
    """The dashboard shared by ``key``, read-only; NotFound if unknown, Gone if revoked."""
    now = svc.now()

    def load() -> tuple[Dashboard, User, list[Card], dict[int, list[TableRow]],
                        dict[int, CardSeries]]:
        with reading(svc.read_engine()) as conn:
            dashboard, owner = _shared(conn, key)
            cards = store.cards_of_dashboard(conn, dashboard.id)
            return (dashboard, owner, cards, _read_tables(conn, cards, now, owner.timezone),
                    _read_graphs(conn, cards, now, owner.timezone))

    dashboard, owner, cards, tables, graphs = await off_loop(load)
    views = await _card_views(svc, owner, cards, tables, graphs)
    return SharedDashboard(key, dashboard.name, views, owner.timezone, embed)


def _shared(conn: Connection, key: str) -> tuple[Dashboard, User]:
    """The dashboard behind a live key and its owner; NotFound or Gone as the key stands."""
    try:
        share = resolve_share(conn, key)
    except Gone:
        raise Gone(NOT_SHARED) from None
    except NotFound:
        raise NotFound(UNKNOWN_KEY) from None
    dashboard = store.dashboard_by_id(conn, share.dashboard_id) if share.dashboard_id else None
    owner = user_by_id(conn, share.user_id)
    if dashboard is None or owner is None or dashboard.user_id != owner.id:
        raise NotFound(UNKNOWN_KEY)  # a stat's key, not a dashboard's
    return dashboard, owner


def _read_graphs(
    conn: Connection, cards: list[Card], now: int, timezone: str
) -> dict[int, CardSeries]:
    """Each graph card's series, as the graph server draws them."""
    found: dict[int, CardSeries] = {}
    for card in cards:
        if card.kind != "graph" or not card.stats:
            continue
        frame = parse_timeframe(card.timeframe)
        read = [read_series(conn, stat, frame, now, timezone=timezone) for stat in card.stats]
        found[card.id] = CardSeries(read[0].points[0].time if read[0].points else now,
                                    read[0].end, [s.points for s in read])
    return found


def _read_tables(
    conn: Connection, cards: list[Card], now: int, timezone: str
) -> dict[int, list[TableRow]]:
    """Each table card's points, newest first: one row per interval, a value per stat."""
    tables: dict[int, list[TableRow]] = {}
    for card in cards:
        if card.kind != "table" or not card.stats:
            continue
        frame = parse_timeframe(card.timeframe)
        columns = [read_series(conn, stat, frame, now, timezone=timezone).points
                   for stat in card.stats]
        rows = [TableRow(points[0].time, [p.value for p in points])
                for points in zip(*columns, strict=True)]
        tables[card.id] = rows[::-1]
    return tables


async def _card_views(
    svc: Services, owner: User, cards: list[Card], tables: dict[int, list[TableRow]],
    graphs: dict[int, CardSeries],
) -> list[CardView]:
    """Every card ready to show; number cards' summaries are asked for all at once."""
    wanted = [(card, stat) for card in cards if card.kind == "number" for stat in card.stats]
    summaries = await asyncio.gather(*(
        svc.analysis.summarize(SummarizeParams(user_id=owner.id, stat_id=stat.public_id,
                                               timeframe=card.timeframe, timezone=owner.timezone))
        for card, stat in wanted
    ))
    numbers: dict[int, list[NumberFigure]] = {}
    for (card, stat), summary in zip(wanted, summaries, strict=True):
        numbers.setdefault(card.id, []).append(_number(stat, summary.figures()))
    views = []
    for card in cards:
        rows = tables.get(card.id, [])
        views.append(CardView(
            card, parse_timeframe(card.timeframe).label, numbers.get(card.id, []),
            rows[:TABLE_ROWS], max(0, len(rows) - TABLE_ROWS), graphs.get(card.id),
        ))
    return views


def _number(stat: Stat, summary: dict[str, Any]) -> NumberFigure:
    current, previous, change = summary["current"], summary["previous"], summary["change"]
    if stat.counter:
        return NumberFigure(stat, "total", current["total"], current["total"], previous["total"],
                            change["total"])
    return NumberFigure(stat, "latest", current["latest"], current["mean"], previous["mean"],
                        change["mean"])


async def card_graph(
    svc: Services, user: User, public_id: str, card_id: int, fmt: str,
    look: ImageLook = DEFAULT_LOOK, timeframe: str | None = None,
) -> GraphImage:
    """A graph card's image, over its own timeframe or the board's ``timeframe``; NotFound
    for a dashboard or card that is not the user's."""
    board_tf = check_timeframe(timeframe) if timeframe else None

    def load() -> Card:
        with reading(svc.read_engine()) as conn:
            dashboard = store.owned_dashboard(conn, user.id, public_id)
            card = store.card_of_dashboard(conn, dashboard.id, card_id)
            return replace(card, timeframe=board_tf or card.timeframe)

    return await _render(svc, user, await off_loop(load), fmt, look)


async def shared_card_graph(
    svc: Services, key: str, card_id: int, fmt: str, look: ImageLook = DEFAULT_LOOK
) -> GraphImage:
    """A card's image by the dashboard's embed key, drawn as its owner; NotFound for a card
    of another dashboard, Gone once the key is revoked."""
    def load() -> tuple[User, Card]:
        with reading(svc.read_engine()) as conn:
            dashboard, owner = _shared(conn, key)
            return owner, store.card_of_dashboard(conn, dashboard.id, card_id)

    owner, card = await off_loop(load)
    return await _render(svc, owner, card, fmt, look)


async def _render(
    svc: Services, owner: User, card: Card, fmt: str, look: ImageLook
) -> GraphImage:
    if not card.stats:
        raise NotFound("this card's stats were deleted")
    return await draw(svc, owner, [s.public_id for s in card.stats], fmt,
                      timeframe=card.timeframe, previous=len(card.stats) == 1, style="full",
                      **look.options(CARD_GRAPH_SIZE))


# Changes: each runs in one transaction, after checking the dashboard is the user's.


async def rename_dashboard(svc: Services, user: User, public_id: str, name: str) -> Dashboard:
    def work(conn: Connection) -> Dashboard:
        return store.rename_dashboard(conn, store.owned_dashboard(conn, user.id, public_id),
                                      name)

    return await in_transaction(svc, work)


async def delete_dashboard(svc: Services, user: User, public_id: str) -> None:
    """Delete the dashboard and its cards; its embed key stops working (stats are kept)."""
    def work(conn: Connection) -> None:
        store.delete_dashboard(conn, store.owned_dashboard(conn, user.id, public_id))

    await in_transaction(svc, work)


async def add_card(
    svc: Services, user: User, public_id: str, kind: str, timeframe: str, title: str,
    stat_ids: list[str],
) -> int:
    """Add a card of 1 to 3 of the user's stats at the end; returns its id.

    BadRequest (nothing written) for a bad kind, timeframe, title or number of
    stats; NotFound for a stat that is not the user's, as for a missing one.
    """
    chosen = list(dict.fromkeys(i.strip() for i in stat_ids if i.strip()))
    store.check_card(kind, timeframe or DEFAULT_TIMEFRAME, title, len(chosen))

    def work(conn: Connection) -> int:
        dashboard = store.owned_dashboard(conn, user.id, public_id)
        stats = store.owned_stats(conn, user.id, chosen)
        return store.add_card(conn, dashboard, kind, timeframe or DEFAULT_TIMEFRAME, title,
                              stats)

    return await in_transaction(svc, work)


async def remove_card(svc: Services, user: User, public_id: str, card_id: int) -> None:
    def work(conn: Connection) -> None:
        dashboard = store.owned_dashboard(conn, user.id, public_id)
        store.remove_card(conn, store.card_of_dashboard(conn, dashboard.id, card_id))

    await in_transaction(svc, work)


async def move_card(
    svc: Services, user: User, public_id: str, card_id: int, direction: str, position: str
) -> None:
    """Move a card one place ``up`` or ``down``, or to ``position`` (0 is first; past either
    end is the end). BadRequest if neither is given sensibly."""
    step = {"up": -1, "down": 1}.get(direction, 0)
    to: int | None = None
    if not step:
        if not is_whole_number(position.strip(" ")):
            raise BadRequest("say where to move the card: direction=up or down, or "
                             "position=N (0 is first)")
        to = int(position)

    def work(conn: Connection) -> None:
        dashboard = store.owned_dashboard(conn, user.id, public_id)
        store.move_card(conn, dashboard, card_id, to=to, by=step)

    await in_transaction(svc, work)


async def share(svc: Services, user: User, public_id: str) -> Share:
    """The dashboard's live embed key, drawn now if it has none."""
    now = svc.now()

    def work(conn: Connection) -> Share:
        dashboard = store.owned_dashboard(conn, user.id, public_id)
        return share_dashboard(conn, user.id, dashboard.id, now)

    return await in_transaction(svc, work)


async def unshare(svc: Services, user: User, public_id: str) -> str | None:
    """Revoke the dashboard's live key at once (it then answers 410) and return it; no key,
    no change (None)."""
    now = svc.now()

    def work(conn: Connection) -> str | None:
        dashboard = store.owned_dashboard(conn, user.id, public_id)
        live = live_share_of_dashboard(conn, dashboard.id)
        if live is None:
            return None
        return revoke_share(conn, user.id, live.key, now).key

    return await in_transaction(svc, work)
