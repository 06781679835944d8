"""Comments on a stat at a moment (StatHat's comments, Graphite's events): graph markers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select

from aerie import text_rules
from aerie.errors import BadRequest
from aerie.schema import comments
from aerie.timeframes import check_start

MAX_TEXT = 1000


@dataclass(frozen=True)
class Comment:
    id: int
    stat_id: int
    at: int  # the moment it marks, unix seconds
    text: str
    created_at: int


def check_text(text: str) -> str:
    """The comment stripped, or BadRequest saying what to fix."""
    text = text_rules.check_text("comment", text).strip()
    if not text:
        raise BadRequest("the comment is empty; write what happened at that moment")
    if len(text) > MAX_TEXT:
        raise BadRequest(f"the comment is {len(text)} characters; the limit is {MAX_TEXT}")
    return text


def add_comment(conn: Connection, user_id: int, stat_id: int, at: int, text: str, now: int) -> Comment:
    """Mark ``at`` on the stat; the caller checked that the stat is the user's."""
    text = check_text(text)
    check_start(at)
    result = conn.execute(insert(comments).values(
        stat_id=stat_id, user_id=user_id, at=at, text=text, created_at=now))
    return Comment(result.inserted_primary_key[0], stat_id, at, text, now)  # type: ignore[index]


def comments_between(conn: Connection, stat_ids: Sequence[int], first: int, end: int) -> list[Comment]:
    """The stats' comments marking ``first <= at < end``, oldest first."""
    if not stat_ids:
        return []
    rows = conn.execute(
        select(comments.c.id, comments.c.stat_id, comments.c.at, comments.c.text,
               comments.c.created_at)
        .where(comments.c.stat_id.in_(list(stat_ids)), comments.c.at >= first, comments.c.at < end)
        .order_by(comments.c.at, comments.c.id)
    )
    return [Comment(*r) for r in rows]


def delete_comment(conn: Connection, user_id: int, stat_id: int, comment_id: int) -> bool:
    """Remove the user's comment on the stat; False if there is no such comment of theirs."""
    result = conn.execute(
        delete(comments).where(comments.c.id == comment_id, comments.c.stat_id == stat_id,
                               comments.c.user_id == user_id)
    )
    return result.rowcount == 1
