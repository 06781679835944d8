"""A Graphite plaintext listener: ``path value timestamp`` lines over TCP and UDP.

Each path is a value stat of the listener's account, or a counter when it matches one of
``AERIE_GRAPHITE_COUNTERS`` (globs such as ``*.count``). Points keep their timestamps
(no timestamp, or ``-1``, means now) within the API's past and future limits; a line
out of them, or unreadable, is counted and skipped.

TCP is read no faster than points are committed: a connection reads and parses while its
last batch commits, then hands all it parsed meanwhile to the group-commit writer as the
next batch. Past ``MAX_PENDING_POINTS`` waiting, it stops reading until the commit is
done; the kernel's and asyncio's buffers fill and TCP flow control slows the sender, so a
flood costs bounded memory. The pickle protocol is not offered: unpickling bytes from
the network runs whatever code they name.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import math
import time
from dataclasses import dataclass

from aerie.errors import AerieError, BadRequest
from aerie.monitor import Metrics
from aerie.schema import COUNTER, VALUE
from aerie.settings import Settings
from aerie.stats import check_name
from aerie.text_rules import check_text, is_decimal
from api_service.listener_sink import AccountSink, account_sink, point_limits
from api_service.parsing import Limits, Point, new_point

log = logging.getLogger("aerie.graphite")

# One read: asyncio's reader pauses the socket past twice its limit, so a connection's
# buffer holds about twice this; its parsed points waiting for a commit are bounded
# by MAX_PENDING_POINTS.
READ_BYTES = 512 * 1024
# Points a TCP connection parses while its last batch commits, at most (some 10 MB).
MAX_PENDING_POINTS = 100_000
# UDP cannot be slowed down: past this many points waiting for a commit, datagrams are dropped.
MAX_PENDING_UDP_POINTS = 100_000
KNOWN_PATHS = 100_000  # paths whose checked name and kind are remembered
_DECIMAL_BYTES = b"0123456789+-.eE"  # what an ASCII decimal number is spelled with


class Malformed(ValueError):
    """A line that is not ``path value [timestamp]``; the message says why."""


class OutOfRange(Malformed):
    """A point whose time is beyond the API's past or future limit."""


@dataclass(frozen=True)
class LineRules:
    """How lines become points: the time limits and which paths are counters."""

    limits: Limits
    counter_patterns: tuple[str, ...] = ()

    def kind_of(self, path: str) -> str:
        if any(fnmatch.fnmatchcase(path, pattern) for pattern in self.counter_patterns):
            return COUNTER
        return VALUE


def parse_line(line: bytes, now: float, rules: LineRules) -> Point:
    """The point ``line`` holds; raises Malformed (or OutOfRange) saying what is wrong."""
    try:
        fields = line.decode().split()
    except UnicodeDecodeError:
        raise Malformed("not UTF-8") from None
    if len(fields) not in (2, 3):
        raise Malformed("expected 'path value timestamp'")
    path = _checked_path(fields[0])
    x = _number(fields[1], "value")
    t = now if len(fields) == 2 or fields[2] == "-1" else _number(fields[2], "timestamp")
    if t > now + rules.limits.max_future_seconds:
        raise OutOfRange(f"timestamp {fields[2]} is too far in the future")
    if t < now - rules.limits.max_past_seconds:
        raise OutOfRange(f"timestamp {fields[2]} is too far in the past")
    return Point(path, rules.kind_of(path), x, t)


def _checked_path(path: str) -> str:
    try:
        return check_name(check_text("metric path", path))
    except BadRequest as exc:
        raise Malformed(exc.message) from None


def _number(text: str, what: str) -> float:
    if not is_decimal(text):
        raise Malformed(f"{what} {text!r} is not a decimal number")
    number = float(text)
    if not math.isfinite(number):
        raise Malformed(f"{what} {text!r} is too large")
    return number


def parse_lines(data: bytes, now: float, rules: LineRules, metrics: Metrics,
                known: dict[bytes, tuple[str, str]]) -> list[Point]:
    """The points of every good line in ``data``; bad ones are counted and skipped.

    ``known`` remembers the checked name and kind of each path seen, so the common line
    (a known path, a decimal value, whole seconds in range) skips ``parse_line``.
    """
    points = []
    earliest = now - rules.limits.max_past_seconds
    latest = now + rules.limits.max_future_seconds
    for line in data.split(b"\n"):
        fields = line.split()
        if not fields:
            continue
        if (len(fields) == 3 and fields[2].isdigit() and (found := known.get(fields[0]))
                and not fields[1].translate(None, _DECIMAL_BYTES)):
            # float() takes exactly is_decimal's forms once only these bytes are left
            try:
                x = float(fields[1])
            except ValueError:
                x = math.nan  # the full parse below says what is wrong
            t = int(fields[2])
            if earliest <= t <= latest and math.isfinite(x):
                points.append(new_point(Point, (found[0], found[1], x, t)))
                continue
        try:
            point = parse_line(line, now, rules)
            points.append(point)
            if fields[0] == point.stat.encode():  # split alike as bytes and as text
                if len(known) >= KNOWN_PATHS:
                    known.clear()
                known[fields[0]] = (point.stat, point.kind)
        except OutOfRange:
            metrics.count("aerie graphite out-of-range points")
        except Malformed as exc:
            log.debug("graphite line %r skipped: %s", line[:200], exc)
            metrics.count("aerie graphite malformed lines")
    return points


