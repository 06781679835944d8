"""JSON twins of the dashboard pages, from the same results the HTML pages render.

A shared dashboard's JSON, like its page, names stats only by name: no stat
ids, keys or anything of the owner's account.
"""

from __future__ import annotations

from typing import Any

from aerie import urls
from interactor.dashboards import CardView, DashboardList, DashboardPage, SharedDashboard


def dashboard_list(result: DashboardList) -> dict[str, Any]:
    return {
        "dashboards": [
            {"id": d.dashboard.public_id, "name": d.dashboard.name, "cards": d.cards,
             "created_at": d.dashboard.created_at}
            for d in result.dashboards
        ],
    }


def _card(view: CardView, cards: str, *, with_ids: bool) -> dict[str, Any]:
    """One card; ``cards`` is where the dashboard's cards' images live."""
    card = view.card
    shape: dict[str, Any] = {
        "id": card.id,
        "position": card.position,
        "kind": card.kind,
        "title": card.title,
        "heading": view.heading,
        "timeframe": card.timeframe,
        "timeframe_label": view.timeframe_label,
        "stats": [{"id": s.public_id, "name": s.name, "kind": s.kind} if with_ids
                  else {"name": s.name, "kind": s.kind} for s in card.stats],
        "stats_deleted": view.deleted,
        "stats_in_trash": list(view.in_trash),
    }
    if card.kind == "graph" and not view.deleted:
        shape["graph"] = {"png_url": urls.card_graph(cards, card.id, "png"),
                          "svg_url": urls.card_graph(cards, card.id, "svg")}
    if card.kind == "number":
        shape["numbers"] = [
            {"name": n.stat.name, "measure": n.measure, "value": n.value, "change": n.change}
            for n in view.numbers
        ]
    if card.kind == "table":
        shape["rows"] = [{"time": r.time, "values": r.values} for r in view.rows]
        shape["rows_left_off"] = view.rows_left_off
    return shape


def dashboard_page(result: DashboardPage) -> dict[str, Any]:
    return {
        "id": result.dashboard.public_id,
        "name": result.dashboard.name,
        "timezone": result.timezone,
        "cards": [_card(view, urls.dashboard_cards(result.dashboard.public_id), with_ids=True)
                  for view in result.cards],
        "embed_key": result.share.key if result.share else None,
    }


def shared_dashboard(result: SharedDashboard) -> dict[str, Any]:
    return {
        "name": result.name,
        "timezone": result.timezone,
        "cards": [_card(view, urls.shared_dashboard_cards(result.key), with_ids=False)
                  for view in result.cards],
    }
