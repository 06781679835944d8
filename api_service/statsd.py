"""A StatsD listener: metrics over UDP (and TCP), aggregated per flush into one account's stats.

Lines are ``name:value|type[|@rate]``, several to a packet separated by newlines:
counters ``c`` (scaled by the sample rate) become counter stats; gauges ``g`` (``+N``/``-N``
change the last value), timers ``ms`` and histograms ``h`` (each sample a point, so the
rollups give count, mean, min and max, plus ``name.pNN`` percentile stats per flush) and
sets ``s`` (the number of distinct members per flush) become value stats. Every
``AERIE_STATSD_FLUSH_SECONDS`` what was gathered goes to the group-commit writer as one
batch; a clean stop flushes what is held. A line that cannot be read is counted
(``aerie statsd malformed lines``) and skipped: a listener never dies of its input.
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import time
from dataclasses import dataclass, field

from aerie.errors import AerieError, BadRequest
from aerie.monitor import Metrics
from aerie.schema import COUNTER, VALUE
from aerie.settings import Settings
from aerie.stats import check_name
from aerie.text_rules import check_text, is_decimal
from api_service.listener_sink import AccountSink, account_sink
from api_service.parsing import Point

log = logging.getLogger("aerie.statsd")

TYPES = frozenset({"c", "g", "ms", "h", "s"})
# A bigger receive buffer absorbs bursts while a flush resolves names; the kernel caps it
# at net.core.rmem_max.
RECEIVE_BUFFER_BYTES = 8 * 1024 * 1024
# Parsed lines are remembered by their bytes: senders repeat the same lines (``x:1|c``),
# and a dictionary hit costs a fraction of parsing again. Cleared when it grows past this.
PARSE_CACHE_SIZE = 50_000
TCP_READ_BYTES = 65536
# A flood must not starve the flush: past this many, reading yields to the event loop.
DATAGRAMS_PER_WAKEUP = 10_000


class Malformed(ValueError):
    """A line that is not StatsD; the message says why (for the log, never the sender)."""


@dataclass(frozen=True)
class Sample:
    """One parsed line: ``member`` is the raw value of a set, ``delta`` a signed gauge change."""

    name: str
    type: str
    value: float
    rate: float = 1.0
    delta: bool = False
    member: str = ""


def parse_line(line: bytes) -> Sample:
    """The sample ``line`` holds; raises Malformed saying what is wrong."""
    try:
        text = line.decode()
    except UnicodeDecodeError:
        raise Malformed("not UTF-8") from None
    name, colon, rest = text.partition(":")
    if not colon or not name:
        raise Malformed("no 'name:' before the value")
    try:
        check_name(check_text("metric name", name))
    except BadRequest as exc:
        raise Malformed(exc.message) from None
    fields = rest.split("|")
    if len(fields) < 2:
        raise Malformed("no '|type' after the value")
    raw, kind = fields[0], fields[1]
    if kind not in TYPES:
        raise Malformed(f"unknown type {kind!r}")
    rate = _sample_rate(fields[2:])
    if kind == "s":
        if not raw:
            raise Malformed("a set member is empty")
        return Sample(name, kind, 0.0, rate, member=raw)
    if not is_decimal(raw):
        raise Malformed(f"value {raw!r} is not a decimal number")
    value = float(raw)
    if not math.isfinite(value):
        raise Malformed(f"value {raw!r} is too large")
    return Sample(name, kind, value, rate, delta=kind == "g" and raw[0] in "+-")


def _sample_rate(extras: list[str]) -> float:
    """The ``@rate`` among the extra fields (DogStatsD ``#tags`` are ignored), or 1."""
    rate = 1.0
    for extra in extras:
        if extra.startswith("@"):
            if not is_decimal(extra[1:]) or not 0 < float(extra[1:]) <= 1:
                raise Malformed(f"sample rate {extra!r} is not a number in (0, 1]")
            rate = float(extra[1:])
        elif not extra.startswith("#"):
            raise Malformed(f"unknown field {extra!r}")
    return rate


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest rank: the smallest value with at least ``pct`` percent of values at or below it."""
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def percentile_suffix(pct: float) -> str:
    """``.p90``, ``.p99_9``: the name suffix of a percentile stat."""
    return ".p" + f"{pct:g}".replace(".", "_")


@dataclass
class Aggregator:
    """What arrived since the last flush, by name; call from the event loop's thread."""

    metrics: Metrics
    percentiles: tuple[float, ...] = ()
    counters: dict[str, float] = field(default_factory=dict)
    gauges: dict[str, float] = field(default_factory=dict)  # the last value of every gauge
    updated_gauges: set[str] = field(default_factory=set)
    samples: dict[str, list[float]] = field(default_factory=dict)  # timers and histograms
    sets: dict[str, set[str]] = field(default_factory=dict)
    lines: int = 0  # lines read since start, malformed ones included
    _parsed: dict[bytes, Sample | None] = field(default_factory=dict)

    def add_packet(self, data: bytes) -> None:
        """Take every line of a packet (or of a TCP chunk ending in a newline)."""
        for line in data.split(b"\n"):
            line = line.strip(b"\r ")
            if line:
                self.add_line(line)

    def add_line(self, line: bytes) -> None:
        self.lines += 1
        parsed = self._parsed
        try:
            sample = parsed[line]
        except KeyError:
            sample = self._parse(line)
            if len(parsed) >= PARSE_CACHE_SIZE:
                parsed.clear()
            parsed[line] = sample
        if sample is None:
            self.metrics.count("aerie statsd malformed lines")
            return
        kind = sample.type
        if kind == "c":
            self.counters[sample.name] = self.counters.get(sample.name, 0.0) + \
                sample.value / sample.rate
        elif kind == "g":
            last = self.gauges.get(sample.name, 0.0) if sample.delta else 0.0
            self.gauges[sample.name] = last + sample.value
            self.updated_gauges.add(sample.name)
        elif kind == "s":
            self.sets.setdefault(sample.name, set()).add(sample.member)
        else:
            self.samples.setdefault(sample.name, []).append(sample.value)

    def _parse(self, line: bytes) -> Sample | None:
        try:
            return parse_line(line)
        except Malformed as exc:
            log.debug("statsd line %r skipped: %s", line[:200], exc)
            return None

    def flush(self, now: float) -> list[Point]:
        """The points of everything gathered since the last flush, at ``now``; starts again."""
        points = [Point(name, COUNTER, total, now) for name, total in self.counters.items()]
        points += [Point(name, VALUE, self.gauges[name], now) for name in self.updated_gauges]
        for name, values in self.samples.items():
            points += [Point(name, VALUE, x, now) for x in values]
            if self.percentiles:
                values.sort()
                points += [Point(name + percentile_suffix(pct), VALUE,
                                      percentile(values, pct), now) for pct in self.percentiles]
        points += [Point(name, VALUE, float(len(members)), now)
                   for name, members in self.sets.items()]
        self.counters, self.samples, self.sets = {}, {}, {}
        self.updated_gauges = set()
        return points


@dataclass(frozen=True)
class StatsdOptions:
    host: str
    port: int
    tcp: bool
    flush_seconds: float
    percentiles: tuple[float, ...]

    @classmethod
    def from_settings(cls, settings: Settings, *, tcp: bool = False) -> StatsdOptions:
        return cls(settings.statsd_host, settings.statsd_port, tcp,
                   settings.statsd_flush_seconds, settings.statsd_percentile_list)


class StatsdListener:
    """Listens, aggregates and flushes every ``flush_seconds`` until ``stop``."""

    def __init__(self, sink: AccountSink, options: StatsdOptions) -> None:
        self.sink = sink
        self.options = options
        self.aggregator = Aggregator(sink.metrics, options.percentiles)
        self._udp: socket.socket | None = None
        self._tcp: asyncio.Server | None = None
        self._flushing: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        sock.bind((self.options.host, self.options.port))
        sock.setblocking(False)
        loop.add_reader(sock.fileno(), self._read_datagrams)
        self._udp = sock
        if self.options.tcp:
            self._tcp = await asyncio.start_server(
                self._read_tcp, self.options.host, self.options.port)
        self._flushing = asyncio.create_task(self._flush_every(), name="aerie-statsd-flush")

    def _read_datagrams(self) -> None:
        """Read what the socket holds, up to DATAGRAMS_PER_WAKEUP (then the loop calls again).

        Not asyncio's datagram transport: under uvloop it reads a handful of datagrams
        per wakeup, and while the commit thread holds the GIL each wakeup waits for it
        (up to the 5 ms switch interval), so during commits the kernel dropped datagrams
        (lossless 40,000 packets/s with it, 100,000 draining here: bench/README.md).
        """
        assert self._udp is not None
        receive, add_packet = self._udp.recv, self.aggregator.add_packet
        try:
            for _ in range(DATAGRAMS_PER_WAKEUP):
                add_packet(receive(65535))
        except BlockingIOError:
            pass
        except OSError as exc:
            log.warning("statsd UDP socket error: %s", exc)

    async def _read_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Lines over TCP: a chunk is taken up to its last newline, the rest kept for later."""
        held = b""
        try:
            while chunk := await reader.read(TCP_READ_BYTES):
                complete, newline, held = (held + chunk).rpartition(b"\n")
                if newline:
                    self.aggregator.add_packet(complete)
            self.aggregator.add_packet(held)
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _flush_every(self) -> None:
        """Flush every ``flush_seconds``, and once more when asked to stop."""
        while True:
            try:
                await asyncio.wait_for(self._stopping.wait(), self.options.flush_seconds)
            except TimeoutError:
                pass
            stopping = self._stopping.is_set()  # before the flush: then it is the last one
            try:
                await self.flush()
            except Exception:  # the database may be away: flush again later
                log.exception("statsd flush failed; its points are lost")
            if stopping:
                return

    async def flush(self) -> None:
        """Write what was gathered; waits for its commit (a failed one is logged, and lost)."""
        now = time.time()
        done = await self.sink.record(self.aggregator.flush(now), now)
        if done is None:
            return
        try:
            await asyncio.shield(done)
        except AerieError as exc:
            log.warning("statsd flush not written: %s", exc.message)

    async def stop(self) -> None:
        """Stop listening, then flush what is held and wait for its commit."""
        if self._udp is not None:
            asyncio.get_running_loop().remove_reader(self._udp.fileno())
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
        self._stopping.set()
        if self._flushing is not None:
            await self._flushing


async def serve_statsd(settings: Settings, email: str, options: StatsdOptions,
                       stop: asyncio.Event) -> None:
    """``aerie statsd``: listen for ``email``'s account until ``stop`` is set, then flush."""
    async with account_sink(settings, email, "statsd") as sink:
        listener = StatsdListener(sink, options)
        await listener.start()
        where = f"{options.host}:{options.port}"
        log.info("statsd listening on udp://%s%s for %s, flushing every %g s", where,
                    f" and tcp://{where}" if options.tcp else "", email, options.flush_seconds)
        await stop.wait()
        await listener.stop()
