"""SQLite's writer turn goes to the smallest waiting work, so a quiet account's
one-point commit never queues behind a flood's next large commit."""

from __future__ import annotations

import threading
import time

from api_service.write_turns import WriteTurns


def _wait_for_waiters(turns: WriteTurns, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(turns._waiting) < count:  # noqa: SLF001 - the test watches the queue fill
        assert time.monotonic() < deadline, "waiters never queued"
        time.sleep(0.001)


def test_the_smallest_waiting_work_goes_next_and_equals_go_in_arrival_order() -> None:
    turns = WriteTurns()
    entered: list[str] = []

    def work(name: str, cost: int) -> None:
        with turns.costing(cost), turns:
            entered.append(name)

    threads = []
    with turns:  # a transaction in progress while the others arrive
        for name, cost in [("flood commit", 4000), ("new stats", 100), ("quiet commit", 1),
                           ("second flood commit", 4000)]:
            thread = threading.Thread(target=work, args=(name, cost))
            thread.start()
            threads.append(thread)
            _wait_for_waiters(turns, len(threads))
    for thread in threads:
        thread.join(10)
    assert entered == ["quiet commit", "new stats", "flood commit", "second flood commit"]


def test_one_holder_at_a_time_even_under_contention() -> None:
    turns = WriteTurns()
    inside = 0
    most_inside = 0
    guard = threading.Lock()

    def work(cost: int) -> None:
        nonlocal inside, most_inside
        for _ in range(200):
            with turns.costing(cost), turns:
                with guard:
                    inside += 1
                    most_inside = max(most_inside, inside)
                time.sleep(0)  # give the others the interpreter while this one holds the turn
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=work, args=(cost,)) for cost in (1, 50, 100, 4000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert most_inside == 1
    assert not turns._waiting  # noqa: SLF001 - nobody left waiting
