"""Dashboards: named pages of cards, each a graph, number or table of 1 to 3 stats.

The SQL for dashboards, their cards and the cards' stats lives here. A card
keeps its stats by row id; a stat in the trash is left off every card (as it
is left off every page), and purging a stat deletes its ``card_stats`` rows by
foreign-key cascade, so a card can end up with no stats at all: pages then say
its stats were deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from aerie.contracts import MAX_STATS_ON_GRAPH
from aerie.errors import BadRequest, Conflict, NotFound
from aerie.keys import random_key
from aerie.schema import card_stats, dashboard_cards, dashboards, shares, stats
from aerie.stats import STAT_COLUMNS, Stat, owned_stat, stat_from_row
from aerie.text_rules import check_text
from aerie.timeframes import parse_timeframe

CARD_KINDS = ("graph", "number", "table")
MAX_CARD_STATS = MAX_STATS_ON_GRAPH  # a card's stats are drawn in one graph
MAX_NAME_LENGTH = 255
MAX_TITLE_LENGTH = 200  # what the graph server accepts as a title, so a card's fits
MAX_TIMEFRAME_LENGTH = 16  # the column's width; real timeframes are far shorter
MAX_CARDS = 50  # a page of cards that still loads in one go
PUBLIC_ID_LENGTH = 10


@dataclass(frozen=True)
class Dashboard:
    id: int
    public_id: str
    user_id: int
    name: str
    created_at: int


@dataclass(frozen=True)
class ListedDashboard:
    dashboard: Dashboard
    cards: int


@dataclass(frozen=True)
class Card:
    """A card and its live stats in order; no stats means all of them were deleted."""

    id: int
    dashboard_id: int
    position: int
    kind: str
    timeframe: str
    title: str
    stats: list[Stat]
    trashed: tuple[str, ...] = ()  # names of its stats waiting in the trash


_DASHBOARD_COLUMNS = (
    dashboards.c.id, dashboards.c.public_id, dashboards.c.user_id, dashboards.c.name,
    dashboards.c.created_at,
)
_CARD_COLUMNS = (
    dashboard_cards.c.id, dashboard_cards.c.dashboard_id, dashboard_cards.c.position,
    dashboard_cards.c.kind, dashboard_cards.c.timeframe, dashboard_cards.c.title,
)


def check_name(name: str) -> str:
    """The dashboard name, stripped; BadRequest saying what to fix."""
    name = check_text("dashboard name", name).strip()
    if not name:
        raise BadRequest("dashboard name is empty; give it a name such as 'Signups'")
    if len(name) > MAX_NAME_LENGTH:
        raise BadRequest(f"dashboard name is {len(name)} characters; the limit is {MAX_NAME_LENGTH}")
    return name


def check_card(kind: str, timeframe: str, title: str, stat_count: int) -> tuple[str, str, str]:
    """``(kind, timeframe, title)`` checked; BadRequest saying what to fix."""
    if kind not in CARD_KINDS:
        raise BadRequest(f"a card is a graph, number or table, not {kind!r}")
    timeframe = timeframe.strip()
    if not timeframe:
        raise BadRequest("pick a timeframe for the card, such as 1w or 2d30m")
    if len(timeframe) > MAX_TIMEFRAME_LENGTH:
        raise BadRequest(f"timeframe {timeframe[:MAX_TIMEFRAME_LENGTH]!r}... is too long; "
                         "use one such as 1w or 2d30m")
    parse_timeframe(timeframe)  # raises BadRequest saying what to fix
    title = check_text("card title", title).strip()
    if len(title) > MAX_TITLE_LENGTH:
        raise BadRequest(f"card title is {len(title)} characters; the limit is {MAX_TITLE_LENGTH}")
    if not 1 <= stat_count <= MAX_CARD_STATS:
        raise BadRequest(f"a card shows 1 to {MAX_CARD_STATS} stats; you chose {stat_count}")
    return kind, timeframe, title


def create_dashboard(conn: Connection, user_id: int, name: str, now: int) -> Dashboard:
    name = check_name(name)
    for _attempt in range(5):
        public_id = random_key(PUBLIC_ID_LENGTH)
        try:
            with conn.begin_nested():
                result = conn.execute(insert(dashboards).values(
                    public_id=public_id, user_id=user_id, name=name, created_at=now))
        except IntegrityError:
            continue  # a random id collided; draw again
        return Dashboard(result.inserted_primary_key[0], public_id, user_id,  # type: ignore[index]
                         name, now)
    raise Conflict("could not draw a unique dashboard id; try again")


def dashboards_of_user(conn: Connection, user_id: int) -> list[ListedDashboard]:
    """The user's dashboards by name, each with its number of cards."""
    count = (select(func.count()).where(dashboard_cards.c.dashboard_id == dashboards.c.id)
             .scalar_subquery())
    rows = conn.execute(
        select(*_DASHBOARD_COLUMNS, count.label("cards"))
        .where(dashboards.c.user_id == user_id)
        .order_by(dashboards.c.name, dashboards.c.id)
    )
    return [ListedDashboard(Dashboard(*row[:5]), row.cards) for row in rows]


def owned_dashboard(conn: Connection, user_id: int, public_id: str) -> Dashboard:
    """The user's dashboard with that id, or NotFound: another user's answers the same."""
    row = conn.execute(select(*_DASHBOARD_COLUMNS).where(
        dashboards.c.user_id == user_id, dashboards.c.public_id == public_id)).first()
    if row is None:
        raise NotFound(f"no dashboard with id {public_id!r}")
    return Dashboard(*row)


def dashboard_by_id(conn: Connection, dashboard_id: int) -> Dashboard | None:
    row = conn.execute(select(*_DASHBOARD_COLUMNS).where(dashboards.c.id == dashboard_id)).first()
    return Dashboard(*row) if row else None


