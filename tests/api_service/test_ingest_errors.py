"""Every refused request answers a real status, a JSON message saying what to fix, and writes nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from aerie.stats import Stat
from tests.api_service.conftest import Servers
from tests.api_service.helpers import (
    assert_error,
    ez,
    points,
    recent_minute,
    stat_info,
    stat_names,
)
from tests.conftest import Account, make_stat
from tests.servers import RunningServer

Params = Callable[[Account, int], dict[str, Any]]


def point(**extra: Any) -> Params:
    """A form EZ request by the account for the stat ``ghost`` at ``t``, changed by ``extra``."""

    def params(account: Account, t: int) -> dict[str, Any]:
        base = {"ezkey": account.ezkey, "stat": "ghost", "count": "1", "t": str(t)}
        base.update(extra)
        return {k: v for k, v in base.items() if v is not None}

    return params


def seconds_from_now(delta: int) -> Callable[[], str]:
    return lambda: str(int(time.time()) + delta)


EZ_REFUSALS = [
    pytest.param(point(ezkey=None), 400, "no ezkey specified", id="no-ezkey"),
    pytest.param(point(ezkey=""), 400, "no ezkey specified", id="empty-ezkey"),
    pytest.param(point(ezkey="nobody@example.com"), 403, "invalid keys", id="unknown-ezkey"),
    pytest.param(point(stat=None), 400, "no stat specified", id="no-stat"),
    pytest.param(point(count=None), 400, "no count or value specified", id="no-number"),
    pytest.param(point(value="2"), 400, "count or value, not both", id="both-numbers"),
    pytest.param(point(stat="g" * 256), 400, "255", id="name-256-chars"),
    pytest.param(point(stat="a~b~c"), 400, "'~'", id="tilde-left-after-fan-out"),
    pytest.param(point(stat="a~"), 400, "nothing after '~'", id="empty-fan-out"),
    pytest.param(point(stat="a~ , "), 400, "nothing after '~'", id="blank-fan-out"),
    pytest.param(point(stat="a~b," + "x" * 254), 400, "255", id="fanned-name-too-long"),
    pytest.param(point(count="nan"), 400, "count", id="count-nan"),
    pytest.param(point(count="inf"), 400, "count", id="count-inf"),
    pytest.param(point(count="1e999"), 400, "finite", id="count-overflows"),
    pytest.param(point(count="abc"), 400, "decimal number", id="count-not-a-number"),
    pytest.param(point(count=""), 400, "no count or value specified", id="count-empty"),
    pytest.param(point(count=None, value="NaN"), 400, "value", id="value-nan"),
    pytest.param(point(t="soon"), 400, "t must be", id="t-not-a-number"),
]


@pytest.mark.parametrize(("params", "status", "says"), EZ_REFUSALS)
def test_refused_ez_request_creates_nothing(
    servers: Servers, owner: Account, params: Params, status: int, says: str
) -> None:
    api, web = servers
    answer = ez(api, **params(owner, recent_minute()))
    msg = assert_error(answer, status, says)
    if says == "invalid keys":
        assert msg.startswith("invalid keys")
    assert stat_names(web, owner) == []


@pytest.mark.parametrize(
    ("t", "says"),
    [
        pytest.param(seconds_from_now(7200), "too far in the future", id="future"),
        pytest.param(lambda: str(int(time.time()) * 1000), "milliseconds", id="milliseconds"),
        pytest.param(seconds_from_now(-3651 * 86400), "too far in the past", id="past"),
    ],
)
def test_absurd_t_is_refused(
    servers: Servers, owner: Account, t: Callable[[], str], says: str
) -> None:
    api, web = servers
    answer = ez(api, ezkey=owner.ezkey, stat="ghost", count="1", t=t())
    assert_error(answer, 400, says)
    assert stat_names(web, owner) == []


def test_plain_future_t_does_not_mention_milliseconds(servers: Servers, owner: Account) -> None:
    api, _web = servers
    answer = ez(api, ezkey=owner.ezkey, stat="ghost", count="1", t=seconds_from_now(7200)())
    assert "milliseconds" not in assert_error(answer, 400, "future")


@pytest.fixture
def counter(engine: Engine, owner: Account, servers: Servers) -> Iterator[Stat]:
    """A counter holding 5 at ``recent_minute()``; the test must leave it at that."""
    api, web = servers
    stat = make_stat(engine, owner, "hits", "counter")
    t = recent_minute()
    assert ez(api, ezkey=owner.ezkey, stat="hits", count="5", t=t).status_code == 200
    yield stat
    assert points(web, owner, "hits", t) == {t: 5}


@pytest.fixture
def gauge(engine: Engine, owner: Account, servers: Servers) -> Iterator[Stat]:
    """A value stat holding 5 at ``recent_minute()``; the test must leave it at that."""
    api, web = servers
    stat = make_stat(engine, owner, "temp", "value")
    t = recent_minute()
    assert ez(api, ezkey=owner.ezkey, stat="temp", value="5", t=t).status_code == 200
    yield stat
    assert points(web, owner, "temp", t) == {t: 5}


def test_value_to_an_existing_counter_is_refused(
    servers: Servers, owner: Account, counter: Stat
) -> None:
    api, _web = servers
    answer = ez(api, ezkey=owner.ezkey, stat="hits", value="3", t=recent_minute())
    assert_error(answer, 400, "'hits' is a counter: send count")


def test_count_to_an_existing_value_stat_is_refused(
    servers: Servers, owner: Account, gauge: Stat
) -> None:
    api, _web = servers
    answer = ez(api, ezkey=owner.ezkey, stat="temp", count="3", t=recent_minute())
    assert_error(answer, 400, "'temp' is a value stat: send value")


def test_classic_value_to_a_counter_is_refused(
    servers: Servers, owner: Account, counter: Stat
) -> None:
    api, _web = servers
    answer = httpx.post(
        f"{api.url}/v",
        data={"ukey": owner.ukey, "key": counter.classic_key, "value": 3, "t": recent_minute()},
    )
    assert_error(answer, 400, "is a counter")


def test_classic_count_to_a_value_stat_is_refused(
    servers: Servers, owner: Account, gauge: Stat
) -> None:
    api, _web = servers
    answer = httpx.post(
        f"{api.url}/c",
        data={"ukey": owner.ukey, "key": gauge.classic_key, "count": 3, "t": recent_minute()},
    )
    assert_error(answer, 400, "is a value stat")


ClassicParams = Callable[[Account, Account, Stat], dict[str, Any]]


def classic(**extra: Any) -> ClassicParams:
    """A /c request for the ``hits`` counter, changed by ``extra``; "OUTSIDER" is their ukey."""

    def params(owner: Account, outsider: Account, stat: Stat) -> dict[str, Any]:
        base = {"ukey": owner.ukey, "key": stat.classic_key, "count": "1", "t": recent_minute()}
        base.update(extra)
        if base.get("ukey") == "OUTSIDER":
            base["ukey"] = outsider.ukey
        return {k: v for k, v in base.items() if v is not None}

    return params


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        pytest.param(classic(key="no-such-key"), 403, "invalid keys", id="unknown-key"),
        pytest.param(classic(ukey="wrong-ukey"), 403, "invalid keys", id="wrong-ukey"),
        pytest.param(classic(ukey="OUTSIDER"), 403, "invalid keys", id="another-users-ukey"),
        pytest.param(classic(ukey=None), 400, "no ukey specified", id="no-ukey"),
        pytest.param(classic(key=None), 400, "no key specified", id="no-key"),
        pytest.param(classic(count=None), 400, "no count specified", id="no-count"),
        pytest.param(classic(count=None, value="1"), 400, "no count specified", id="value-only"),
        pytest.param(classic(count="inf"), 400, "count must be", id="count-inf"),
        pytest.param(classic(t="1"), 400, "too far in the past", id="ancient-t"),
    ],
)
def test_refused_classic_request_writes_nothing(
    servers: Servers,
    owner: Account,
    outsider: Account,
    counter: Stat,
    method: str,
    params: ClassicParams,
    status: int,
    says: str,
) -> None:
    api, _web = servers
    sent = params(owner, outsider, counter)
    if method == "GET":
        answer = httpx.get(f"{api.url}/c", params=sent)
    else:
        answer = httpx.post(f"{api.url}/c", data=sent)
    msg = assert_error(answer, status, says)
    if status == 403:
        assert msg.startswith("invalid keys")


def test_classic_value_with_a_counter_key_of_another_user_is_refused(
    servers: Servers, engine: Engine, owner: Account, outsider: Account
) -> None:
    api, web = servers
    theirs = make_stat(engine, outsider, "their temp", "value")
    answer = httpx.get(
        f"{api.url}/v", params={"ukey": owner.ukey, "key": theirs.classic_key, "value": 1}
    )
    assert answer.status_code == 403
    assert answer.json()["msg"].startswith("invalid keys")
    assert points(web, outsider, "their temp", recent_minute()) == {}


def test_batch_with_one_bad_point_writes_none_of_it(
    servers: Servers, owner: Account, counter: Stat
) -> None:
    api, web = servers
    t = recent_minute()
    data = [
        {"stat": "hits", "count": 1, "t": t},
        {"stat": "new counter", "count": 1, "t": t},
        {"stat": "new bad", "count": "nan", "t": t},
        {"stat": "new value", "value": 2, "t": t},
        {"stat": "hits", "count": 2, "t": t},
    ]
    answer = httpx.post(f"{api.url}/ez", json={"ezkey": owner.ezkey, "data": data})
    assert_error(answer, 400, "data[2]")
    assert stat_names(web, owner) == ["hits"]


def test_batch_with_a_point_of_the_wrong_kind_creates_no_stats(
    servers: Servers, owner: Account, counter: Stat
) -> None:
    api, web = servers
    t = recent_minute()
    data = [{"stat": "brand new", "count": 1, "t": t}, {"stat": "hits", "value": 1, "t": t}]
    answer = httpx.post(f"{api.url}/ez", json={"ezkey": owner.ezkey, "data": data})
    assert_error(answer, 400, "'hits' is a counter: send count")
    assert stat_names(web, owner) == ["hits"]


def test_batch_with_a_point_of_the_wrong_kind_for_an_unposted_stat_creates_no_stats(
    servers: Servers, engine: Engine, owner: Account
) -> None:
    api, web = servers
    make_stat(engine, owner, "never posted", "value")
    t = recent_minute()
    data = [{"stat": "brand new", "value": 1, "t": t}, {"stat": "never posted", "count": 1, "t": t}]
    answer = httpx.post(f"{api.url}/ez", json={"ezkey": owner.ezkey, "data": data})
    assert_error(answer, 400, "'never posted' is a value stat: send value")
    assert stat_names(web, owner) == ["never posted"]
    assert points(web, owner, "never posted", t) == {}


def test_batch_mixing_kinds_for_one_new_name_creates_nothing(
    servers: Servers, owner: Account
) -> None:
    api, web = servers
    t = recent_minute()
    data = [{"stat": "mixed", "count": 1, "t": t}, {"stat": "mixed", "value": 1, "t": t}]
    answer = httpx.post(f"{api.url}/ez", json={"ezkey": owner.ezkey, "data": data})
    assert_error(answer, 400, "both counts and values")
    assert stat_names(web, owner) == []


def test_batch_over_the_limit_is_refused_whole(servers: Servers, owner: Account) -> None:
    api, web = servers
    t = recent_minute()
    data = [{"stat": "flood", "count": 1, "t": t}] * 1001
    answer = httpx.post(f"{api.url}/ez", json={"ezkey": owner.ezkey, "data": data})
    assert_error(answer, 413, "limit is 1000")
    assert stat_names(web, owner) == []


@pytest.mark.parametrize(
    ("document", "says"),
    [
        pytest.param(
            {"data": [{"stat": "ghost", "count": 1}]}, "no ezkey specified", id="no-ezkey"
        ),
        pytest.param(
            {"data": {"stat": "ghost", "count": 1}}, '"data" must be a list', id="data-dict"
        ),
        pytest.param({"data": []}, "no points", id="data-empty"),
        pytest.param({"data": ["ghost"]}, "data[0] must be an object", id="item-not-object"),
        pytest.param(
            {"data": [{"stat": 7, "count": 1}]}, "stat must be a string", id="stat-number"
        ),
        pytest.param({"stat": "ghost", "count": True}, "count must be a number", id="count-bool"),
        pytest.param({"stat": "ghost", "count": None}, "no count or value", id="count-null"),
        pytest.param({"stat": "ghost", "value": "nan"}, "value", id="value-nan-string"),
    ],
)
def test_refused_json_request_creates_nothing(
    servers: Servers, owner: Account, document: dict[str, Any], says: str
) -> None:
    api, web = servers
    if says != "no ezkey specified":
        document = {"ezkey": owner.ezkey, **document}
    answer = httpx.post(f"{api.url}/ez", json=document)
    assert_error(answer, 400, says)
    assert stat_names(web, owner) == []


def json_post(api: RunningServer, body: bytes) -> httpx.Response:
    return httpx.post(f"{api.url}/ez", content=body, headers={"content-type": "application/json"})


@pytest.mark.parametrize(
    ("body", "says"),
    [
        pytest.param(
            b'{"ezkey": "EZKEY", "stat": "ghost", "count": 1', "not valid JSON", id="truncated"
        ),
        pytest.param(
            b'{"ezkey": "EZKEY", "stat": "ghost", "count": NaN}', "not valid JSON", id="nan-literal"
        ),
        pytest.param(b'{"ezkey": "EZKEY", "stat": "ghost", "count": 1e999}', "", id="huge-literal"),
        pytest.param(
            b'[{"ezkey": "EZKEY", "stat": "ghost", "count": 1}]', "must be an object", id="array"
        ),
        pytest.param(b'"ezkey"', "must be an object", id="string"),
        pytest.param(b"17", "must be an object", id="number"),
        pytest.param(
            b'{"ezkey": "EZKEY", "stat": "gh\xffost", "count": 1}', "not valid JSON", id="not-utf8"
        ),
    ],
)
def test_malformed_json_body_is_refused(
    servers: Servers, owner: Account, body: bytes, says: str
) -> None:
    api, web = servers
    answer = json_post(api, body.replace(b"EZKEY", owner.ezkey.encode()))
    assert_error(answer, 400, says)
    assert stat_names(web, owner) == []


def test_body_that_is_not_utf8_is_refused(servers: Servers, owner: Account) -> None:
    api, web = servers
    body = f"ezkey={owner.ezkey}&stat=caf\xe9&count=1".encode("latin-1")
    answer = httpx.post(
        f"{api.url}/ez",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_error(answer, 400, "not UTF-8")
    assert stat_names(web, owner) == []


def test_query_string_escaping_latin1_is_refused(servers: Servers, owner: Account) -> None:
    api, web = servers
    answer = httpx.get(f"{api.url}/ez?ezkey={owner.ezkey}&stat=caf%E9&count=1")
    assert_error(answer, 400, "the query string is not UTF-8")
    assert stat_names(web, owner) == []


def test_form_body_escaping_latin1_is_refused(servers: Servers, owner: Account) -> None:
    api, web = servers
    body = f"ezkey={owner.ezkey}&stat=caf%E9&count=1".encode()
    answer = httpx.post(
        f"{api.url}/ez",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_error(answer, 400, "the body is not UTF-8")
    assert stat_names(web, owner) == []


def oversized_body(owner: Account, size: int) -> bytes:
    head = f"ezkey={owner.ezkey}&stat=big&count=1&pad=".encode()
    return head + b"x" * (size - len(head))


def test_oversized_body_with_content_length_is_refused(
    servers: Servers, settings: Any, owner: Account
) -> None:
    api, web = servers
    body = oversized_body(owner, settings.max_body_bytes + 1)
    answer = httpx.post(
        f"{api.url}/ez",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_error(answer, 413, "limit")
    assert stat_names(web, owner) == []


def test_oversized_chunked_body_is_refused(servers: Servers, settings: Any, owner: Account) -> None:
    api, web = servers
    body = oversized_body(owner, settings.max_body_bytes + 1)

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 65536):
            yield body[i : i + 65536]

    answer = httpx.post(
        f"{api.url}/ez",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert "content-length" not in answer.request.headers
    assert_error(answer, 413, "limit")
    assert stat_names(web, owner) == []


def test_body_just_under_the_limit_is_accepted(
    servers: Servers, settings: Any, owner: Account
) -> None:
    api, web = servers
    answer = httpx.post(
        f"{api.url}/ez",
        content=oversized_body(owner, settings.max_body_bytes),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200, answer.text
    assert stat_names(web, owner) == ["big"]


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/ez", "/c", "/v"])
def test_other_methods_are_not_allowed(
    servers: Servers, owner: Account, method: str, path: str
) -> None:
    api, web = servers
    answer = httpx.request(
        method, f"{api.url}{path}", params={"ezkey": owner.ezkey, "stat": "ghost", "count": 1}
    )
    assert_error(answer, 405, "use GET or POST")
    assert stat_names(web, owner) == []


def test_refusals_never_hide_the_stat_of_another_account(
    servers: Servers, owner: Account, outsider: Account
) -> None:
    """An outsider's refused point to a name the owner uses touches only the outsider."""
    api, web = servers
    t = recent_minute()
    assert ez(api, ezkey=owner.ezkey, stat="shared name", count="2", t=t).status_code == 200
    refused = ez(api, ezkey=outsider.ezkey, stat="shared name", count="nan", t=t)
    assert_error(refused, 400, "count")
    assert points(web, owner, "shared name", t) == {t: 2}
    assert stat_info(web, outsider, "shared name") is None


@pytest.mark.parametrize("path", ["/ez/", "/c/", "//ez", "/EZ", "/nowhere"])
def test_an_unknown_path_answers_in_stathats_error_shape(api: RunningServer, path: str) -> None:
    answer = httpx.post(f"{api.url}{path}", data={"ezkey": "x@example.com", "stat": "s",
                                                   "count": "1"})
    assert_error(answer, 404, "the API takes posts at /ez, /c and /v")


def test_a_method_an_api_route_does_not_take_answers_in_stathats_error_shape(
    api: RunningServer,
) -> None:
    assert_error(httpx.delete(f"{api.url}/healthz"), 405, "does not take that method")
