"""Page reads from MariaDB replicas, without stale pages after a change.

``ReadRouting.engine()`` is the engine a page read uses: a replica no further behind
the primary than ``max_lag`` seconds, or the primary when none is. Lag is measured
with GTIDs only (no privilege beyond the application's own database is needed):
every second or so the primary's ``@@gtid_binlog_pos`` is sampled with the time, and
a replica is as far behind as the oldest sample its ``@@gtid_slave_pos`` has not
reached. Read-your-writes: after a change, the web app hands the client the
primary's position (``seen_position``); a later page for that client, in any web
copy, waits on the replica for it with ``MASTER_GTID_WAIT`` (sub-millisecond when
already there) and reads the primary instead if it does not arrive in time.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text

from aerie.db import server_engine
from aerie.readiness import one_line
from aerie.settings import Settings

log = logging.getLogger("aerie.replicas")

REFRESH_SECONDS = 1.0  # how often lag is measured (lazily, by the reads that need it)
WAIT_SECONDS = 1.0  # the most a page waits for a replica to reach its client's change
# A GTID position: comma-separated domain-server-sequence triples.
POSITION = re.compile(r"^(\d{1,10}-\d{1,10}-\d{1,20})(,\d{1,10}-\d{1,10}-\d{1,20})*$")

# The primary position the current request's client has seen (its last change), if any.
seen_position: ContextVar[str | None] = ContextVar("seen_position", default=None)

Position = dict[int, int]  # replication domain -> sequence number


def parse_position(text_: str) -> Position:
    """``0-1-42,1-2-7`` as {domain: sequence}; an empty text is the empty position."""
    position: Position = {}
    for gtid in filter(None, (part.strip() for part in text_.split(","))):
        domain, _server, sequence = gtid.split("-")
        position[int(domain)] = max(int(sequence), position.get(int(domain), 0))
    return position


def valid_position(text_: str) -> bool:
    return len(text_) <= 400 and POSITION.match(text_) is not None


def reached(replica: Position, wanted: Position) -> bool:
    return all(replica.get(domain, -1) >= sequence for domain, sequence in wanted.items())


@dataclass
class Replica:
    name: str  # host:port, for /readyz
    engine: Engine
    lag: float | None = None  # seconds behind; None: not measured yet, or unreachable
    problem: str | None = "not measured yet"


class ReadRouting:
    """Where page reads go: a replica that keeps up, else the primary."""

    def __init__(self, primary: Engine, replicas: list[Replica], max_lag: float) -> None:
        self._primary = primary
        self._replicas = replicas
        self._max_lag = max_lag
        self._samples: deque[tuple[float, Position]] = deque()
        self._lock = threading.Lock()
        self._measured_at = -REFRESH_SECONDS

    @classmethod
    def from_settings(cls, settings: Settings, primary: Engine) -> ReadRouting:
        replicas = [Replica(_host_port(url), server_engine(settings, [url], pre_ping=True))
                    for url in settings.replica_nodes]
        return cls(primary, replicas, settings.max_replica_lag_seconds)

    @property
    def primary(self) -> Engine:
        return self._primary

    def engine(self) -> Engine:
        """The engine for a page read (blocking: call it from a worker thread)."""
        if not self._replicas:
            return self._primary
        self._measure_now_and_then()
        wanted = seen_position.get()
        for replica in self._replicas:
            if replica.problem is not None:
                continue
            if wanted is None or self._waited_for(replica, wanted):
                return replica.engine
        return self._primary

    def connect(self) -> Connection:
        """A connection for reads (blocking): ``engine().connect()``, so a server that only
        reads can take this in place of an engine."""
        return self.engine().connect()

    def report(self) -> dict[str, str] | None:
        """Each replica's state for /readyz: "ok", or why page reads skip it; None without
        replicas (reads go to the primary)."""
        if not self._replicas:
            return None
        self._measure_now_and_then()
        return {r.name: r.problem or f"ok, {r.lag:.1f} s behind" for r in self._replicas}

    def primary_position(self) -> str:
        """The primary's position now: what a client that just changed something has seen."""
        with self._primary.connect() as conn:
            return str(conn.execute(text("SELECT @@gtid_binlog_pos")).scalar_one())

    def dispose(self) -> None:
        """Close the replicas' connections (the primary's engine is its owner's to dispose)."""
        for replica in self._replicas:
            replica.engine.dispose()

    def _waited_for(self, replica: Replica, wanted: str) -> bool:
        try:
            with replica.engine.connect() as conn:
                outcome = conn.execute(text("SELECT MASTER_GTID_WAIT(:pos, :timeout)"),
                                       {"pos": wanted, "timeout": WAIT_SECONDS}).scalar_one()
        except Exception as exc:  # noqa: BLE001 - a replica that fails is skipped
            replica.problem = one_line(exc)
            return False
        return bool(outcome == 0)

    def _measure_now_and_then(self) -> None:
        now = time.monotonic()
        if now - self._measured_at < REFRESH_SECONDS or not self._lock.acquire(blocking=False):
            return
        try:
            self._measured_at = now
            self._measure(now)
        finally:
            self._lock.release()

    def _measure(self, now: float) -> None:
        try:
            self._samples.append((now, parse_position(self.primary_position())))
        except Exception as exc:  # noqa: BLE001 - without the primary, lag cannot be told
            log.warning("cannot read the primary's GTID position: %s", one_line(exc))
            return
        while len(self._samples) > 1 and now - self._samples[1][0] > self._max_lag * 2:
            self._samples.popleft()
        for replica in self._replicas:
            try:
                with replica.engine.connect() as conn:
                    applied = parse_position(str(conn.execute(
                        text("SELECT @@gtid_slave_pos")).scalar_one()))
            except Exception as exc:  # noqa: BLE001 - a replica that fails is skipped
                replica.lag, replica.problem = None, one_line(exc)
                continue
            replica.lag = self._lag(applied, now)
            replica.problem = None
            if replica.lag > self._max_lag:
                replica.problem = (f"{replica.lag:.0f} s behind the primary, more than "
                                   f"AERIE_MAX_REPLICA_LAG_SECONDS={self._max_lag:g}: skipped")

    def _lag(self, applied: Position, now: float) -> float:
        """Seconds since the oldest primary sample this replica has not reached; 0 when
        it has reached them all."""
        for at, position in self._samples:
            if not reached(applied, position):
                return now - at
        return 0.0


def _host_port(url: str) -> str:
    tail = url.split("@", 1)[-1]
    return tail.split("/", 1)[0]


def dispose(routing: ReadRouting, primary: Engine) -> None:
    """Close every connection of a read-only server: its replicas' and its primary's."""
    routing.dispose()
    primary.dispose()
