"""Ingestion: from parsed points to an acknowledgement, through keys and the writer."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from starlette.types import Scope

from aerie.accounts import User
from aerie.errors import BadRequest, NotAllowed
from aerie.keys import same_secret
from aerie.rollups import may_overflow, overflowing_stat
from aerie.settings import Settings
from aerie.stats import check_point_kind
from api_service.batch_turns import BatchTurns
from api_service.ez_signup import EzSignup
from api_service.keycache import INVALID_KEYS, NO_ACCOUNT, KeyCache, looked_up
from api_service.parsing import Limits, Point, classic_point, ez_points, json_ezkeys
from api_service.rate_limit import PointRateLimit
from api_service.writer import GroupCommitWriter, StatGone


@dataclass(frozen=True)
class Recorded:
    """What an acknowledged request recorded: ``items`` as sent, before fan-out."""

    items: int
    batch: bool


_ONE_CLASSIC = Recorded(1, False)  # every classic post's answer, made once


class Ingestor:
    def __init__(self, settings: Settings, keys: KeyCache, writer: GroupCommitWriter,
                 signup: EzSignup | None = None) -> None:
        """``signup``: make pending accounts for unknown e-mails (``AERIE_EZ_SIGNUP``)."""
        self._signup = signup
        self._keys = keys
        self._writer = writer
        self._rate_limit = PointRateLimit(settings.rate_limit_points)
        self._batch_turns = BatchTurns()
        self._limits = Limits(
            settings.batch_limit, settings.max_future_seconds, settings.max_past_days * 86400
        )

    def refuse_held_back(self, body: bytes) -> None:
        """Raise RateLimited, before an EZ body is parsed, if it names the ezkey of a
        known account held back after a rate-limit refusal.

        A flood's refused 1,000-item batches each cost the event loop a parse of their
        JSON, and other accounts' posts waited behind them (bench/fairness.py with
        only batches in the flood: the quiet account's p99 went 20x). A body that
        hides its ezkey (escaped) is parsed, and refused after, as before.
        """
        for ezkey in json_ezkeys(body):
            user = self._keys.cached_user_by_ezkey(ezkey)
            if user is not None:
                self._rate_limit.check(user.id, 0)

    async def record_ez(self, params: dict[str, Any], scope: Scope | None = None) -> Recorded:
        """Record an EZ request (single or batch), creating stats on first use (and, with
        EZ sign-up, a pending account for an unknown e-mail; ``scope``, the request's,
        says which client asked)."""
        ezkey = params.get("ezkey") or params.get("email")  # "email" is the pre-2012 name
        if not ezkey or not isinstance(ezkey, str):
            raise BadRequest("no ezkey specified")
        now = time.time()
        data = params.get("data")
        items = len(data) if isinstance(data, list) else 1
        user = await self._keys.user_by_ezkey(ezkey)
        if user is None:
            return await self._record_ez(params, ezkey, None, now, items, scope)
        # past its rate, a batch is turned away before its points are read: reading
        # them was most of what a flood's refused batches cost everyone else
        self._rate_limit.check(user.id, items)
        async with self._batch_turns.turn(user.id, items, now):
            return await self._record_ez(params, ezkey, user, now, items, scope)

    async def _record_ez(self, params: dict[str, Any], ezkey: str, user: User | None,
                         now: float, items: int, scope: Scope | None) -> Recorded:
        points = ez_points(params, now, self._limits)
        _refuse_overflowing_sums(points)
        if user is None and self._signup is not None and scope is not None:
            user = await self._signup.account_for(ezkey, scope, int(now))
        if user is None:
            raise NotAllowed(NO_ACCOUNT)
        if not user.ez_enabled:
            raise NotAllowed("EZ posting is turned off for this account; turn it on in settings")
        # charged before any stat is created, so a flood of new names is limited too
        self._rate_limit.take(user.id, len(points))
        # every name's kind is checked against its stat here, so its points need not be;
        # a pending account's smaller limit is held where the stats are created, so two
        # requests at once cannot both pass it
        limit = self._signup.max_stats if self._signup and user.pending_until is not None else 0
        kinds = _kinds_by_name(points)
        for last_try in (False, True):
            stats = await self._keys.stats_for_names(user.id, kinds, int(now), limit)
            ids = {name: stat.id for name, stat in stats.items()}
            try:
                await self._writer.add([(ids[stat], t, x) for stat, _kind, x, t in points],
                                       int(now), user.id, looked_up(stats.values()))
                break
            except StatGone:
                # a stat was deleted since the cache found it: find or make it anew
                self._keys.forget(stats.values())
                if last_try:
                    raise
        return Recorded(items, "data" in params)

    async def record_classic(self, params: dict[str, Any], kind: str) -> Recorded:
        """Record a classic ``/c`` or ``/v`` request: the stat must exist already."""
        ukey, key = params.get("ukey"), params.get("key")
        if not ukey or not isinstance(ukey, str):
            raise BadRequest("no ukey specified")
        if not key or not isinstance(key, str):
            raise BadRequest("no key specified")
        now = time.time()
        point = classic_point(params, kind, now, self._limits)
        found = self._keys.cached_classic_stat(key) or await self._keys.classic_stat(key)
        if found is None or not same_secret(found[1], ukey):
            raise NotAllowed(f"{INVALID_KEYS}: ukey and key match no stat")
        stat = found[0]
        check_point_kind(stat, point.kind)
        self._rate_limit.take(stat.user_id, 1)
        self._batch_turns.saw(stat.user_id, now)
        try:
            await self._writer.add([(stat.id, point.t, point.x)], int(now), stat.user_id,
                                   {stat.id: stat.public_id})
        except StatGone:  # deleted since the cache found it: its key is no stat's now
            self._keys.forget([stat])
            raise NotAllowed(f"{INVALID_KEYS}: ukey and key match no stat") from None
        return _ONE_CLASSIC


def _kinds_by_name(points: list[Point]) -> dict[str, str]:
    """Each named stat's kind in this request; one request may not mix kinds for a name."""
    kinds: dict[str, str] = {}
    for stat, kind, _x, _t in points:
        if kinds.setdefault(stat, kind) != kind:
            raise BadRequest(
                f"stat {stat!r} gets both counts and values in one request; "
                "a stat is a counter or a value, not both"
            )
    return kinds


def _refuse_overflowing_sums(points: list[Point]) -> None:
    """Refuse, before any stat is created, a request whose own points overflow a sum
    (what is stored already is the writer's to check)."""
    if len(points) < 2 or not may_overflow(point.x for point in points):
        return
    name = overflowing_stat((point.stat, point.t, point.x) for point in points)
    if name is not None:
        raise BadRequest(
            f"stat {name!r} cannot take these numbers: their total is too large to store; "
            "nothing from this request was recorded"
        )
