"""The Graphite plaintext listener: real TCP and UDP lines, kept at their timestamps."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import Engine

from aerie.schema import COUNTER, VALUE
from aerie.settings import Settings
from api_service.graphite import (
    MAX_PENDING_POINTS,
    READ_BYTES,
    GraphiteListener,
    LineRules,
    Malformed,
    OutOfRange,
    parse_line,
    rules_from,
)
from api_service.listener_sink import NamedPoint, account_sink
from api_service.parsing import Limits
from tests.api_service.listening import eventually, stored
from tests.conftest import Account
from tests.servers import free_port

NOW = 1_800_000_000.0
RULES = LineRules(Limits(1000, 3600, 86400), ("*.count", "deploys"))


@pytest.mark.parametrize(("line", "point"), [
    (b"servers.web1.load 0.42 1799999940", NamedPoint("servers.web1.load", VALUE, 0.42,
                                                      1799999940.0)),
    (b"jobs.count 3 1799999940\r", NamedPoint("jobs.count", COUNTER, 3.0, 1799999940.0)),
    (b"deploys 1 -1", NamedPoint("deploys", COUNTER, 1.0, NOW)),
    (b"  a.b   -1.5e2   1800000000.5 ", NamedPoint("a.b", VALUE, -150.0, 1800000000.5)),
    (b"no.timestamp 7", NamedPoint("no.timestamp", VALUE, 7.0, NOW)),
    (b"jobs.count.rate 3 1800000000", NamedPoint("jobs.count.rate", VALUE, 3.0, NOW)),
])
def test_lines_parse_into_points_at_their_time(line: bytes, point: NamedPoint) -> None:
    assert parse_line(line, NOW, RULES) == point


@pytest.mark.parametrize("line", [
    b"lonely", b"a 1 2 3", b"a one 1800000000", b"a nan 1800000000", b"a 1 soon",
    b"a 1e999 1800000000", b"a\x1bb 1 1800000000", b"\xff 1 1800000000",
    b"x" * 300 + b" 1 1800000000", b"a \xef\xbc\x91 1800000000",
])
def test_malformed_lines_are_refused(line: bytes) -> None:
    with pytest.raises(Malformed):
        parse_line(line, NOW, RULES)


@pytest.mark.parametrize("line", [b"a 1 1800003601", b"a 1 1799913599", b"a 1 1800000000000"])
def test_points_beyond_the_time_limits_are_out_of_range(line: bytes) -> None:
    with pytest.raises(OutOfRange):
        parse_line(line, NOW, RULES)


@asynccontextmanager
async def listening(settings: Settings, owner: Account) -> AsyncIterator[GraphiteListener]:
    """A listener on a free port; leaving the block stops it, which commits what was read."""
    async with account_sink(settings, owner.user.email, "graphite") as sink:
        listener = GraphiteListener(sink, rules_from(settings), "127.0.0.1", free_port())
        await listener.start()
        try:
            yield listener
        finally:
            await listener.stop()


async def send_tcp(listener: GraphiteListener, data: bytes) -> None:
    """Send ``data`` on one connection, close our side, and wait for the listener to close
    its side: it does once every point it read is committed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(data)
    await writer.drain()
    writer.write_eof()
    assert await reader.read() == b""
    writer.close()
    await writer.wait_closed()


pytestmark = pytest.mark.anyio


async def test_tcp_points_keep_their_timestamps(
        settings: Settings, engine: Engine, owner: Account) -> None:
    now = int(time.time()) // 60 * 60
    async with listening(settings, owner) as listener:
        await send_tcp(listener, b"servers.web1.load 0.5 %d\nservers.web1.load 1.5 %d\n"
                       b"servers.web1.load 2.5 %d\nservers.web1.load 9 -1" % (
                           now - 7200, now - 7170, now - 60))
        # the connection's end came after the commit: nothing to wait for
        load = stored(engine, owner.user.id, "servers.web1.load")

    assert load is not None and load.kind == VALUE
    assert {bucket: (n, total) for bucket, (n, total, _lo, _hi) in load.minutes.items()
            if bucket < now} == {now - 7200: (2, 2.0), now - 60: (1, 2.5)}
    assert load.n == 4 and load.high == 9.0


