"""Posting to the ingestion API and reading the numbers back through the export API.

Read-backs go through the web app's export API (``/x/TOKEN/...``), as a client
would, so a test checks what was stored, not what the API said it stored.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.conftest import Account
from tests.servers import RunningServer

FRAME = "1h1m"  # sixty one-minute points from ``start``


def recent_minute() -> int:
    """A whole minute ten minutes ago: room for points at ``t`` up to ``t + 10 min``."""
    now = int(time.time())
    return now - now % 60 - 600


def stat_info(web: RunningServer, account: Account, name: str) -> dict[str, Any] | None:
    """The account's stat object by name, or None if the account has no such stat."""
    answer = httpx.get(f"{web.url}/x/{account.token}/stat", params={"name": name})
    if answer.status_code == 404:
        return None
    answer.raise_for_status()
    stat: dict[str, Any] = answer.json()
    return stat


def stat_names(web: RunningServer, account: Account) -> list[str]:
    """Names of all the account's stats."""
    answer = httpx.get(f"{web.url}/x/{account.token}/statlist")
    answer.raise_for_status()
    return sorted(stat["name"] for stat in answer.json())


def points(web: RunningServer, account: Account, name: str, start: int) -> dict[int, float]:
    """The stat's one-minute points in the hour from ``start``, only those holding data.

    Counters are 0 and value stats null where nothing arrived; both are left out.
    Raises AssertionError if the stat does not exist.
    """
    stat = stat_info(web, account, name)
    assert stat is not None, f"stat {name!r} does not exist"
    answer = httpx.get(
        f"{web.url}/x/{account.token}/data/{stat['id']}", params={"t": FRAME, "start": start}
    )
    answer.raise_for_status()
    [series] = answer.json()
    assert series["name"] == name
    return {p["time"]: p["value"] for p in series["points"] if p["value"] not in (None, 0)}


def total(web: RunningServer, account: Account, name: str, start: int) -> float | None:
    """The sum of the stat's points in the hour from ``start``; None if the stat does not exist."""
    if stat_info(web, account, name) is None:
        return None
    return sum(points(web, account, name, start).values())


def ez(api: RunningServer, **params: Any) -> httpx.Response:
    """POST a form-encoded EZ request."""
    return httpx.post(f"{api.url}/ez", data=params)


def assert_error(answer: httpx.Response, status: int, says: str) -> str:
    """Check an error answer: its status, its JSON body with the same status, and its message."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {"status", "msg"}
    assert body["status"] == status
    assert says in body["msg"], body["msg"]
    msg: str = body["msg"]
    return msg
