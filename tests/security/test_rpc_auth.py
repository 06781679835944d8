"""The app servers answer only the web tier: calls signed with the shared RPC secret,
fresh and not replayed, to the methods each server declares.

Run against a real analysis server (on SQLite and MariaDB), as a local process
that is not the web tier would try to read someone's figures.
"""

from __future__ import annotations

import stat as file_mode
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Engine

from aerie.secret_key import load_rpc_secret
from aerie.settings import Settings
from ops.cli import build_parser
from ops.supervisor import roles_for
from rpc import AllReplicasDown, RpcClient
from rpc.signing import WINDOW_SECONDS, sign
from tests.conftest import Account, make_stat, put_points

pytestmark = pytest.mark.anyio


@pytest.fixture
def analysis_url(app_server_settings: Settings) -> str:
    return app_server_settings.analysis_replicas[0]


@pytest.fixture
def secret(settings: Settings) -> bytes:
    return load_rpc_secret(settings)


@pytest.fixture
def summary_body(engine: Engine, owner: Account) -> bytes:
    """A call asking for the owner's figures, as anyone on the host could write it."""
    stat = make_stat(engine, owner, "revenue", "counter")
    put_points(engine, stat, [(int(time.time()) - 60, 1234)])
    return orjson.dumps({"jsonrpc": "2.0", "method": "summarize", "id": 1,
                         "params": {"user_id": owner.user.id, "stat_id": stat.public_id,
                                    "timeframe": "1d"}})


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(url, content=body, trust_env=False,
                      headers={"content-type": "application/json", **(headers or {})})


def assert_refused(answer: httpx.Response, reason: str) -> None:
    """401 with a JSON-RPC error saying why, and nothing of the figures."""
    assert answer.status_code == 401
    error = answer.json()["error"]
    assert error["code"] == -32001
    assert reason in error["message"]
    assert "1234" not in answer.text


def test_an_unsigned_call_is_refused_with_401(analysis_url: str, summary_body: bytes) -> None:
    assert_refused(post(analysis_url, summary_body), "unsigned call")


def test_a_call_signed_with_another_secret_is_refused(
    analysis_url: str, summary_body: bytes
) -> None:
    headers = sign(b"a guess at the secret", summary_body)
    assert_refused(post(analysis_url, summary_body, headers), "bad signature")


@pytest.mark.parametrize("offset", [-(WINDOW_SECONDS + 5), WINDOW_SECONDS + 5])
def test_a_call_stamped_outside_the_window_is_refused(
    analysis_url: str, secret: bytes, summary_body: bytes, offset: int
) -> None:
    headers = sign(secret, summary_body, now=time.time() + offset)
    assert_refused(post(analysis_url, summary_body, headers), "stale call")


def test_a_signed_call_with_a_tampered_body_is_refused(
    analysis_url: str, secret: bytes, summary_body: bytes, outsider: Account
) -> None:
    headers = sign(secret, orjson.dumps({"jsonrpc": "2.0", "method": "overview", "id": 1,
                                         "params": {"user_id": outsider.user.id,
                                                    "stat_ids": []}}))
    assert_refused(post(analysis_url, summary_body, headers), "bad signature")


def test_a_replayed_call_is_refused(
    analysis_url: str, secret: bytes, summary_body: bytes
) -> None:
    headers = sign(secret, summary_body)
    assert post(analysis_url, summary_body, headers).status_code == 200

    assert_refused(post(analysis_url, summary_body, headers), "replayed call")


def test_a_signed_call_is_answered(analysis_url: str, secret: bytes, summary_body: bytes) -> None:
    answer = post(analysis_url, summary_body, sign(secret, summary_body))

    assert answer.status_code == 200
    assert answer.json()["result"]["current"]["total"] == 1234


@pytest.mark.parametrize("method", ["clock", "engine", "_connected", "__init__"])
def test_only_declared_methods_are_callable(
    analysis_url: str, secret: bytes, method: str
) -> None:
    body = orjson.dumps({"jsonrpc": "2.0", "method": method, "id": 1})

    error: dict[str, Any] = post(analysis_url, body, sign(secret, body)).json()["error"]

    assert error["code"] == -32601
    assert error["message"].endswith("(available: backtest, overview, rank_by_latest, summarize)")


async def test_a_client_with_the_wrong_secret_finds_the_service_unavailable_saying_why(
    analysis_url: str, owner: Account
) -> None:
    async with RpcClient("analysis", [analysis_url], secret=b"not the secret") as client:
        with pytest.raises(AllReplicasDown) as raised:
            await client.call("overview", user_id=owner.user.id, stat_ids=[])

    assert "HTTP 401, call refused: bad signature" in str(raised.value)
    assert "AERIE_RPC_SECRET" in str(raised.value)


def test_without_a_setting_the_rpc_secret_is_made_once_into_a_private_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "var" / "rpc_secret"

    first = load_rpc_secret(Settings(rpc_secret=""), path)

    assert len(first) >= 32
    assert file_mode.S_IMODE(path.stat().st_mode) == 0o600
    assert load_rpc_secret(Settings(rpc_secret=""), path) == first
    assert load_rpc_secret(Settings(rpc_secret="configured"), path) == b"configured"


def test_every_role_binds_to_loopback_unless_told_otherwise() -> None:
    defaults = Settings.model_construct()  # the defaults, whatever AERIE_* says here
    assert {role.host for role in roles_for(defaults)} == {"127.0.0.1"}
    for service in ("graph", "analysis", "scheduler"):
        assert build_parser().parse_args([service, "--port", "8010"]).host == "127.0.0.1"
