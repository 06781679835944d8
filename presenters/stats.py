"""JSON twins of the stat pages, from the same results the HTML pages render."""

from __future__ import annotations

from typing import Any

from aerie.stats import Stat
from interactor.stat_changes import TrashedStat, TrashPage
from interactor.stat_pages import ComparePage, StatList, StatPage
from presenters.json import error, stat_object
from presenters.links import embed_object, graph_object, share_codes


def stat_with_kind(stat: Stat) -> dict[str, Any]:
    """The export API's stat object plus its kind, which the pages show."""
    return {**stat_object(stat), "kind": stat.kind}


def stat_list(result: StatList) -> dict[str, Any]:
    return {
        "search": result.search,
        "tag": result.tag,
        "sort": result.sort,
        "page": result.page,
        "pages": result.pages,
        "total": result.total,
        "more": result.more,
        "tags": result.tags,
        "stats": [
            {**stat_with_kind(row.stat), "description": row.stat.description, "tags": row.tags,
             "group": row.group or None, "latest": row.latest, "spark": row.spark}
            for row in result.rows
        ],
    }


def stat_page(result: StatPage) -> dict[str, Any]:
    return {
        "stat": {**stat_with_kind(result.stat), "description": result.stat.description,
                 "tags": result.tags},
        "timeframe": result.timeframe,
        "timeframe_label": result.timeframe_label,
        "timezone": result.timezone,
        "points": [{"time": p.time, "value": p.value} for p in result.points],
        "summary": result.summary,
        "graph": graph_object(result.graph),
        "examples": {s.language: s.code for s in result.snippets},
        "embed_key": result.share.key if result.share else None,
        "embed": (embed_object(share_codes(result.web_url, result.share.key, result.stat.name))
                  if result.share else None),
        "comments": [{"id": c.id, "time": c.at, "text": c.text} for c in result.comments],
        "alerts": [{"id": a.public_id, "kind": a.kind, "state": a.state} for a in result.alerts],
    }


def compare_page(result: ComparePage) -> dict[str, Any]:
    return {
        "timeframe": result.timeframe,
        "timeframe_label": result.timeframe_label,
        "stats": [
            {**stat_with_kind(stat), "summary": summary}
            for stat, summary in zip(result.chosen, result.summaries, strict=True)
        ],
        "graph": graph_object(result.graph),
        "choices": [{"id": s.public_id, "name": s.name} for s in result.choices],
    }


def trash_page(result: TrashPage) -> dict[str, Any]:
    return {
        "stats": [
            {"id": s.public_id, "name": s.name, "kind": s.kind, "deleted_at": s.deleted_at,
             "purged_at": (s.deleted_at or 0) + result.purge_after}
            for s in result.stats
        ],
    }


def trashed_stat(result: TrashedStat) -> dict[str, Any]:
    """A stat's old address once it is in the trash: the 404's error, and what the page
    shows (restore it with POST /trash/ID/restore)."""
    stat = result.stat
    return {
        **error(404, f"the stat {stat.name!r} is in the trash"),
        "stat": {**stat_with_kind(stat), "deleted_at": stat.deleted_at,
                 "purged_at": (stat.deleted_at or 0) + result.purge_after},
    }
