"""Per-account ingestion rate limits: a token bucket of points per account, in process.

One account flooding the API used to take the writer and SQLite's lock from
everyone else. Each account now has a bucket that refills at ``rate`` points
per second and holds ``BURST_SECONDS`` seconds' worth; a request that needs
more points than the bucket holds is refused, whole, with 429 and how long to
wait. Until the bucket has refilled enough for the request refused, the account
is held back: every request of its is refused, whatever its size, which a
caller can tell from the account alone (``check(account, 0)``), before reading
a body's points. The buckets live in one API process: with N processes an account may
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
    """429: the account posted more points than its rate. ``held_seconds``: until its
    hold ends; ``retry_after``: the same in whole seconds (at least 1)."""

    def __init__(self, rate: float, held_seconds: float) -> None:
        self.held_seconds = held_seconds
        self.retry_after = max(1, math.ceil(held_seconds))
        super().__init__(f"rate limit: at most {rate:g} points per second for this account; "
                         f"retry after {self.retry_after} s")


class PointRateLimit:
    """Token buckets of points, keyed by account (user id)."""

    def __init__(self, rate: float) -> None:
        """``rate``: points per second per account; 0 lets everything through."""
        self._rate = rate
        self._capacity = rate * BURST_SECONDS
        # user id -> (tokens, at, held back until): monotonic times
        self._buckets: dict[int, tuple[float, float, float]] = {}

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
        self._buckets[account] = (tokens - points, now, 0.0)

    def check(self, account: int, points: int) -> None:
        """Raise RateLimited if ``points`` would be refused now; charges nothing (so a
        request can be turned away before the work of reading all its points). With
        ``points`` 0, whether the account is held back after a refusal (or in debt)."""
        if self._rate:
            self._refuse_past(account, points, time.monotonic())

    def _refuse_past(self, account: int, points: int, now: float) -> float:
        """The account's tokens now; raises RateLimited if ``points`` need more."""
        rate, capacity = self._rate, self._capacity
        tokens, at, held_until = self._buckets.get(account, (capacity, now, 0.0))
        tokens = min(capacity, tokens + (now - at) * rate)
        needed = min(points, capacity)
        if now < held_until:
            raise RateLimited(rate, held_until - now)
        if tokens < needed:
            wait = (needed - tokens) / rate
            self._buckets[account] = (tokens, now, now + wait)
            raise RateLimited(rate, wait)
        return tokens

    def _forget_full(self, now: float) -> None:
        rate, capacity = self._rate, self._capacity
        self._buckets = {
            account: bucket for account, bucket in self._buckets.items()
            if bucket[0] + (now - bucket[1]) * rate < capacity
        }
        if len(self._buckets) >= MAX_BUCKETS:
            self._buckets.clear()
