"""Large batches take turns while other accounts are posting.

Reading a 1,000-point batch costs the event loop about 2 ms. An account that sends
many at once (its rate limit's burst allows 100 of them) had the loop reading its
batches back to back, its commits waiting for the interpreter lock between
statements and holding SQLite's one writer all the while, and other accounts'
posts waited behind both. While another account has posted in the last
``CONTENTION_SECONDS``, an account's large batches are read and written
one at a time; the rest wait their turn, in order, before being read.
bench/fairness.py on SQLite, alternating with the code before: the quiet account's
p99 during the flood went from 41-42 ms to 26-30 ms (3.8-4.5x its p99 alone), with
as many of the flood's requests accepted. Two at a time gave 25-34 ms against one at
a time's 19-22 in the same minutes: one batch's reading kept the loop busy while the
other committed.

An account posting alone keeps every batch in flight at once: two to four at a time
made ``bench/ingest.py``'s one-account ``/ez`` run 1.8-4x slower, as each commit then
folded fewer requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from functools import partial
from types import TracebackType

from aerie.errors import Unavailable
from api_service.writer import BUSY

# A batch of more items than this takes turns (about 4 KB of JSON: a 1,000-point batch
# is 36 KB); smaller requests cost the loop little.
LARGE_BATCH_ITEMS = 100
# Another account's post this recent means accounts share the API now.
CONTENTION_SECONDS = 1.0
# Batches of one account that may wait for a turn; past that, 503 (each holds its
# parsed JSON, some 300 KB for 1,000 items).
MAX_WAITING = 64
_NO_TURN: AbstractAsyncContextManager[None] = nullcontext()


class BatchTurns:
    """Which accounts posted lately, and each account's turn for its large batches."""

    def __init__(self, contention_seconds: float = CONTENTION_SECONDS) -> None:
        self._window = contention_seconds
        # the two accounts that posted last, and when: O(1) to say whether any
        # account other than a given one posted within the window
        self._last = (0, float("-inf"))
        self._before_last = (0, float("-inf"))
        self._turns: dict[int, _Turn] = {}

    def saw(self, account: int, now: float) -> None:
        """Note a post from ``account`` (any request that names a known account)."""
        if account == self._last[0]:
            self._last = (account, now)
        else:
            self._before_last, self._last = self._last, (account, now)

    def others_posting(self, account: int, now: float) -> bool:
        """Whether an account other than ``account`` posted within the window."""
        other = self._before_last if self._last[0] == account else self._last
        return now - other[1] <= self._window

    def turn(self, account: int, items: int, now: float) -> AbstractAsyncContextManager[None]:
        """What a request of ``items`` items from ``account`` enters before its points
        are read: its account's turn when it is a large batch and other accounts are
        posting, else nothing to wait for. Raises Unavailable if too many of the
        account's batches wait already."""
        self.saw(account, now)
        if items <= LARGE_BATCH_ITEMS or not self.others_posting(account, now):
            return _NO_TURN
        turn = self._turns.get(account)
        if turn is None:
            turn = self._turns[account] = _Turn(partial(self._turns.pop, account))
        elif turn.waiting >= MAX_WAITING:
            raise Unavailable(BUSY)
        return turn


class _Turn:
    """One account's turn: a lock, forgotten once nobody holds or waits for it."""

    def __init__(self, forget: Callable[[], object]) -> None:
        self._forget = forget
        self._lock = asyncio.Lock()
        self._users = 0  # holding or waiting

    @property
    def waiting(self) -> int:
        return max(0, self._users - 1)

    async def __aenter__(self) -> None:
        self._users += 1
        try:
            await self._lock.acquire()
        except BaseException:
            self._leave()
            raise

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        self._lock.release()
        self._leave()

    def _leave(self) -> None:
        self._users -= 1
        if self._users == 0:
            self._forget()
