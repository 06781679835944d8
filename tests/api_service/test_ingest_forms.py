"""Every request form StatHat's clients send is recorded, and reads back as sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from aerie.settings import Settings
from api_service.app import create_app
from tests.api_service.conftest import Servers
from tests.api_service.helpers import (
    assert_error,
    ez,
    points,
    recent_minute,
    stat_info,
    stat_names,
    total,
)
from tests.conftest import Account, make_stat
from tests.servers import RunningServer, serve


def test_form_body_post_is_recorded(servers: Servers, owner: Account) -> None:
    api, web = servers
    t = recent_minute()
    answer = ez(api, ezkey=owner.ezkey, stat="signups", count="3", t=str(t))
    assert answer.status_code == 200
    assert points(web, owner, "signups", t) == {t: 3}


def test_get_query_string_is_recorded(servers: Servers, owner: Account) -> None:
    api, web = servers
    t = recent_minute()
    answer = httpx.get(
        f"{api.url}/ez", params={"ezkey": owner.ezkey, "stat": "beacon", "count": 2, "t": t}
    )
    assert answer.status_code == 200
    assert points(web, owner, "beacon", t) == {t: 2}


def test_post_with_parameters_only_in_the_query_string_is_recorded(
    servers: Servers, owner: Account
) -> None:
    api, web = servers
    t = recent_minute()
    answer = httpx.post(
        f"{api.url}/ez", params={"ezkey": owner.ezkey, "stat": "queried", "value": 7.5, "t": t}
    )
    assert answer.status_code == 200
    assert answer.request.content == b""
    assert points(web, owner, "queried", t) == {t: 7.5}


def test_post_merges_query_string_and_body(servers: Servers, owner: Account) -> None:
    api, web = servers
    t = recent_minute()
    answer = httpx.post(
        f"{api.url}/ez",
        params={"ezkey": owner.ezkey},
        data={"stat": "merged", "count": "4", "t": str(t)},
    )
    assert answer.status_code == 200
    assert points(web, owner, "merged", t) == {t: 4}


def test_body_wins_over_query_string(servers: Servers, owner: Account) -> None:
    api, web = servers
    t = recent_minute()
    answer = httpx.post(
        f"{api.url}/ez",
        params={"ezkey": owner.ezkey, "stat": "from query", "count": "1", "t": t},
        data={"stat": "from body", "count": "9"},
    )
    assert answer.status_code == 200
    assert points(web, owner, "from body", t) == {t: 9}
    assert stat_info(web, owner, "from query") is None


def test_a_name_given_twice_takes_its_first_value_as_stathat_did(
    servers: Servers, owner: Account
) -> None:
    """Go's ``FormValue``: the first of a name's values, in the query string and in a body."""
    api, web = servers
    t = recent_minute()
    queried = httpx.post(f"{api.url}/ez?ezkey={owner.ezkey}&stat=twice+in+query"
                         f"&count=1&count=100&t={t}")
    posted = httpx.post(f"{api.url}/ez", content=f"ezkey={owner.ezkey}&stat=twice+in+body"
                        f"&count=2&count=200&t={t}",
                        headers={"content-type": "application/x-www-form-urlencoded"})
    assert queried.status_code == posted.status_code == 200
    assert points(web, owner, "twice in query", t) == {t: 1}
    assert points(web, owner, "twice in body", t) == {t: 2}


def test_json_single_object_is_recorded(servers: Servers, owner: Account) -> None:
    api, web = servers
    t = recent_minute()
    answer = httpx.post(
        f"{api.url}/ez", json={"ezkey": owner.ezkey, "stat": "json one", "value": 0.372, "t": t}
    )
    assert answer.status_code == 200
    assert points(web, owner, "json one", t) == {t: 0.372}


def test_json_batch_records_counts_and_values_of_several_stats(
    servers: Servers, owner: Account
) -> None:
    api, web = servers
    t = recent_minute()
    data = [
        {"stat": "batch hits", "count": 2, "t": t},
        {"stat": "batch load", "value": 1.5, "t": t},
        {"stat": "batch hits", "count": 3, "t": t + 60},
        {"stat": "batch load", "value": 2.5, "t": t},
        {"stat": "batch hits", "count": "1e1", "t": t + 60},
    ]
    answer = httpx.post(f"{api.url}/ez", json={"ezkey": owner.ezkey, "data": data})
    assert answer.status_code == 200
    assert answer.json() == {"status": 200, "msg": "ok", "multiple": 5}
    assert points(web, owner, "batch hits", t) == {t: 2, t + 60: 13}
    assert points(web, owner, "batch load", t) == {t: 2.0}
    assert stat_info(web, owner, "batch hits")["counter"] is True  # type: ignore[index]
    assert stat_info(web, owner, "batch load")["counter"] is False  # type: ignore[index]


def test_json_batch_with_vb_answers_how_many_points_it_took(
    servers: Servers, owner: Account
) -> None:
    api, web = servers
    t = recent_minute()
    data = [{"stat": "vb batch", "count": 1, "t": t + i} for i in range(3)]
    answer = httpx.post(f"{api.url}/ez", json={"ezkey": owner.ezkey, "data": data, "vb": 1})
    assert answer.status_code == 200
    assert answer.json() == {"status": 200, "msg": "ok", "multiple": 3}
    assert total(web, owner, "vb batch", t) == 3


def test_json_batch_of_a_thousand_points_is_recorded(servers: Servers, owner: Account) -> None:
    api, web = servers
    t = recent_minute()
    data = [{"stat": "thousand", "count": 1, "t": t + i % 600} for i in range(1000)]
    answer = httpx.post(f"{api.url}/ez", json={"ezkey": owner.ezkey, "data": data, "vb": 1})
    assert answer.json() == {"status": 200, "msg": "ok", "multiple": 1000}
    assert total(web, owner, "thousand", t) == 1000


def test_unencoded_npm_body_is_recorded(servers: Servers, owner: Account) -> None:
    api, web = servers
    t = recent_minute()
    # The npm library writes the body by string concatenation: raw spaces and '@'.
    body = f"ezkey={owner.ezkey}&stat=my stat&count=1&t={t}"
    assert "@" in body
    answer = httpx.post(
        f"{api.url}/ez",
        content=body.encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200
    assert points(web, owner, "my stat", t) == {t: 1}


def test_unencoded_plus_in_exponent_value_is_recorded(servers: Servers, owner: Account) -> None:
    api, web = servers
    t = recent_minute()
    body = f"ezkey={owner.ezkey}&stat=huge&value=1e+21&t={t}"
    answer = httpx.post(
        f"{api.url}/ez",
        content=body.encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200
    assert points(web, owner, "huge", t) == {t: 1e21}


def test_legacy_email_parameter_is_accepted_as_the_ezkey(servers: Servers, owner: Account) -> None:
    api, web = servers
    t = recent_minute()
    answer = ez(api, email=owner.ezkey, stat="old client", count="5", t=str(t))
    assert answer.status_code == 200
    assert points(web, owner, "old client", t) == {t: 5}


def test_tilde_fan_out_posts_to_every_named_stat(servers: Servers, owner: Account) -> None:
    api, web = servers
    t = recent_minute()
    answer = ez(api, ezkey=owner.ezkey, stat="visits~home,about,blog", count="2", t=str(t))
    assert answer.status_code == 200
    assert stat_names(web, owner) == ["visits about", "visits blog", "visits home"]
    for name in ("visits home", "visits about", "visits blog"):
        assert points(web, owner, name, t) == {t: 2}


def test_tilde_fan_out_works_in_a_json_batch(servers: Servers, owner: Account) -> None:
    api, web = servers
    t = recent_minute()
    data = [
        {"stat": "latency~eu,us", "value": 4, "t": t},
        {"stat": "latency~us", "value": 8, "t": t},
    ]
    answer = httpx.post(f"{api.url}/ez", json={"ezkey": owner.ezkey, "data": data, "vb": 1})
    assert answer.json() == {"status": 200, "msg": "ok", "multiple": 2}
    assert stat_names(web, owner) == ["latency eu", "latency us"]
    assert points(web, owner, "latency eu", t) == {t: 4}
    assert points(web, owner, "latency us", t) == {t: 6}


def test_t_places_each_point_in_its_own_minute(servers: Servers, owner: Account) -> None:
    api, web = servers
    t = recent_minute()
    for offset, count in ((0, 1), (59, 2), (60, 4), (545, 8)):
        assert (
            ez(api, ezkey=owner.ezkey, stat="timed", count=count, t=t + offset).status_code == 200
        )
    assert points(web, owner, "timed", t) == {t: 3, t + 60: 4, t + 540: 8}


def test_point_without_t_is_recorded_at_the_time_of_receipt(
    servers: Servers, owner: Account
) -> None:
    api, web = servers
    start = recent_minute()
    assert ez(api, ezkey=owner.ezkey, stat="now", count="1").status_code == 200
    [(minute, count)] = points(web, owner, "now", start).items()
    assert count == 1
    assert start + 600 <= minute <= start + 660


def test_success_answers_200_with_the_25_byte_ok_by_default(
    servers: Servers, owner: Account
) -> None:
    """Old clients (the Ruby gem's sync mode, the npm module) need a body to read."""
    api, web = servers
    t = recent_minute()
    answer = ez(api, ezkey=owner.ezkey, stat="npm", count="1", t=str(t))
    batch = httpx.post(
        f"{api.url}/ez", json={"ezkey": owner.ezkey, "data": [{"stat": "npm", "count": 2, "t": t}]}
    )
    assert answer.status_code == 200
    assert answer.content == b'{"status":200,"msg":"ok"}'
    assert answer.headers["content-length"] == "25"
    assert batch.status_code == 200
    assert batch.json() == {"status": 200, "msg": "ok", "multiple": 1}
    assert total(web, owner, "npm", t) == 3


@pytest.fixture
def quiet_api(settings: Settings) -> Iterator[RunningServer]:
    """The API with verbose answers turned off: StatHat's post-2017 204."""
    with serve(create_app(settings.model_copy(update={"verbose_answers": False}))) as api:
        yield api


def test_without_verbose_answers_success_is_204_without_a_body(
    quiet_api: RunningServer, web: RunningServer, owner: Account
) -> None:
    t = recent_minute()
    answer = ez(quiet_api, ezkey=owner.ezkey, stat="quiet", count="1", t=str(t))
    assert answer.status_code == 204
    assert answer.content == b""
    assert total(web, owner, "quiet", t) == 1


@pytest.mark.parametrize("vb", ["1", "true"])
def test_vb_asks_for_a_json_answer_when_verbose_answers_are_off(
    quiet_api: RunningServer, web: RunningServer, owner: Account, vb: str
) -> None:
    t = recent_minute()
    answer = ez(quiet_api, ezkey=owner.ezkey, stat="loud", count="1", t=str(t), vb=vb)
    assert answer.status_code == 200
    assert answer.json() == {"status": 200, "msg": "ok"}
    assert total(web, owner, "loud", t) == 1


def test_first_point_fixes_the_kind_of_a_new_ez_stat(servers: Servers, owner: Account) -> None:
    api, web = servers
    t = recent_minute()
    assert ez(api, ezkey=owner.ezkey, stat="made counter", count="1", t=t).status_code == 200
    assert ez(api, ezkey=owner.ezkey, stat="made value", value="1", t=t).status_code == 200
    assert stat_info(web, owner, "made counter")["counter"] is True  # type: ignore[index]
    assert stat_info(web, owner, "made value")["counter"] is False  # type: ignore[index]
    refused = ez(api, ezkey=owner.ezkey, stat="made counter", value="1", t=t)
    assert_error(refused, 400, "counter")
    refused = ez(api, ezkey=owner.ezkey, stat="made value", count="1", t=t)
    assert_error(refused, 400, "value")
    assert points(web, owner, "made counter", t) == {t: 1}
    assert points(web, owner, "made value", t) == {t: 1}


def test_classic_counter_accepts_get_and_post(
    servers: Servers, engine: Engine, owner: Account
) -> None:
    api, web = servers
    stat = make_stat(engine, owner, "classic hits", "counter")
    t = recent_minute()
    keys: dict[str, Any] = {"ukey": owner.ukey, "key": stat.classic_key, "t": t}
    assert httpx.get(f"{api.url}/c", params={**keys, "count": 2}).status_code == 200
    assert httpx.post(f"{api.url}/c", data={**keys, "count": 3}).status_code == 200
    assert httpx.post(f"{api.url}/c", params={**keys, "count": 4}).status_code == 200
    assert points(web, owner, "classic hits", t) == {t: 9}


def test_classic_value_accepts_get_and_post(
    servers: Servers, engine: Engine, owner: Account
) -> None:
    api, web = servers
    stat = make_stat(engine, owner, "classic temp", "value")
    t = recent_minute()
    keys: dict[str, Any] = {"ukey": owner.ukey, "key": stat.classic_key, "t": t}
    assert httpx.get(f"{api.url}/v", params={**keys, "value": 10}).status_code == 200
    assert httpx.post(f"{api.url}/v", data={**keys, "value": 20}).status_code == 200
    answer = httpx.post(f"{api.url}/v", data={**keys, "value": 30, "vb": 1})
    assert answer.json() == {"status": 200, "msg": "ok"}
    assert points(web, owner, "classic temp", t) == {t: 20}


def test_ez_posts_to_a_stat_created_in_the_web_app(
    servers: Servers, engine: Engine, owner: Account
) -> None:
    api, web = servers
    make_stat(engine, owner, "premade", "value")
    t = recent_minute()
    assert ez(api, ezkey=owner.ezkey, stat="premade", value="2", t=t).status_code == 200
    assert points(web, owner, "premade", t) == {t: 2}


def test_counts_in_one_minute_are_summed(servers: Servers, owner: Account) -> None:
    api, web = servers
    t = recent_minute()
    for i, count in enumerate(["37", "0.5", "1e2", "-7.5"]):
        assert ez(api, ezkey=owner.ezkey, stat="summed", count=count, t=t + i).status_code == 200
    assert points(web, owner, "summed", t) == {t: 130}


def test_values_in_one_minute_are_averaged(servers: Servers, owner: Account) -> None:
    api, web = servers
    t = recent_minute()
    for i, value in enumerate(["1", "2", "6", "0.372e1"]):
        assert ez(api, ezkey=owner.ezkey, stat="averaged", value=value, t=t + i).status_code == 200
    assert points(web, owner, "averaged", t) == {t: pytest.approx(12.72 / 4)}


def test_name_of_255_characters_is_accepted(servers: Servers, owner: Account) -> None:
    api, web = servers
    t = recent_minute()
    name = "n" * 254 + "é"
    assert ez(api, ezkey=owner.ezkey, stat=name, count="1", t=t).status_code == 200
    assert points(web, owner, name, t) == {t: 1}


def test_ping_answers_200(api: RunningServer) -> None:
    answer = httpx.get(f"{api.url}/")
    assert answer.status_code == 200


@pytest.mark.parametrize("path", ["/ez", "/c", "/v"])
def test_cors_preflight_is_allowed_from_any_origin(api: RunningServer, path: str) -> None:
    answer = httpx.options(
        f"{api.url}{path}",
        headers={"origin": "https://example.org", "access-control-request-method": "POST"},
    )
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "POST" in answer.headers["access-control-allow-methods"]


def test_answers_carry_cors_headers(api: RunningServer, owner: Account) -> None:
    assert (
        ez(api, ezkey=owner.ezkey, stat="cors", count="1").headers["access-control-allow-origin"]
        == "*"
    )
    assert ez(api, stat="cors", count="1").headers["access-control-allow-origin"] == "*"
