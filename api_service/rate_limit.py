"""Per-account ingestion rate limits: a token bucket of points per account, in process.

One account flooding the API used to take the writer and SQLite's lock from
everyone else. Each account now has a bucket that refills at ``rate`` points
per second and holds ``BURST_SECONDS`` seconds' worth; a request that needs
more points than the bucket holds is refused, whole, with 429 and how long to
wait. The buckets live in one API process: with N processes an account may
post N times the rate, which still bounds what one account can take from
one process.
"""

from __future__ import annotations

import math
import time

from aerie.errors import TooManyRequests

BURST_SECONDS = 5.0
# Past this many buckets, full ones (idle for BURST_SECONDS) are dropped: a full
# bucket is the same as a new one, so forgetting it changes no answer. If all
# are in use, all are dropped (each account gets a fresh burst) to stay bounded.
MAX_BUCKETS = 10_000


class RateLimited(TooManyRequests):
    """429: the account posted more points than its rate; ``retry_after`` in whole seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PointRateLimit:
    """Token buckets of points, keyed by account (user id)."""

    def __init__(self, rate: float) -> None:
        """``rate``: points per second per account; 0 lets everything through."""
        self._rate = rate
        self._capacity = rate * BURST_SECONDS
        self._buckets: dict[int, tuple[float, float]] = {}  # user id -> (tokens, at)

    def take(self, account: int, points: int) -> None:
        """Charge ``points`` to the account, or raise RateLimited charging nothing.

        A request larger than the whole burst is let through when the bucket is
        full and leaves it in debt, so no request is refused forever.
        """
        if not self._rate:
            return
        now = time.monotonic()
        tokens = self._refuse_past(account, points, now)
        if account not in self._buckets and len(self._buckets) >= MAX_BUCKETS:
            self._forget_full(now)
        self._buckets[account] = (tokens - points, now)

    def check(self, account: int, points: int) -> None:
        """Raise RateLimited if ``points`` would be refused now; charges nothing (so a
        request can be turned away before the work of reading all its points)."""
        if self._rate:
            self._refuse_past(account, points, time.monotonic())

    def _refuse_past(self, account: int, points: int, now: float) -> float:
        """The account's tokens now; raises RateLimited if ``points`` need more."""
        rate, capacity = self._rate, self._capacity
        tokens, at = self._buckets.get(account, (capacity, now))
        tokens = min(capacity, tokens + (now - at) * rate)
        needed = min(points, capacity)
        if tokens < needed:
            wait = max(1, math.ceil((needed - tokens) / rate))
            raise RateLimited(
                f"rate limit: at most {rate:g} points per second for this account; "
                f"retry after {wait} s",
                wait,
            )
        return tokens

    def _forget_full(self, now: float) -> None:
        rate, capacity = self._rate, self._capacity
        self._buckets = {
            account: (tokens, at) for account, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * rate < capacity
        }
        if len(self._buckets) >= MAX_BUCKETS:
            self._buckets.clear()
