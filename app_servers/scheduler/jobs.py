"""What every step of a scheduler pass works with, and the graph its mail shows."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from aerie.clock import Clock
from aerie.contracts import RenderParams
from aerie.errors import AerieError
from aerie.mail import MailComposer
from aerie.settings import Settings
from aerie.stats import Stat
from rpc.clients import GraphClient

log = logging.getLogger("aerie.scheduler")


class LeaseLost(Exception):
    """Another copy holds the lease now: this one stops its pass at once."""


@dataclass(frozen=True)
class Job:
    """The lease holder's means: settings, database, graph servers, clock, the mail's
    wording, and ``keep_lease`` (called between items; raises LeaseLost once another
    copy holds the lease)."""

    settings: Settings
    engine: Engine
    graph: GraphClient
    clock: Clock
    mail: MailComposer
    keep_lease: Callable[[], None]

    def now(self) -> int:
        return int(self.clock())

    async def graph_png(self, stat: Stat, zone: str, timeframe: str, width: int, height: int,
                        style: str = "full") -> bytes | None:
        """The stat's graph for a mail; None if no graph server answers (the mail goes
        without it rather than not at all)."""
        try:
            drawn = await self.graph.render(RenderParams(
                user_id=stat.user_id, stat_ids=[stat.public_id], timeframe=timeframe,
                previous=False, format="png", width=width, height=height, timezone=zone,
                style=style))
        except AerieError as exc:
            log.warning("no graph of stat %s for a mail: %s", stat.public_id, exc.message)
            return None
        return base64.b64decode(drawn.body) if drawn.body else None
