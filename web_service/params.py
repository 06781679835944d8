"""Numbers taken from query strings and paths, bounded where they enter.

Python reads any length of digits, but the database stores 64-bit integers: an
unbounded ``offset=9223372036854775808`` or card id would reach SQL and fail as a
500. Bounded here, FastAPI refuses it first, and the error handler answers 400
with what to fix (see ``web_service.errors``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query

from aerie.contracts import MAX_SCALE
from interactor.graph_images import ImageLook

SQL_INT_MAX = 2**63 - 1

# Rows to skip in a list.
Offset = Annotated[int, Query(ge=0, le=SQL_INT_MAX)]
# A page of a list, from 1.
PageNumber = Annotated[int, Query(ge=1, le=1_000_000)]
# A row's id in a path: a card, a mail, a token.
RowId = Annotated[int, Path(ge=0, le=SQL_INT_MAX)]


def image_look(
    w: Annotated[int | None, Query(ge=1, le=10_000)] = None,
    h: Annotated[int | None, Query(ge=1, le=10_000)] = None,
    scale: Annotated[float, Query(ge=1, le=MAX_SCALE)] = 1.0,
    theme: str = "light",
) -> ImageLook:
    """A graph image's ``w``, ``h`` (the box it fills, in CSS pixels), ``scale`` (the
    screen's pixel ratio) and ``theme``; the graph server judges what it can draw."""
    return ImageLook(w, h, scale, theme)


# The size and colours a graph image is asked for in.
Look = Annotated[ImageLook, Depends(image_look)]
