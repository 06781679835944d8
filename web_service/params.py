"""Numbers taken from query strings and paths, bounded where they enter.

Python reads any length of digits, but the database stores 64-bit integers: an
unbounded ``offset=9223372036854775808`` or card id would reach SQL and fail as a
500. Bounded here, FastAPI refuses it first, and the error handler answers 400
with what to fix (see ``web_service.errors``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

SQL_INT_MAX = 2**63 - 1

# Rows to skip in a list.
Offset = Annotated[int, Query(ge=0, le=SQL_INT_MAX)]
# A row's id in a path: a card, a mail, a token.
RowId = Annotated[int, Path(ge=0, le=SQL_INT_MAX)]
