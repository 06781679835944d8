"""SQLite's one writer, handed out shortest work first.

SQLite runs one write transaction at a time. With a plain lock, a quiet account's
one-point commit could wait behind a flood's next 4,000-cell commit and a chunk of
its new stats, whichever thread the lock happened to wake. ``WriteTurns`` gives the
turn to the waiting transaction with the least work (its rows to write), earliest
first among equals: a small commit waits for at most the transaction in progress.
Large work cannot starve: the writer has two commit lanes and one thread for other
work, so at most two others ever wait with it, and a lane gets its next batch only
after a round trip through the event loop.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

# The cost given to work that does not say (stat creation, key lookups): about a
# commit of this many cells.
DEFAULT_COST = 100


class WriteTurns:
    """A lock whose waiters enter by ``cost`` (lower first), then by arrival.

    Used as ``with turns:``; the cost of the next entry on this thread is set with
    ``with turns.costing(n):`` around it.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._held = False
        self._waiting: list[tuple[int, int]] = []  # heap of (cost, ticket)
        self._tickets = itertools.count()
        self._local = threading.local()

    @contextmanager
    def costing(self, cost: int) -> Iterator[None]:
        self._local.cost = cost
        try:
            yield
        finally:
            del self._local.cost

    def __enter__(self) -> None:
        place = (getattr(self._local, "cost", DEFAULT_COST), next(self._tickets))
        with self._changed:
            heapq.heappush(self._waiting, place)
            while self._held or self._waiting[0] != place:
                self._changed.wait()
            heapq.heappop(self._waiting)
            self._held = True

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        with self._changed:
            self._held = False
            self._changed.notify_all()
