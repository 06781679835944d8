"""A stat's unit, description and tags: checked where they enter, stored here.

The unit (``ms``, ``°C``, ``$``, ``%`` or any short text) labels axes, summaries,
mail, reports and embeds; the description says what the stat measures; tags
(several per stat) group stats in the list. All are optional and set by the owner
on the stat's page, through ``/x/TOKEN/stats/ID`` or ``/a1/stats/ID``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from sqlalchemy import Connection, delete, insert, select, update

from aerie.errors import BadRequest
from aerie.schema import stat_tags, stats
from aerie.stats import Stat
from aerie.text_rules import check_text

MAX_UNIT = 32
MAX_DESCRIPTION = 1000
MAX_TAG = 64
MAX_TAGS = 20  # per stat


def check_unit(unit: str) -> str | None:
    """The unit to store (None for none); BadRequest saying what to fix."""
    unit = check_text("unit", unit).strip()
    if len(unit) > MAX_UNIT:
        raise BadRequest(f"unit is {len(unit)} characters; the limit is {MAX_UNIT}")
    return unit or None


def check_description(description: str) -> str:
    description = check_text("description", description).strip()
    if len(description) > MAX_DESCRIPTION:
        raise BadRequest(
            f"description is {len(description)} characters; the limit is {MAX_DESCRIPTION}")
    return description


def parse_tags(text: str) -> list[str]:
    """Tags from a comma-separated list, trimmed, each once, in the order given."""
    tags = list(dict.fromkeys(t.strip() for t in check_text("tags", text).split(",")))
    tags = [t for t in tags if t]
    for tag in tags:
        if len(tag) > MAX_TAG:
            raise BadRequest(f"tag {tag[:20]!r}... is {len(tag)} characters; the limit is {MAX_TAG}")
    if len(tags) > MAX_TAGS:
        raise BadRequest(f"a stat carries at most {MAX_TAGS} tags, not {len(tags)}")
    return tags


def save_details(
    conn: Connection, stat: Stat, *, unit: str | None = None, description: str | None = None,
    tags: list[str] | None = None,
) -> Stat:
    """Set what is given (None leaves it as it is; checked values only) and return the stat."""
    changes: dict[str, object] = {}
    if unit is not None:
        changes["unit"] = check_unit(unit)
    if description is not None:
        changes["description"] = check_description(description)
    if changes:
        conn.execute(update(stats).where(stats.c.id == stat.id).values(**changes))
    if tags is not None:
        conn.execute(delete(stat_tags).where(stat_tags.c.stat_id == stat.id))
        if tags:
            conn.execute(insert(stat_tags), [{"stat_id": stat.id, "tag": t} for t in tags])
    return replace(stat, **changes)  # type: ignore[arg-type]


def tags_by_stat(conn: Connection, stat_ids: Iterable[int]) -> dict[int, list[str]]:
    """Each stat's tags, sorted; stats without tags are left out."""
    ids = list(stat_ids)
    found: dict[int, list[str]] = {}
    if not ids:
        return found
    rows = conn.execute(select(stat_tags.c.stat_id, stat_tags.c.tag)
                        .where(stat_tags.c.stat_id.in_(ids)).order_by(stat_tags.c.tag))
    for stat_id, tag in rows:
        found.setdefault(stat_id, []).append(tag)
    return found


def tags_of_user(conn: Connection, user_id: int) -> list[str]:
    """Every tag on the user's live stats, sorted, each once."""
    rows = conn.execute(
        select(stat_tags.c.tag).distinct().join(stats, stats.c.id == stat_tags.c.stat_id)
        .where(stats.c.user_id == user_id, stats.c.deleted_at.is_(None)).order_by(stat_tags.c.tag)
    )
    return [tag for (tag,) in rows]