def rename_dashboard(conn: Connection, dashboard: Dashboard, name: str) -> Dashboard:
    name = check_name(name)
    conn.execute(update(dashboards).where(dashboards.c.id == dashboard.id).values(name=name))
    return replace(dashboard, name=name)


def delete_dashboard(conn: Connection, dashboard: Dashboard) -> None:
    """Delete the dashboard, its cards and its embed keys (which then answer 'unknown')."""
    card_ids = select(dashboard_cards.c.id).where(dashboard_cards.c.dashboard_id == dashboard.id)
    conn.execute(delete(card_stats).where(card_stats.c.card_id.in_(card_ids)))
    conn.execute(delete(dashboard_cards).where(dashboard_cards.c.dashboard_id == dashboard.id))
    conn.execute(delete(shares).where(shares.c.dashboard_id == dashboard.id))
    conn.execute(delete(dashboards).where(dashboards.c.id == dashboard.id))


def cards_of_dashboard(conn: Connection, dashboard_id: int) -> list[Card]:
    """The dashboard's cards in order, each with its live stats in order and the names of
    those in the trash (purged stats leave no trace)."""
    rows = conn.execute(
        select(*_CARD_COLUMNS).where(dashboard_cards.c.dashboard_id == dashboard_id)
        .order_by(dashboard_cards.c.position, dashboard_cards.c.id)
    ).fetchall()
    chosen: dict[int, list[Stat]] = {row.id: [] for row in rows}
    trashed: dict[int, list[str]] = {row.id: [] for row in rows}
    if chosen:
        stat_rows = conn.execute(
            select(card_stats.c.card_id, *STAT_COLUMNS)
            .join(stats, stats.c.id == card_stats.c.stat_id)
            .where(card_stats.c.card_id.in_(list(chosen)))
            .order_by(card_stats.c.card_id, card_stats.c.position)
        )
        for stat_row in stat_rows:
            stat = stat_from_row(stat_row)
            if stat.deleted_at is None:
                chosen[stat_row.card_id].append(stat)
            else:
                trashed[stat_row.card_id].append(stat.name)
    return [Card(*row, stats=chosen[row.id], trashed=tuple(trashed[row.id])) for row in rows]


def card_of_dashboard(conn: Connection, dashboard_id: int, card_id: int) -> Card:
    """The dashboard's card with that id, or NotFound (a card of another dashboard too)."""
    for card in cards_of_dashboard(conn, dashboard_id):
        if card.id == card_id:
            return card
    raise NotFound(f"no card {card_id} on this dashboard")


def owned_stats(conn: Connection, user_id: int, public_ids: list[str]) -> list[Stat]:
    """The user's live stats with these ids, in that order; NotFound naming the first that is
    not theirs (another user's stat answers exactly as a missing one)."""
    return [owned_stat(conn, user_id, public_id) for public_id in public_ids]


def add_card(
    conn: Connection, dashboard: Dashboard, kind: str, timeframe: str, title: str,
    chosen: list[Stat],
) -> int:
    """Add a card at the end of the dashboard; returns its id. The caller checked the stats
    are the owner's."""
    kind, timeframe, title = check_card(kind, timeframe, title, len(chosen))
    last, count = conn.execute(
        select(func.max(dashboard_cards.c.position), func.count())
        .where(dashboard_cards.c.dashboard_id == dashboard.id)
    ).one()
    if count >= MAX_CARDS:
        raise BadRequest(f"a dashboard holds at most {MAX_CARDS} cards; make another dashboard")
    result = conn.execute(insert(dashboard_cards).values(
        dashboard_id=dashboard.id, position=(last + 1) if last is not None else 0, kind=kind,
        timeframe=timeframe, title=title,
    ))
    card_id: int = result.inserted_primary_key[0]  # type: ignore[index]
    conn.execute(insert(card_stats), [
        {"card_id": card_id, "position": i, "stat_id": stat.id} for i, stat in enumerate(chosen)
    ])
    return card_id


def remove_card(conn: Connection, card: Card) -> None:
    """Delete the card; the cards after it move up a place, so positions stay 0, 1, ..."""
    conn.execute(delete(card_stats).where(card_stats.c.card_id == card.id))
    conn.execute(delete(dashboard_cards).where(dashboard_cards.c.id == card.id))
    conn.execute(
        update(dashboard_cards)
        .where(dashboard_cards.c.dashboard_id == card.dashboard_id,
               dashboard_cards.c.position > card.position)
        .values(position=dashboard_cards.c.position - 1)
    )


def move_card(
    conn: Connection, dashboard: Dashboard, card_id: int, *, to: int | None = None, by: int = 0
) -> None:
    """Put the card at index ``to`` (0 first), or ``by`` places later (negative: earlier),
    clamped to the ends, and number the cards 0, 1, ... NotFound if the card is not on
    this dashboard."""
    order = [tuple(row) for row in conn.execute(
        select(dashboard_cards.c.id, dashboard_cards.c.position)
        .where(dashboard_cards.c.dashboard_id == dashboard.id)
        .order_by(dashboard_cards.c.position, dashboard_cards.c.id)
    )]
    ids = [card for card, _position in order]
    if card_id not in ids:
        raise NotFound(f"no card {card_id} on this dashboard")
    index = ids.index(card_id) + by if to is None else to
    ids.remove(card_id)
    ids.insert(max(0, min(index, len(ids))), card_id)
    was = dict(order)
    for position, card in enumerate(ids):
        if was[card] != position:
            conn.execute(update(dashboard_cards).where(dashboard_cards.c.id == card)
                         .values(position=position))
