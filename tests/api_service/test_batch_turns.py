"""While other accounts post, one account's large batches are read and written one at
a time, so a flood of batches cannot keep the event loop and SQLite's writer from
everyone else; an account posting alone keeps all of its batches in flight."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

import httpx
import pytest

from aerie.errors import Unavailable
from aerie.settings import Settings
from api_service import ingest
from api_service.app import create_app as api_app
from api_service.batch_turns import CONTENTION_SECONDS, LARGE_BATCH_ITEMS, MAX_WAITING, BatchTurns
from tests.api_service.helpers import recent_minute, total
from tests.conftest import Account
from tests.security.test_quotas import post
from tests.servers import RunningServer, serve

LARGE = LARGE_BATCH_ITEMS + 1
QUIET, FLOOD = 1, 2


async def most_at_once(turns: BatchTurns, requests: list[tuple[int, int]], now: float) -> int:
    """Run ``(account, items)`` requests at once through their turns, each holding it
    for a few loop turns; how many were inside at the same time, at most."""
    inside = most = 0

    async def request(account: int, items: int) -> None:
        nonlocal inside, most
        async with turns.turn(account, items, now):
            inside += 1
            most = max(most, inside)
            for _ in range(3):
                await asyncio.sleep(0)
            inside -= 1

    await asyncio.gather(*(request(account, items) for account, items in requests))
    return most


def test_an_account_posting_alone_keeps_all_its_batches_in_flight() -> None:
    turns = BatchTurns()

    assert asyncio.run(most_at_once(turns, [(FLOOD, LARGE)] * 8, now=100.0)) == 8


def test_while_another_account_posts_large_batches_go_one_at_a_time() -> None:
    turns = BatchTurns()
    turns.saw(QUIET, 100.0)

    assert asyncio.run(most_at_once(turns, [(FLOOD, LARGE)] * 8, now=100.5)) == 1


def test_small_requests_and_other_accounts_never_wait_for_a_flood_s_turn() -> None:
    turns = BatchTurns()
    turns.saw(QUIET, 100.0)
    requests = [(FLOOD, LARGE)] * 4 + [(FLOOD, LARGE_BATCH_ITEMS)] * 3 + [(QUIET, LARGE)]

    # one large flood batch, its three small posts and the quiet account's batch
    assert asyncio.run(most_at_once(turns, requests, now=100.5)) == 5


def test_the_turns_end_once_the_other_account_has_been_quiet_a_while() -> None:
    turns = BatchTurns()
    turns.saw(QUIET, 100.0)

    later = 100.0 + CONTENTION_SECONDS + 0.1
    assert asyncio.run(most_at_once(turns, [(FLOOD, LARGE)] * 8, now=later)) == 8


def test_a_batch_that_fails_gives_its_turn_to_the_next() -> None:
    turns = BatchTurns()
    turns.saw(QUIET, 100.0)

    async def scenario() -> list[str]:
        done = []

        async def failing() -> None:
            async with turns.turn(FLOOD, LARGE, 100.5):
                await asyncio.sleep(0)
                raise ValueError("a bad batch")

        async def next_one() -> None:
            async with turns.turn(FLOOD, LARGE, 100.5):
                done.append("next batch written")

        results = await asyncio.wait_for(
            asyncio.gather(failing(), next_one(), return_exceptions=True), 5)
        assert isinstance(results[0], ValueError)
        return done

    assert asyncio.run(scenario()) == ["next batch written"]


def test_too_many_batches_waiting_for_one_account_are_turned_away_with_503() -> None:
    turns = BatchTurns()
    turns.saw(QUIET, 100.0)

    async def scenario() -> None:
        release = asyncio.Event()

        async def held() -> None:
            async with turns.turn(FLOOD, LARGE, 100.5):
                await release.wait()

        tasks = [asyncio.create_task(held()) for _ in range(MAX_WAITING + 1)]
        await asyncio.sleep(0)  # the tasks' first steps run: one holds the turn, the rest wait
        with pytest.raises(Unavailable) as refused:
            turns.turn(FLOOD, LARGE, 100.5)
        assert refused.value.status == 503
        assert "retry shortly" in refused.value.message
        # another account's batch is not held to the flood's queue
        async with turns.turn(QUIET, LARGE, 100.5):
            pass
        release.set()
        await asyncio.gather(*tasks)
        async with turns.turn(FLOOD, LARGE, 100.5):  # the queue emptied: taken again
            pass

    asyncio.run(scenario())


def test_through_the_api_batches_sent_at_once_by_one_account_are_written_one_at_a_time(
    settings: Settings, owner: Account, outsider: Account, web: RunningServer,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every batch is still recorded, in full, while another account posts."""
    writing = most = 0
    real_record = ingest.Ingestor._record_ez  # noqa: SLF001 - counted, not replaced

    async def counting(self: ingest.Ingestor, *args: Any) -> ingest.Recorded:
        nonlocal writing, most
        writing += 1
        most = max(most, writing)
        try:
            return await real_record(self, *args)
        finally:
            writing -= 1

    monkeypatch.setattr(ingest.Ingestor, "_record_ez", counting)
    # the other account's post counts however slowly the machine reaches the batches
    monkeypatch.setattr(ingest, "BatchTurns", partial(BatchTurns, contention_seconds=3600))
    data = [{"stat": "load", "count": 1} for _ in range(LARGE)]

    async def send_batches(api: RunningServer) -> list[int]:
        async with httpx.AsyncClient() as client:
            answers = await asyncio.gather(*(
                client.post(f"{api.url}/ez", json={"ezkey": owner.ezkey, "data": data})
                for _ in range(6)))
        return [answer.status_code for answer in answers]

    with serve(api_app(settings.model_copy(update={"rate_limit_points": 0}))) as api:
        assert post(api, outsider, "quiet").status_code == 200
        assert asyncio.run(send_batches(api)) == [200] * 6

    assert most == 1
    assert total(web, owner, "load", recent_minute()) == 6 * LARGE