class PendingPoints:
    """Points a TCP connection has parsed and its flusher has not yet taken."""

    def __init__(self) -> None:
        self._points: list[Point] = []
        self._closed = False
        self._failure: BaseException | None = None
        self._ready = asyncio.Event()  # points to take, or closed
        self._room = asyncio.Event()  # below MAX_PENDING_POINTS, or failed
        self._room.set()

    async def put(self, points: list[Point]) -> None:
        """Add ``points``, first waiting for room; raises what failed the flusher."""
        await self._room.wait()
        if self._failure is not None:
            raise self._failure
        self._points += points
        if self._points:
            self._ready.set()
        if len(self._points) >= MAX_PENDING_POINTS:
            self._room.clear()

    async def take(self) -> list[Point]:
        """All points held, waiting for some; empty once closed with none left."""
        await self._ready.wait()
        points, self._points = self._points, []
        if not self._closed:
            self._ready.clear()
        self._room.set()
        return points

    def close(self) -> None:
        self._closed = True
        self._ready.set()

    def fail(self, failure: BaseException) -> None:
        self._failure = failure
        self._room.set()


class GraphiteDatagrams(asyncio.DatagramProtocol):
    def __init__(self, listener: GraphiteListener) -> None:
        self._listener = listener

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self._listener.take_datagram(data)


class GraphiteListener:
    """TCP and UDP on one port; ``stop`` commits what was read."""

    def __init__(self, sink: AccountSink, rules: LineRules, host: str, port: int) -> None:
        self.sink = sink
        self.rules = rules
        self.host, self.port = host, port
        # the most one connection has held at once, read and parsed (for tests)
        self.peak_batch_bytes = 0
        self.peak_pending_points = 0
        self._tcp: asyncio.Server | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._udp_points: list[Point] = []
        self._udp_drain: asyncio.Task[None] | None = None
        self._stopping = False
        self._known: dict[bytes, tuple[str, str]] = {}

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tcp = await asyncio.start_server(self._serve_connection, self.host, self.port,
                                               limit=READ_BYTES)
        self._udp, _ = await loop.create_datagram_endpoint(
            lambda: GraphiteDatagrams(self), local_addr=(self.host, self.port))

    async def _serve_connection(self, reader: asyncio.StreamReader,
                                writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        try:
            await self._read_until_eof(reader)
        except (ConnectionError, AerieError) as exc:
            log.warning("graphite connection closed: %s", exc)
        except Exception:  # the database may be away: the sender reconnects
            log.exception("graphite connection closed")
        finally:
            del self._connections[task]
            writer.close()

    async def _read_until_eof(self, reader: asyncio.StreamReader) -> None:
        """Read and parse while the connection's last batch commits; the connection's
        flusher hands everything parsed meanwhile to the writer as its next batch.

        So a batch is what arrived during one commit: a slow disk makes larger, fewer
        commits (a commit's cost is mostly the index pages it touches, about the same
        for one point per metric as for fifty). Past ``MAX_PENDING_POINTS`` parsed and
        not yet handed over, reading waits: the back-pressure. Whatever was read is
        committed before the connection closes, however it ends.
        """
        pending = PendingPoints()
        flusher = asyncio.create_task(self._flush(pending), name="aerie-graphite-flush")
        try:
            held = b""
            while chunk := await reader.read(READ_BYTES):
                complete, newline, held = (held + chunk).rpartition(b"\n")
                self.peak_batch_bytes = max(self.peak_batch_bytes, len(complete) + len(held))
                if newline:
                    await pending.put(self._parse(complete))
                if len(held) > READ_BYTES:  # no newline in a whole batch: not Graphite
                    self.sink.metrics.count("aerie graphite malformed lines")
                    held = b""
            if held and not self._stopping:  # the sender's last line, without its newline
                await pending.put(self._parse(held))
        finally:
            pending.close()
            await flusher

    async def _flush(self, pending: PendingPoints) -> None:
        """Commit what ``pending`` holds, batch after batch, until it is closed and empty."""
        try:
            while points := await pending.take():
                self.peak_pending_points = max(self.peak_pending_points, len(points))
                done = await self.sink.record(points, time.time(), wait_for_rate=True)
                if done is not None:
                    await asyncio.shield(done)
        except BaseException as exc:
            pending.fail(exc)
            raise

    def _parse(self, data: bytes) -> list[Point]:
        return parse_lines(data, time.time(), self.rules, self.sink.metrics, self._known)

    def take_datagram(self, data: bytes) -> None:
        points = self._parse(data)
        if len(self._udp_points) + len(points) > MAX_PENDING_UDP_POINTS:
            self.sink.metrics.count("aerie graphite dropped points", len(points))
            return
        self._udp_points += points
        if self._udp_drain is None or self._udp_drain.done():
            self._udp_drain = asyncio.create_task(self._drain_udp(), name="aerie-graphite-udp")

    async def _drain_udp(self) -> None:
        while self._udp_points:
            points, self._udp_points = self._udp_points, []
            try:
                done = await self.sink.record(points, time.time())
                if done is not None:
                    await asyncio.shield(done)
            except Exception:  # UDP is lossy anyway; the next datagram tries again
                log.exception("graphite UDP points not written")

    async def stop(self) -> None:
        """Stop accepting; end every connection after what it has read is committed."""
        self._stopping = True
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
        for writer in list(self._connections.values()):
            writer.transport.close()  # the reader sees EOF once its buffer is read
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._udp_drain is not None:
            await self._udp_drain


def rules_from(settings: Settings) -> LineRules:
    return LineRules(point_limits(settings), settings.graphite_counter_patterns)


async def serve_graphite(settings: Settings, email: str, host: str, port: int,
                         stop: asyncio.Event) -> None:
    """``aerie graphite``: listen for ``email``'s account until ``stop`` is set."""
    async with account_sink(settings, email, "graphite") as sink:
        listener = GraphiteListener(sink, rules_from(settings), host, port)
        await listener.start()
        log.info("graphite listening on tcp and udp %s:%d for %s", host, port, email)
        await stop.wait()
        await listener.stop()