async def test_out_of_range_and_malformed_lines_are_counted_and_skipped(
        settings: Settings, engine: Engine, owner: Account) -> None:
    now = int(time.time())
    future = now + settings.max_future_seconds + 600
    past = now - settings.max_past_days * 86400 - 600
    async with listening(settings, owner) as listener:
        await send_tcp(listener, b"ok 1 %d\nearly 1 %d\nlate 1 %d\nnot graphite\n" % (
            now, past, future))
        counts = listener.sink.metrics.snapshot().counts

    assert counts.get("aerie graphite out-of-range points") == 2
    assert counts.get("aerie graphite malformed lines") == 1
    ok = stored(engine, owner.user.id, "ok")
    assert ok is not None and ok.total == 1.0
    assert stored(engine, owner.user.id, "early") is None
    assert stored(engine, owner.user.id, "late") is None


async def test_paths_matching_a_counter_pattern_are_counters(
        settings: Settings, engine: Engine, owner: Account) -> None:
    counting = settings.model_copy(update={"graphite_counters": "*.count, deploys"})
    async with listening(counting, owner) as listener:
        await send_tcp(listener, b"jobs.count 2 -1\njobs.count 3 -1\njobs.time 4 -1\n"
                       b"deploys 1 -1\n")

    kinds = {name: getattr(stored(engine, owner.user.id, name), "kind", None)
             for name in ("jobs.count", "jobs.time", "deploys")}
    assert kinds == {"jobs.count": COUNTER, "jobs.time": VALUE, "deploys": COUNTER}
    jobs = stored(engine, owner.user.id, "jobs.count")
    assert jobs is not None and jobs.total == 5.0


async def test_udp_datagrams_are_taken(
        settings: Settings, engine: Engine, owner: Account) -> None:
    async with listening(settings, owner) as listener:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"udp.temp 21.5 -1\nudp.temp 22.5 -1\n", ("127.0.0.1", listener.port))
        await eventually(lambda: getattr(stored(engine, owner.user.id, "udp.temp"), "n", 0) == 2,
                         "the datagram's points")

    temp = stored(engine, owner.user.id, "udp.temp")
    assert temp is not None and temp.total == 44.0


async def test_a_flood_is_read_one_bounded_batch_at_a_time_and_all_committed(
        settings: Settings, engine: Engine, owner: Account) -> None:
    now = int(time.time())
    lines = 200_000  # about 5 MB: ten times what one batch may hold
    flood = b"".join(b"flood.m%d %d %d\n" % (i % 50, 1, now - 60 * (i % 30))
                     for i in range(lines))
    assert len(flood) > 8 * READ_BYTES
    async with listening(settings, owner) as listener:
        await send_tcp(listener, flood)
        peak = listener.peak_batch_bytes

    assert peak < 2 * READ_BYTES  # one read, plus the line it started with
    # parsed while a commit ran: at most the cap, plus one read's lines (each over 20 bytes)
    assert 0 < listener.peak_pending_points <= MAX_PENDING_POINTS + READ_BYTES // 20
    committed = [stored(engine, owner.user.id, f"flood.m{i}") for i in range(50)]
    assert sum(s.n for s in committed if s is not None) == lines


async def test_lines_that_arrive_during_a_commit_are_committed_without_waiting_for_more(
        settings: Settings, engine: Engine, owner: Account) -> None:
    async with listening(settings, owner) as listener:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        for value in range(1, 6):  # each write likely lands while the one before commits
            writer.write(b"trickle %d -1\n" % value)
            await writer.drain()
            await asyncio.sleep(0.001)
        await eventually(lambda: getattr(stored(engine, owner.user.id, "trickle"), "n", 0) == 5,
                         "every line, with the connection still open and idle")
        writer.close()

    trickle = stored(engine, owner.user.id, "trickle")
    assert trickle is not None and trickle.total == 15.0


async def test_a_clean_stop_ends_open_connections_after_committing_what_was_read(
        settings: Settings, engine: Engine, owner: Account) -> None:
    async with listening(settings, owner) as listener:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(b"open.conn 1 -1\nopen.conn 2 -1\nhalf.a.li")
        await writer.drain()
        await eventually(lambda: getattr(stored(engine, owner.user.id, "open.conn"), "n", 0) == 2,
                         "the lines read so far to be committed")
        await listener.stop()
        assert await reader.read() == b""  # the listener closed the connection
        writer.close()

    assert stored(engine, owner.user.id, "half.a.li") is None
