"""The StatsD listener: real UDP and TCP packets, aggregated per flush into an account's stats."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import Engine

from aerie.schema import COUNTER, VALUE
from aerie.settings import Settings
from api_service.listener_sink import account_sink
from api_service.parsing import Point
from api_service.statsd import (
    Malformed,
    Sample,
    StatsdListener,
    StatsdOptions,
    parse_line,
    percentile,
)
from tests.api_service.listening import eventually, stored
from tests.conftest import Account, make_stat
from tests.servers import free_port

MALFORMED = "aerie statsd malformed lines"


@pytest.mark.parametrize(("line", "sample"), [
    (b"deploys:1|c", Sample("deploys", "c", 1.0)),
    (b"deploys:3|c|@0.1", Sample("deploys", "c", 3.0, rate=0.1)),
    (b"web.hits:-2.5|c", Sample("web.hits", "c", -2.5)),
    (b"load:0.42|g", Sample("load", "g", 0.42)),
    (b"load:+3|g", Sample("load", "g", 3.0, delta=True)),
    (b"load:-3|g", Sample("load", "g", -3.0, delta=True)),
    (b"rt:320|ms", Sample("rt", "ms", 320.0)),
    (b"rt:320|ms|@0.5", Sample("rt", "ms", 320.0, rate=0.5)),
    (b"size:1e3|h", Sample("size", "h", 1000.0)),
    (b"users:alice|s", Sample("users", "s", 0.0, member="alice")),
    (b"hits:1|c|#env:prod", Sample("hits", "c", 1.0)),
    ("caf\u00e9 visits:1|c".encode(), Sample("caf\u00e9 visits", "c", 1.0)),
])
def test_lines_parse_into_samples(line: bytes, sample: Sample) -> None:
    assert parse_line(line) == sample


@pytest.mark.parametrize("line", [
    b"deploys", b"deploys:1", b":1|c", b"deploys:1|x", b"deploys:one|c", b"deploys:|c",
    b"deploys:nan|c", b"deploys:1e999|c", b"deploys:1|c|@0", b"deploys:1|c|@2",
    b"deploys:1|c|@x", b"deploys:1|c|junk", b"users:|s", b"a\x1bb:1|c", b"\xff\xfe:1|c",
    b"x" * 300 + b":1|c", b"deploys:\xef\xbc\x91|c",
])
def test_malformed_lines_are_refused(line: bytes) -> None:
    with pytest.raises(Malformed):
        parse_line(line)


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(x) for x in range(1, 101)]
    assert (percentile(values, 90), percentile(values, 99), percentile(values, 100)) == (
        90.0, 99.0, 100.0)
    assert percentile([5.0], 50) == 5.0


@asynccontextmanager
async def listening(settings: Settings, owner: Account, *, tcp: bool = False,
                    flush_seconds: float = 3600.0, percentiles: tuple[float, ...] = ()
                    ) -> AsyncIterator[StatsdListener]:
    """A listener on a free port; leaving the block stops it, which flushes and commits."""
    options = StatsdOptions("127.0.0.1", free_port(), tcp, flush_seconds, percentiles)
    async with account_sink(settings, owner.user.email, "statsd") as sink:
        listener = StatsdListener(sink, options)
        await listener.start()
        try:
            yield listener
        finally:
            await listener.stop()


async def send_udp(listener: StatsdListener, *packets: bytes) -> None:
    """Send each packet as one datagram and wait until the listener has read every line."""
    before = listener.aggregator.lines
    lines = sum(len([x for x in p.split(b"\n") if x.strip()]) for p in packets)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for packet in packets:
            sock.sendto(packet, ("127.0.0.1", listener.options.port))
    await eventually(lambda: listener.aggregator.lines >= before + lines, "the packets")


pytestmark = pytest.mark.anyio


async def test_counters_are_summed_with_their_sample_rates(
        settings: Settings, engine: Engine, owner: Account) -> None:
    async with listening(settings, owner) as listener:
        await send_udp(listener, b"deploys:1|c\ndeploys:1|c|@0.1", b"deploys:2|c")

    deploys = stored(engine, owner.user.id, "deploys")
    assert deploys is not None and deploys.kind == COUNTER
    assert deploys.total == pytest.approx(13.0)


async def test_gauges_keep_their_last_value_and_take_deltas(
        settings: Settings, engine: Engine, owner: Account) -> None:
    async with listening(settings, owner) as listener:
        await send_udp(listener, b"load:5|g\nload:+2|g\nload:-0.5|g\nqueue:-3|g")
        await listener.flush()
        await send_udp(listener, b"load:+1|g")

    load = stored(engine, owner.user.id, "load")
    assert load is not None and load.kind == VALUE
    assert (load.n, load.low, load.high) == (2, 6.5, 7.5)
    queue = stored(engine, owner.user.id, "queue")
    assert queue is not None and queue.total == -3.0  # a delta with nothing before starts at 0


async def test_timers_give_count_mean_min_max_and_percentiles(
        settings: Settings, engine: Engine, owner: Account) -> None:
    timings = b"\n".join(b"rt:%d|ms" % ms for ms in range(1, 101))
    async with listening(settings, owner, percentiles=(90.0, 99.5)) as listener:
        await send_udp(listener, timings, b"size:7|h")

    rt = stored(engine, owner.user.id, "rt")
    assert rt is not None and rt.kind == VALUE
    assert (rt.n, rt.total / rt.n, rt.low, rt.high) == (100, 50.5, 1.0, 100.0)
    p90 = stored(engine, owner.user.id, "rt.p90")
    p995 = stored(engine, owner.user.id, "rt.p99_5")
    assert p90 is not None and p995 is not None
    assert (p90.n, p90.total, p995.total) == (1, 90.0, 100.0)
    size = stored(engine, owner.user.id, "size")
    assert size is not None and (size.n, size.total) == (1, 7.0)


async def test_sets_count_distinct_members_per_flush(
        settings: Settings, engine: Engine, owner: Account) -> None:
    async with listening(settings, owner) as listener:
        await send_udp(listener, b"users:alice|s\nusers:bob|s\nusers:alice|s")
        await listener.flush()
        await send_udp(listener, b"users:alice|s")

    users = stored(engine, owner.user.id, "users")
    assert users is not None and users.kind == VALUE
    assert (users.n, users.low, users.high) == (2, 1.0, 2.0)


async def test_malformed_lines_are_counted_and_skipped(
        settings: Settings, engine: Engine, owner: Account) -> None:
    async with listening(settings, owner) as listener:
        await send_udp(listener, b"good:1|c\nbad line\nworse:1|x\na\x1bb:1|c\ngood:1|c",
                       b"\xff\xff\xff")
        malformed = listener.sink.metrics.snapshot().counts.get(MALFORMED)

    assert malformed == 4
    good = stored(engine, owner.user.id, "good")
    assert good is not None and good.total == 2.0
    assert stored(engine, owner.user.id, "worse") is None


async def test_tcp_lines_are_taken_when_asked(
        settings: Settings, engine: Engine, owner: Account) -> None:
    async with listening(settings, owner, tcp=True) as listener:
        with socket.create_connection(("127.0.0.1", listener.options.port)) as sock:
            sock.sendall(b"jobs:2|c\njo")
            sock.sendall(b"bs:3|c\n")
        await eventually(lambda: listener.aggregator.lines >= 2, "the TCP lines")

    jobs = stored(engine, owner.user.id, "jobs")
    assert jobs is not None and jobs.total == 5.0


async def test_points_are_written_every_flush_interval(
        settings: Settings, engine: Engine, owner: Account) -> None:
    async with listening(settings, owner, flush_seconds=0.1) as listener:
        await send_udp(listener, b"beats:1|c")
        await eventually(lambda: stored(engine, owner.user.id, "beats") is not None,
                         "a flush while the listener runs")
        await send_udp(listener, b"beats:1|c")

    beats = stored(engine, owner.user.id, "beats")
    assert beats is not None and beats.total == 2.0


async def test_a_name_of_the_other_kind_or_past_the_stat_limit_is_skipped(
        settings: Settings, engine: Engine, owner: Account) -> None:
    make_stat(engine, owner, "temperature", VALUE)
    limited = settings.model_copy(update={"max_stats_per_account": 2})
    async with listening(limited, owner) as listener:
        await send_udp(listener, b"temperature:1|c\nfirst:1|c")
        await listener.flush()
        await send_udp(listener, b"second:1|c\nfirst:1|c")
    refused = listener.sink.metrics.snapshot().counts.get("aerie statsd refused points")

    temperature = stored(engine, owner.user.id, "temperature")
    assert temperature is not None and temperature.n == 0
    first = stored(engine, owner.user.id, "first")
    assert first is not None and first.total == 2.0
    assert stored(engine, owner.user.id, "second") is None
    assert refused == 2


async def test_a_refused_name_reaches_the_log_on_one_line(
        settings: Settings, owner: Account, caplog: pytest.LogCaptureFixture) -> None:
    """A name the stat rules refuse is logged escaped: a carriage return in a packet
    cannot forge a log line of its own."""
    async with account_sink(settings, owner.user.email, "statsd") as sink:
        await sink.record([Point("fine", COUNTER, 1.0, time.time()),
                           Point("forged\rERROR admin logged in", COUNTER, 1.0, time.time())],
                          time.time())
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert skipped and all("\r" not in message for message in skipped)
    assert "'forged\\rERROR admin logged in'" in skipped[0]
